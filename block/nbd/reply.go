package nbd

import (
	"encoding/binary"
	"net"
)

// Reply bytes are gathered in session.out and written when the last
// sender in line is done, so that replies ready together leave in one
// write; data of at least directData bytes is written from where it is
// (after what is gathered, in one writev on TCP), not copied.
const (
	outBufSize = 64 << 10
	directData = 16 << 10
)

// send writes one reply frame, hdr then data; frames never interleave. A
// failed write closes the connection, which ends the request loop.
// Replies queued behind this one are written with it: the last sender in
// line writes.
func (ss *session) send(hdr, data []byte) {
	ss.sending.Add(1)
	ss.wmu.Lock()
	defer ss.wmu.Unlock()
	last := ss.sending.Add(-1) == 0
	if ss.broken.Load() {
		return
	}
	var err error
	ss.out = append(ss.out, hdr...)
	switch {
	case len(data) >= directData:
		bufs := net.Buffers{ss.out, data}
		_, err = bufs.WriteTo(ss.c.nc)
		ss.out = ss.out[:0]
	default:
		ss.out = append(ss.out, data...)
		if last || len(ss.out) >= outBufSize {
			_, err = ss.c.nc.Write(ss.out)
			ss.out = ss.out[:0]
		}
	}
	if err != nil {
		ss.broken.Store(true)
		ss.c.log.Info("nbd reply failed; closing", "error", err)
		_ = ss.c.raw.Close()
	}
}

// replyQueued adds the success reply of a quick write to the gathered
// replies; it leaves with the next reply sent, or at the latest when the
// reader has no complete request left and flushes.
func (ss *session) replyQueued(cookie uint64) {
	var h [16]byte
	binary.BigEndian.PutUint32(h[0:], magicSimple)
	binary.BigEndian.PutUint64(h[8:], cookie)
	ss.wmu.Lock()
	defer ss.wmu.Unlock()
	if ss.broken.Load() {
		return
	}
	ss.out = append(ss.out, h[:]...)
	if len(ss.out) >= outBufSize {
		ss.writeOutLocked()
	}
}

// flushOut writes the gathered replies, if any.
func (ss *session) flushOut() {
	ss.wmu.Lock()
	defer ss.wmu.Unlock()
	if len(ss.out) > 0 && !ss.broken.Load() {
		ss.writeOutLocked()
	}
}

// writeOutLocked writes ss.out; the caller holds wmu.
func (ss *session) writeOutLocked() {
	_, err := ss.c.nc.Write(ss.out)
	ss.out = ss.out[:0]
	if err != nil {
		ss.broken.Store(true)
		ss.c.log.Info("nbd reply failed; closing", "error", err)
		_ = ss.c.raw.Close()
	}
}

func (ss *session) replySimple(cookie uint64, errno uint32, data []byte) {
	var h [16]byte
	binary.BigEndian.PutUint32(h[0:], magicSimple)
	binary.BigEndian.PutUint32(h[4:], errno)
	binary.BigEndian.PutUint64(h[8:], cookie)
	ss.send(h[:], data)
}

// chunkHeader puts a structured reply chunk header in h[:20].
func chunkHeader(h []byte, cookie uint64, flags, typ uint16, length int) []byte {
	binary.BigEndian.PutUint32(h[0:], magicStructured)
	binary.BigEndian.PutUint16(h[4:], flags)
	binary.BigEndian.PutUint16(h[6:], typ)
	binary.BigEndian.PutUint64(h[8:], cookie)
	binary.BigEndian.PutUint32(h[16:], uint32(length))
	return h[:20]
}

// replyRead sends the data of a successful READ: one OFFSET_DATA chunk
// (the data is complete before it is sent, so the chunk may end the
// reply), or a simple reply without structured replies.
func (ss *session) replyRead(r request, data []byte) {
	if !ss.structured {
		ss.replySimple(r.cookie, errnoOK, data)
		return
	}
	var h [28]byte
	if len(data) == 0 {
		ss.send(chunkHeader(h[:], r.cookie, replyFlagDone, replyNone, 0), nil)
		return
	}
	chunkHeader(h[:], r.cookie, replyFlagDone, replyOffsetData, 8+len(data))
	binary.BigEndian.PutUint64(h[20:], r.off)
	ss.send(h[:], data)
}

// replyError answers a request with an errno: a structured error chunk
// for READ and BLOCK_STATUS once structured replies are on (ERROR_OFFSET
// when the backend failed, ERROR when the request was refused), a simple
// reply otherwise.
func (ss *session) replyError(r request, errno uint32, msg string) {
	ss.c.s.m.errors.WithLabelValues(errnoName(errno)).Inc()
	if !ss.structured || (r.typ != cmdRead && r.typ != cmdBlockStatus) {
		ss.replySimple(r.cookie, errno, nil)
		return
	}
	if len(msg) > 1024 {
		msg = msg[:1024]
	}
	typ, extra := replyError, 0
	if msg == "" {
		typ, extra, msg = replyErrorOffset, 8, "request failed"
	}
	h := chunkHeader(make([]byte, 20, 34+len(msg)), r.cookie, replyFlagDone, typ, 6+len(msg)+extra)
	h = binary.BigEndian.AppendUint32(h, errno)
	h = binary.BigEndian.AppendUint16(h, uint16(len(msg)))
	h = append(h, msg...)
	if extra > 0 {
		h = binary.BigEndian.AppendUint64(h, r.off)
	}
	ss.send(h, nil)
}

// replyBlockStatus sends the base:allocation descriptors d (length,
// flags pairs) as the one chunk of the reply.
func (ss *session) replyBlockStatus(r request, d []uint32) {
	h := chunkHeader(make([]byte, 20, 24+4*len(d)), r.cookie, replyFlagDone, replyBlockStatus, 4+4*len(d))
	h = binary.BigEndian.AppendUint32(h, metaAllocID)
	for _, v := range d {
		h = binary.BigEndian.AppendUint32(h, v)
	}
	ss.send(h, nil)
}
