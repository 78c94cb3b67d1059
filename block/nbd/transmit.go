package nbd

import (
	"context"
	"encoding/binary"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wolke-cloud/wolke/internal/errs"
)

// session is the transmission phase of one connection.
type session struct {
	c          *conn
	exp        Export
	info       ExportInfo
	size       int64
	minB, maxB uint32
	readOnly   bool
	structured bool
	metaOn     bool

	wmu     sync.Mutex   // serializes reply frames
	sending atomic.Int32 // senders waiting for or holding wmu
	broken  atomic.Bool
	sem     chan struct{} // bounds the requests running at once
	budget  *budget       // bounds the READ/WRITE buffer bytes held at once
	wg      sync.WaitGroup
	work    chan job // to idle workers
	out     []byte   // reply bytes not yet written; under wmu

	// The reader's state: only the goroutine reading requests, which
	// holds rmu, touches it (see read and runInline).
	rmu        sync.Mutex
	workers    int  // workers started
	pipelined  bool // the client sent a request while a READ ran inline
	handoff    *time.Timer
	readerDone chan struct{} // closed by a reader that took over, at the end
}

func (c *conn) newSession(exp Export, info ExportInfo, name string) *session {
	minB, _, maxB := c.s.blockSizes(info)
	if info.Name == "" {
		info.Name = name
	}
	return &session{
		c:          c,
		exp:        exp,
		info:       info,
		size:       exp.Size(),
		minB:       minB,
		maxB:       maxB,
		readOnly:   c.s.cfg.ReadOnly || info.ReadOnly,
		structured: c.structured,
		metaOn:     c.metaOn && c.metaExport == name,
		sem:        make(chan struct{}, c.s.cfg.Workers),
		budget:     newBudget(c.s.cfg.MaxBufferBytes),
		work:       make(chan job),
		out:        make([]byte, 0, outBufSize),
	}
}

type request struct {
	flags  uint16
	typ    uint16
	cookie uint64
	off    uint64
	length uint32
}

// job is one validated request handed to a worker.
type job struct {
	req     request
	payload *[]byte // WRITE data, from the server's buffer pool
	cost    int64   // budget bytes held until the reply is sent
}

// run reads requests until NBD_CMD_DISC, an error or the end of a
// shutdown grace, then finishes the requests in flight and closes.
// Requests run on up to Config.Workers long-lived workers: a request is
// handed to an idle worker, or a new one while there are fewer than
// Workers (a goroutine per request would grow its stack every time). A
// READ may run on the reader itself (see readInline).
func (ss *session) run(ctx context.Context) {
	c := ss.c
	defer func() {
		close(ss.work)
		ss.wg.Wait()
		ss.flushOut()
		if err := ss.exp.Close(); err != nil {
			c.log.Warn("nbd export close failed", "export", ss.info.Name, "error", err)
		}
		if c.tls {
			_ = c.nc.Close() // sends close_notify
		}
	}()
	ss.readerDone = make(chan struct{})
	ss.handoff = time.AfterFunc(time.Hour, func() {
		ss.rmu.Lock()
		if ss.read(ctx) {
			close(ss.readerDone)
		}
	})
	ss.handoff.Stop()
	ss.rmu.Lock()
	if !ss.read(ctx) {
		<-ss.readerDone // another goroutine took over reading
	}
}

