package chunk

import (
	"bufio"
	"context"
	"encoding/binary"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/wolke-cloud/wolke/chunk/internal/wire"
	"github.com/wolke-cloud/wolke/internal/errs"
)

// streamWorkers bounds the requests one stream runs at once.
const streamWorkers = 128

// streamBufferBytes bounds the request frame bytes a server holds at once
// over all its streams: a reader waits while they are out.
const streamBufferBytes = 256 << 20

// streams tracks the upgraded connections of a server, to close them when
// it stops, and holds the request frames they read.
type streams struct {
	bufsOnce sync.Once
	bufs     *wire.Bufs

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup

	// local gates the requests handed over in process (local.go): each
	// holds it shared; closeAll takes it to wait for them and refuse more.
	local       sync.RWMutex
	localClosed bool
}

func (t *streams) frames() *wire.Bufs {
	t.bufsOnce.Do(func() { t.bufs = wire.NewBufs(streamBufferBytes) })
	return t.bufs
}

func (t *streams) add(c net.Conn) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return false
	}
	if t.conns == nil {
		t.conns = map[net.Conn]struct{}{}
	}
	t.conns[c] = struct{}{}
	t.wg.Add(1)
	return true
}

func (t *streams) done(c net.Conn) {
	t.mu.Lock()
	delete(t.conns, c)
	t.mu.Unlock()
	t.wg.Done()
}

// closeAll closes every stream and waits for their requests to end.
func (t *streams) closeAll() {
	t.local.Lock()
	t.localClosed = true
	t.local.Unlock()
	t.mu.Lock()
	t.closed = true
	for c := range t.conns {
		_ = c.Close()
	}
	t.mu.Unlock()
	t.wg.Wait()
}

// handleStream upgrades the connection to the stream protocol (see
// package wire): patches, ranged reads and syncs as binary frames,
// pipelined and answered as they finish.
func (s *Server) handleStream(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Upgrade") != wire.StreamProtocol {
		s.writeError(w, r, errs.Errorf("chunk.Stream", errs.Invalid, "Upgrade: %s required", wire.StreamProtocol))
		return
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		s.writeError(w, r, errs.E("chunk.Stream", errs.Internal, "connection cannot be taken over"))
		return
	}
	nc, brw, err := hj.Hijack()
	if err != nil {
		return
	}
	if !s.streams.add(nc) {
		_ = nc.Close()
		return
	}
	defer s.streams.done(nc)
	_ = nc.SetDeadline(time.Time{})
	_, _ = brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: " + wire.StreamProtocol + "\r\n\r\n")
	if err := brw.Flush(); err != nil {
		_ = nc.Close()
		return
	}
	// net/http's reader buffers 4 KiB: small frames arriving together are
	// read with one syscall through a larger one (it holds what net/http
	// had buffered already).
	s.serveStream(context.WithoutCancel(r.Context()), nc, bufio.NewReaderSize(brw.Reader, 256<<10))
}

func (s *Server) serveStream(ctx context.Context, nc net.Conn, rd *bufio.Reader) {
	ctx, cancel := context.WithCancel(ctx)
	out := make(chan [][]byte, streamWorkers)
	wdone := make(chan struct{})
	go func() {
		defer close(wdone)
		streamWriter(nc, out)
	}()
	sem := make(chan struct{}, streamWorkers)
	var wg sync.WaitGroup
	bufs := s.streams.frames()
	for {
		sem <- struct{}{}
		f, release, err := bufs.ReadFrame(rd)
		if err != nil {
			<-sem
			break
		}
		wg.Go(func() {
			defer func() { <-sem }()
			answer := s.streamRequest(ctx, f)
			release() // answers never refer to the request's body
			out <- answer
		})
	}
	cancel()
	_ = nc.Close()
	wg.Wait()
	close(out)
	<-wdone
}

// streamWriter writes answers, as many as are ready in one write.
func streamWriter(nc net.Conn, out <-chan [][]byte) {
	bw := bufio.NewWriterSize(nc, 256<<10)
	broken := false
	write := func(pieces [][]byte) (err error) {
		for _, p := range pieces {
			if _, err = bw.Write(p); err != nil {
				return err
			}
		}
		return nil
	}
	for b := range out {
		if broken {
			continue
		}
		err := write(b)
	more:
		for err == nil {
			select {
			case b, ok := <-out:
				if !ok {
					break more
				}
				err = write(b)
			default:
				break more
			}
		}
		if err == nil {
			err = bw.Flush()
		}
		if err != nil {
			broken = true
			_ = nc.Close()
		}
	}
}

