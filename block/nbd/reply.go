package nbd

import "encoding/binary"

// send writes one reply frame made of parts; frames never interleave. A
// failed write closes the connection, which ends the request loop.
// Replies queued behind this one are flushed with it: the last sender in
// line flushes.
func (ss *session) send(parts ...[]byte) {
	ss.sending.Add(1)
	ss.wmu.Lock()
	defer ss.wmu.Unlock()
	last := ss.sending.Add(-1) == 0
	if ss.broken.Load() {
		return
	}
	var err error
	for _, p := range parts {
		if _, err = ss.c.bw.Write(p); err != nil {
			break
		}
	}
	if err == nil && last {
		err = ss.c.bw.Flush()
	}
	if err != nil {
		ss.broken.Store(true)
		ss.c.log.Info("nbd reply failed; closing", "error", err)
		_ = ss.c.raw.Close()
	}
}

func (ss *session) replySimple(cookie uint64, errno uint32, data ...[]byte) {
	var h [16]byte
	binary.BigEndian.PutUint32(h[0:], magicSimple)
	binary.BigEndian.PutUint32(h[4:], errno)
	binary.BigEndian.PutUint64(h[8:], cookie)
	ss.send(append([][]byte{h[:]}, data...)...)
}

// chunkHeader builds a structured reply chunk header.
func chunkHeader(cookie uint64, flags, typ uint16, length int) []byte {
	h := make([]byte, 20)
	binary.BigEndian.PutUint32(h[0:], magicStructured)
	binary.BigEndian.PutUint16(h[4:], flags)
	binary.BigEndian.PutUint16(h[6:], typ)
	binary.BigEndian.PutUint64(h[8:], cookie)
	binary.BigEndian.PutUint32(h[16:], uint32(length))
	return h
}

// replyRead sends the data of a successful READ: one OFFSET_DATA chunk
// (the data is complete before it is sent, so the chunk may end the
// reply), or a simple reply without structured replies.
func (ss *session) replyRead(r request, data []byte) {
	if !ss.structured {
		ss.replySimple(r.cookie, errnoOK, data)
		return
	}
	if len(data) == 0 {
		ss.send(chunkHeader(r.cookie, replyFlagDone, replyNone, 0))
		return
	}
	h := chunkHeader(r.cookie, replyFlagDone, replyOffsetData, 8+len(data))
	h = binary.BigEndian.AppendUint64(h, r.off)
	ss.send(h, data)
}

// replyError answers a request with an errno: a structured error chunk
// for READ and BLOCK_STATUS once structured replies are on (ERROR_OFFSET
// when the backend failed, ERROR when the request was refused), a simple
// reply otherwise.
func (ss *session) replyError(r request, errno uint32, msg string) {
	ss.c.s.m.errors.WithLabelValues(errnoName(errno)).Inc()
	if !ss.structured || (r.typ != cmdRead && r.typ != cmdBlockStatus) {
		ss.replySimple(r.cookie, errno)
		return
	}
	if len(msg) > 1024 {
		msg = msg[:1024]
	}
	typ, extra := replyError, 0
	if msg == "" {
		typ, extra, msg = replyErrorOffset, 8, "request failed"
	}
	h := chunkHeader(r.cookie, replyFlagDone, typ, 6+len(msg)+extra)
	h = binary.BigEndian.AppendUint32(h, errno)
	h = binary.BigEndian.AppendUint16(h, uint16(len(msg)))
	h = append(h, msg...)
	if extra > 0 {
		h = binary.BigEndian.AppendUint64(h, r.off)
	}
	ss.send(h)
}

// replyBlockStatus sends the base:allocation descriptors d (length,
// flags pairs) as the one chunk of the reply.
func (ss *session) replyBlockStatus(r request, d []uint32) {
	h := chunkHeader(r.cookie, replyFlagDone, replyBlockStatus, 4+4*len(d))
	h = binary.BigEndian.AppendUint32(h, metaAllocID)
	for _, v := range d {
		h = binary.BigEndian.AppendUint32(h, v)
	}
	ss.send(h)
}