// read reads and runs requests until the connection's end (true), or
// until a READ it runs inline took so long that another goroutine took
// over reading (false). The caller holds rmu: it is the reader. At the
// end it keeps rmu, as no one reads any more.
func (ss *session) read(ctx context.Context) bool {
	c := ss.c
	var h [requestSize]byte
	quick, _ := ss.exp.(quickWriter)
	for {
		if c.br.Buffered() < requestSize {
			// About to wait for the client: replies of quick writes go
			// out first.
			ss.flushOut()
		}
		if err := c.readFull(h[:]); err != nil {
			if !ss.broken.Load() {
				c.log.Info("nbd connection ended without NBD_CMD_DISC", "error", err)
			}
			return true
		}
		if m := binary.BigEndian.Uint32(h[0:]); m != magicRequest {
			c.log.Warn("nbd bad request magic; disconnecting", "magic", m)
			return true
		}
		req := request{
			flags:  binary.BigEndian.Uint16(h[4:]),
			typ:    binary.BigEndian.Uint16(h[6:]),
			cookie: binary.BigEndian.Uint64(h[8:]),
			off:    binary.BigEndian.Uint64(h[16:]),
			length: binary.BigEndian.Uint32(h[24:]),
		}
		c.s.m.request(req.typ)
		if req.typ == cmdDisc {
			c.log.Debug("nbd client disconnected")
			return true
		}
		j := job{req: req}
		if req.typ == cmdWrite || req.typ == cmdRead {
			j.cost = int64(min(req.length, ss.maxB))
		}
		if req.typ == cmdWrite {
			if req.length > ss.maxB {
				// Stay in step with the stream: drop the payload.
				if err := c.discard(int64(req.length)); err != nil {
					return true
				}
				ss.replyError(req, errnoEINVAL, "write larger than the maximum block size")
				continue
			}
			ss.budget.acquire(j.cost)
			j.payload = c.s.pool.Get(int(req.length))
			if err := c.readFull(*j.payload); err != nil {
				c.s.pool.Put(j.payload)
				ss.budget.release(j.cost)
				c.log.Info("nbd connection ended inside a write", "error", err)
				return true
			}
		}
		e, msg := ss.check(req)
		if c.shuttingDown() {
			e, msg = errnoESHUTDOWN, "server is shutting down"
		}
		if e != errnoOK {
			if req.typ == cmdWrite {
				c.s.pool.Put(j.payload)
				ss.budget.release(j.cost)
			}
			ss.replyError(req, e, msg)
			continue
		}
		if quick != nil && req.typ == cmdWrite && req.flags&cflagFUA == 0 && req.length > 0 &&
			quick.TryWriteAt(*j.payload, int64(req.off)) {
			c.s.m.bytesWrite.Add(float64(req.length))
			c.s.pool.Put(j.payload)
			ss.budget.release(j.cost)
			ss.replyQueued(req.cookie)
			continue
		}
		if req.typ == cmdRead {
			ss.budget.acquire(j.cost)
			if ss.readInline() {
				if !ss.runInline(ctx, j) {
					return false
				}
				continue
			}
		}
		ss.sem <- struct{}{}
		ss.wg.Add(1)
		c.s.m.inflight.Inc()
		ss.dispatch(ctx, j)
	}
}

// dispatch hands j to an idle worker, or starts one. At Workers workers
// it waits for one: the caller holds a slot of sem, so at most Workers-1
// of them are busy and one is, or soon will be, idle.
func (ss *session) dispatch(ctx context.Context, j job) {
	select {
	case ss.work <- j:
		return
	default:
	}
	if ss.workers < cap(ss.sem) {
		ss.workers++
		go ss.worker(ctx, j)
		return
	}
	ss.work <- j
}

// worker runs j, then every job it receives until the session ends.
func (ss *session) worker(ctx context.Context, j job) {
	for ok := true; ok; j, ok = <-ss.work {
		ss.do(ctx, j.req, j.payload, nil)
		ss.c.s.pool.Put(j.payload)
		ss.c.s.m.inflight.Dec()
		<-ss.sem
		ss.budget.release(j.cost)
		ss.wg.Done()
	}
}

// allowedFlags lists the command flags each command accepts. FUA is valid
// on every command once negotiated.
func allowedFlags(typ uint16) uint16 {
	switch typ {
	case cmdWriteZeroes:
		return cflagFUA | cflagNoHole
	case cmdBlockStatus:
		return cflagFUA | cflagReqOne
	default:
		return cflagFUA
	}
}

// check validates a request before it runs; it returns the errno to
// answer with, or errnoOK.
func (ss *session) check(r request) (uint32, string) {
	switch r.typ {
	case cmdRead, cmdWrite, cmdFlush, cmdTrim, cmdCache, cmdWriteZeroes, cmdBlockStatus:
	case cmdResize:
		return errnoENOTSUP, "resize is not supported"
	default:
		return errnoEINVAL, "unknown command"
	}
	if r.flags&^allowedFlags(r.typ) != 0 {
		return errnoEINVAL, "command flag not valid for this command"
	}
	writes := r.typ == cmdWrite || r.typ == cmdTrim || r.typ == cmdWriteZeroes
	if writes && ss.readOnly {
		return errnoEPERM, "export is read-only"
	}
	if r.typ == cmdFlush {
		return errnoOK, ""
	}
	if r.typ == cmdBlockStatus && !ss.metaOn {
		return errnoEINVAL, "no metadata context negotiated"
	}
	if r.off > uint64(ss.size) || uint64(r.length) > uint64(ss.size)-r.off {
		if r.typ == cmdWrite || r.typ == cmdWriteZeroes {
			return errnoENOSPC, "write past the end of the export"
		}
		return errnoEINVAL, "request past the end of the export"
	}
	mb := uint64(ss.minB)
	if r.off%mb != 0 || (r.typ != cmdBlockStatus && uint64(r.length)%mb != 0) {
		return errnoEINVAL, "request not aligned to the minimum block size"
	}
	if r.typ == cmdBlockStatus && r.length == 0 {
		return errnoEINVAL, "empty block status request"
	}
	switch r.typ {
	case cmdRead, cmdWrite, cmdCache, cmdWriteZeroes:
		if r.length > ss.maxB {
			return errnoEINVAL, "request larger than the maximum block size"
		}
	}
	return errnoOK, ""
}