// streamRequest runs one request frame and returns its answer frame, in
// pieces to be written one after the other.
func (s *Server) streamRequest(ctx context.Context, f wire.Frame) [][]byte {
	d := &wire.Dec{B: f.Body}
	var (
		body []byte
		err  error
		ds   *diskState
	)
	disk := func(name string) *diskState {
		if d.Err != nil {
			return nil
		}
		if ds = s.byID[name]; ds == nil {
			err = errs.Errorf("chunk.disk", errs.NotFound, "no disk %s on server %s", name, s.cfg.ID)
		}
		return ds
	}
	switch f.Op {
	case wire.OpPatch:
		flags, base, off, crc := d.U8(), d.U64(), d.I64(), d.U32()
		dn, id := d.Name(), d.Name()
		data := d.Rest()
		if disk(dn) == nil {
			break
		}
		if wire.CRC32C(data) != crc {
			err = errs.Errorf("chunk.Patch", errs.Invalid, "body CRC32C mismatch")
			break
		}
		var gen uint64
		if flags&wire.FlagNoSync != 0 {
			gen, err = ds.st.PatchNoSync(ctx, id, off, data, base)
		} else {
			gen, err = ds.st.Patch(ctx, id, off, data, base)
		}
		s.count(ds, "patch", err)
		if err == nil {
			s.m.writtenBytes.WithLabelValues(ds.info.ID).Add(float64(len(data)))
			body = binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(nil, gen), ds.st.Epoch())
		}
	case wire.OpPatchRanges:
		body, err = s.streamPatchRanges(ctx, d)
	case wire.OpRead:
		off, n := d.I64(), d.I64()
		dn, id := d.Name(), d.Name()
		if disk(dn) == nil {
			break
		}
		if n < 0 {
			err = errs.Errorf("chunk.Get", errs.Invalid, "bad range %d+%d", off, n)
			break
		}
		var (
			data []byte
			gen  uint64
			crc  uint32
		)
		data, gen, crc, err = ds.st.GetRangeCRC(ctx, id, off, n)
		s.count(ds, "get", err)
		if err == nil {
			s.m.readBytes.WithLabelValues(ds.info.ID).Add(float64(len(data)))
			// The data goes out as a second piece: no copy into the frame.
			head := wire.AppendFrame(nil, 0, f.ID, binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint64(nil, gen), crc))
			binary.BigEndian.PutUint32(head, uint32(len(head)-4+len(data)))
			return [][]byte{head, data}
		}
	case wire.OpPut:
		crc := d.U32()
		dn, id := d.Name(), d.Name()
		data := d.Rest()
		if disk(dn) == nil {
			break
		}
		if int64(len(data)) > s.cfg.MaxChunkSize {
			err = errs.Errorf("chunk.Put", errs.Invalid, "chunk of %d bytes exceeds %d", len(data), s.cfg.MaxChunkSize)
			break
		}
		if wire.CRC32C(data) != crc {
			err = errs.Errorf("chunk.Put", errs.Invalid, "body CRC32C mismatch")
			break
		}
		err = ds.st.Put(ctx, id, data)
		s.count(ds, "put", err)
		if err == nil {
			s.m.writtenBytes.WithLabelValues(ds.info.ID).Add(float64(len(data)))
			s.updateUsage(ds)
		}
	case wire.OpSync:
		if disk(d.Name()) == nil {
			break
		}
		err = ds.st.Sync(ctx)
		s.count(ds, "sync", err)
		if err == nil {
			body = binary.BigEndian.AppendUint64(nil, ds.st.Epoch())
		}
	default:
		err = errs.Errorf("chunk.Stream", errs.Invalid, "unknown op %d", f.Op)
	}
	if d.Err != nil {
		err = d.Err
	}
	if err != nil {
		if errs.KindOf(err) == errs.Internal || errs.KindOf(err) == errs.Unavailable {
			s.log.Warn("chunk stream request failed", "op", f.Op, "err", err)
		}
		return [][]byte{wire.AppendFrame(nil, wire.StatusOf(err), f.ID, []byte(err.Error()))}
	}
	return [][]byte{wire.AppendFrame(nil, 0, f.ID, body)}
}
