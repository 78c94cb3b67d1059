package chunkclient

import (
	"context"
	"encoding/binary"
	"io"

	"github.com/wolke-cloud/wolke/chunk/internal/wire"
	"github.com/wolke-cloud/wolke/internal/errs"
)

// LocalServer is a chunk server running in the client's own process
// (*chunk.Server): stream requests to its address are handed to it as
// they are, without a socket, a connection's goroutines or copies through
// the kernel (like HDFS's short-circuit local reads).
type LocalServer interface {
	// ServeLocal runs one request frame as the server's stream would and
	// returns the answer frame in pieces (length, status, id and body,
	// the body possibly continued in further pieces). It keeps no
	// reference to f.Body once it returns; the answer is the caller's.
	ServeLocal(ctx context.Context, f wire.Frame) [][]byte
}

// localReader is what a LocalServer may offer for reads of whole blocks
// straight into the caller's buffer (chunk.Server.ReadLocalInto).
type localReader interface {
	ReadLocalInto(ctx context.Context, diskID, chunk string, off int64, p []byte) (uint64, error)
}

// localPatcher is what a LocalServer may offer for patches without a
// request frame (chunk.Server.PatchLocal).
type localPatcher interface {
	PatchLocal(ctx context.Context, diskID, chunk string, offs []int64, data [][]byte, sums [][]uint32, base uint64, sync bool) (gen, epoch uint64, err error)
}

// localPutter is what a LocalServer may offer for puts without a request
// frame (chunk.Server.PutLocal).
type localPutter interface {
	PutLocal(ctx context.Context, diskID, chunk string, data []byte, sums []uint32) error
}

// localServer returns the server of disk diskID if it runs in this
// process; nil when it does not, or when the ids are bad or the disk does
// not resolve (the usual path reports those).
func (c *Client) localServer(ctx context.Context, diskID, chunk string) LocalServer {
	if !wire.ValidID(diskID) || !wire.ValidID(chunk) {
		return nil
	}
	addr, err := c.resolve(ctx, diskID)
	if err != nil {
		return nil
	}
	return c.local(addr)
}

// patchLocal patches chunk on disk (see PatchShardRanges) when the disk's
// server runs in this process and offers localPatcher, within the
// client's timeout as over the stream; ok false means it did nothing.
func (c *Client) patchLocal(ctx context.Context, op, diskID, chunk string, offs []int64, data [][]byte, sums [][]uint32, base uint64, sync bool) (gen, epoch uint64, err error, ok bool) {
	if c.local == nil {
		return 0, 0, nil, false
	}
	if err := ctx.Err(); err != nil {
		return 0, 0, errs.E(op, errs.Canceled, err), true
	}
	lp, isPatcher := c.localServer(ctx, diskID, chunk).(localPatcher)
	if !isPatcher {
		return 0, 0, nil, false
	}
	c.localCalls.Add(1)
	rctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	gen, epoch, err = lp.PatchLocal(rctx, diskID, chunk, offs, data, sums, base, sync)
	switch {
	case err == nil:
		return gen, epoch, nil, true
	case rctx.Err() != nil: // as a stream given up on
		return 0, 0, c.transportErr(ctx, op, rctx.Err()), true
	}
	return 0, 0, errs.E(op, errs.KindOf(err), "disk "+diskID, err), true
}

// putLocal stores data as chunk on disk (see WriteShard) when the disk's
// server runs in this process and offers localPutter, within the
// client's timeout as over the stream; ok false means it did nothing.
func (c *Client) putLocal(ctx context.Context, op, diskID, chunk string, data []byte, sums []uint32) (err error, ok bool) {
	if c.local == nil {
		return nil, false
	}
	if err := ctx.Err(); err != nil {
		return errs.E(op, errs.Canceled, err), true
	}
	lp, isPutter := c.localServer(ctx, diskID, chunk).(localPutter)
	if !isPutter {
		return nil, false
	}
	c.localCalls.Add(1)
	rctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	err = lp.PutLocal(rctx, diskID, chunk, data, sums)
	switch {
	case err == nil:
		return nil, true
	case rctx.Err() != nil: // as a stream given up on
		return c.transportErr(ctx, op, rctx.Err()), true
	}
	return errs.E(op, errs.KindOf(err), "disk "+diskID, err), true
}

// readLocalInto reads [off, off+len(p)) of chunk on disk into p when the
// disk's server runs in this process and offers localReader and the range
// is whole blocks; ok false means it did nothing.
func (c *Client) readLocalInto(ctx context.Context, op, diskID, chunk string, off int64, p []byte) (gen uint64, err error, ok bool) {
	const block = 4096
	if c.local == nil || len(p) == 0 || off%block != 0 || len(p)%block != 0 {
		return 0, nil, false
	}
	if err := ctx.Err(); err != nil {
		return 0, errs.E(op, errs.Canceled, err), true
	}
	lr, isReader := c.localServer(ctx, diskID, chunk).(localReader)
	if !isReader {
		return 0, nil, false
	}
	c.localCalls.Add(1)
	if gen, err = lr.ReadLocalInto(ctx, diskID, chunk, off, p); err != nil {
		return 0, errs.E(op, errs.KindOf(err), "disk "+diskID, err), true
	}
	return gen, nil, true
}