// quickWriter is an optional Export method for writes it can take at
// once, without waiting on anything (a write cache with room for them).
// The session runs those on the connection's reader rather than hand them
// to a worker, and answers a run of them in one socket write: at queue
// depth 1 the hand-off is a good part of a cached write's latency, and at
// depth 32 the workers' wake-ups a good part of its CPU.
type quickWriter interface {
	// TryWriteAt is WriteAt without FUA if the export can do it without
	// blocking; false means it did nothing (WriteAt then follows).
	TryWriteAt(p []byte, off int64) bool
}

// cacher is an optional Export method for NBD_CMD_CACHE (prefetch).
type cacher interface {
	Cache(ctx context.Context, off, n int64) error
}

// do runs one validated request and sends its reply. A READ calls
// ready, if not nil, once its data is read, before the reply leaves.
func (ss *session) do(ctx context.Context, r request, payload *[]byte, ready func()) {
	off, n := int64(r.off), int64(r.length)
	fua := r.flags&cflagFUA != 0
	if n == 0 && r.typ != cmdFlush {
		// Nothing to do; exports never see empty ranges.
		if r.typ == cmdRead {
			ss.replyRead(r, nil)
		} else {
			ss.replySimple(r.cookie, errnoOK, nil)
		}
		return
	}
	var err error
	switch r.typ {
	case cmdRead:
		buf := ss.c.s.pool.Get(int(n))
		if err = ss.exp.ReadAt(ctx, *buf, off); err == nil {
			ss.c.s.m.bytesRead.Add(float64(n))
			if ready != nil {
				ready()
			}
			ss.replyRead(r, *buf)
			ss.c.s.pool.Put(buf)
			return
		}
		ss.c.s.pool.Put(buf)
	case cmdWrite:
		if err = ss.exp.WriteAt(ctx, *payload, off, fua); err == nil {
			ss.c.s.m.bytesWrite.Add(float64(n))
		}
	case cmdFlush:
		err = ss.exp.Flush(ctx)
	case cmdTrim:
		if err = ss.exp.Trim(ctx, off, n); err == nil && fua {
			err = ss.exp.Flush(ctx)
		}
	case cmdWriteZeroes:
		if err = ss.exp.Zero(ctx, off, n, r.flags&cflagNoHole != 0); err == nil && fua {
			err = ss.exp.Flush(ctx)
		}
	case cmdCache:
		if ch, ok := ss.exp.(cacher); ok {
			err = ch.Cache(ctx, off, n)
		}
	case cmdBlockStatus:
		var ext []Extent
		if ext, err = ss.exp.BlockStatus(ctx, off, n); err == nil {
			if d := descriptors(ext, n, r.flags&cflagReqOne != 0); len(d) > 0 {
				ss.replyBlockStatus(r, d)
				return
			}
			err = errs.E("nbd.BlockStatus", errs.Internal, "export described no extent")
		}
	}
	if err != nil {
		e := errnoOf(err)
		ss.c.log.Warn("nbd request failed", "command", commandName(r.typ), "offset", off,
			"length", n, "errno", errnoName(e), "error", err)
		ss.replyError(r, e, "")
		return
	}
	ss.replySimple(r.cookie, errnoOK, nil)
}

// descriptors turns extents into base:allocation descriptors covering at
// most n bytes, merging neighbours with equal flags.
func descriptors(ext []Extent, n int64, one bool) []uint32 {
	var d []uint32
	left := n
	for _, e := range ext {
		if left == 0 {
			break
		}
		l := min(e.Length, left)
		if l <= 0 {
			break // a malformed answer ends the list
		}
		var f uint32
		if e.Hole {
			f |= stateHole
		}
		if e.Zero {
			f |= stateZero
		}
		left -= l
		if k := len(d); k > 0 && d[k-1] == f && uint64(d[k-2])+uint64(l) <= 0xffffffff {
			d[k-2] += uint32(l)
			continue
		}
		d = append(d, uint32(l), f)
	}
	if one && len(d) > 2 {
		d = d[:2]
	}
	return d
}