// minLocalPooled is the smallest request body built in a pooled frame
// (see wire.Bufs): smaller ones are allocated.
const minLocalPooled = 64 << 10

// reply is an answer of a stream call: body, and where a local server
// answered with its data as a piece of its own, data (else nil: the data,
// if any, is at the end of body). release gives pooled bytes back.
type reply struct {
	body    []byte
	data    []byte
	release func()
}

func noRelease() {}

// callLocal is streamCallData's request to the in-process server ls.
// Within the client's timeout, as over the stream; reads, which a server
// runs without waiting on anything but the disk, skip making the timer.
func (c *Client) callLocal(ctx context.Context, ls LocalServer, op, diskID string, code byte, hint int, build func(b []byte) []byte, payload []byte) (reply, error) {
	rctx := ctx
	if code != wire.OpRead {
		var cancel context.CancelFunc
		rctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	status, a, err := c.localCall(rctx, ls, code, hint, build, payload)
	switch {
	case err != nil:
		return reply{}, errs.E(op, errs.KindOf(err), "disk "+diskID, err)
	case status != 0 && rctx.Err() != nil: // as a stream given up on
		return reply{}, c.transportErr(ctx, op, rctx.Err())
	case status != 0:
		return reply{}, errs.E(op, wire.StatusKind(status), "disk "+diskID+": "+string(a.body))
	}
	return a, nil
}

// localCall runs one stream request on the in-process server ls; like
// roundTrip, it returns the answer whatever its status. A payload is
// copied once, after the fields, into a frame body whose end is on a page
// boundary when it is large (whole blocks then reach an O_DIRECT disk
// without another copy, as from the server's own stream reader).
func (c *Client) localCall(ctx context.Context, ls LocalServer, code byte, hint int, build func(b []byte) []byte, payload []byte) (status byte, a reply, err error) {
	c.localCalls.Add(1)
	f := wire.Frame{Op: code}
	releaseReq := noRelease
	if len(payload) == 0 && hint >= minLocalPooled { // data built into the fields (multi-range patches)
		buf, release := c.localBufs.Get(64 + hint)
		f.Body, releaseReq = build(buf[:0]), release
	} else if len(payload) == 0 {
		f.Body = build(make([]byte, 0, 64+hint))
	} else if fields := build(make([]byte, 0, 64+hint)); len(fields)+len(payload) < minLocalPooled {
		f.Body = append(append(make([]byte, 0, len(fields)+len(payload)), fields...), payload...)
	} else {
		var head [wire.FrameHeader]byte
		binary.BigEndian.PutUint32(head[:], uint32(9+len(fields)+len(payload)))
		head[4] = code
		pf, release, err := c.localBufs.ReadFrame(&piecesReader{pieces: [][]byte{head[:], fields, payload}})
		if err != nil { // a frame too large: refused as the server's reader would
			return 0, reply{}, errs.E("chunkclient.stream", errs.Invalid, err)
		}
		f, releaseReq = pf, release
	}
	pieces := ls.ServeLocal(ctx, f)
	releaseReq() // the server refers to the request no more
	if len(pieces) == 0 || len(pieces[0]) < wire.FrameHeader {
		return 0, reply{}, errs.E("chunkclient.stream", errs.Internal, "short local answer")
	}
	a = reply{body: pieces[0][wire.FrameHeader:], release: noRelease}
	switch len(pieces) {
	case 1:
	case 2:
		a.data = pieces[1]
	default:
		var n int
		for _, p := range pieces[1:] {
			n += len(p)
		}
		a.data = make([]byte, 0, n)
		for _, p := range pieces[1:] {
			a.data = append(a.data, p...)
		}
	}
	return pieces[0][4], a, nil
}

// piecesReader reads pieces one after the other.
type piecesReader struct{ pieces [][]byte }

func (r *piecesReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) && len(r.pieces) > 0 {
		k := copy(p[n:], r.pieces[0])
		n += k
		if r.pieces[0] = r.pieces[0][k:]; len(r.pieces[0]) == 0 {
			r.pieces = r.pieces[1:]
		}
	}
	if n == 0 && len(p) > 0 {
		return 0, io.EOF
	}
	return n, nil
}

// LocalCalls is how many stream requests the client handed to in-process
// servers (Options.Local) rather than sending them over a socket.
func (c *Client) LocalCalls() int64 { return c.localCalls.Load() }
