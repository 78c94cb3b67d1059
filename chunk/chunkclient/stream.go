package chunkclient

import (
	"bufio"
	"context"
	"encoding/binary"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wolke-cloud/wolke/chunk/internal/wire"
	"github.com/wolke-cloud/wolke/internal/errs"
)

// streamsPerServer is how many streams the client keeps to one server.
const streamsPerServer = 4

// maxStreamPut is the largest chunk WriteShard sends over the stream
// rather than as an HTTP PUT (a frame is held whole by both sides).
const maxStreamPut = 4 << 20

// noStreamFor is how long a server that refused the stream upgrade is
// talked to over plain HTTP before the client asks again.
const noStreamFor = time.Minute

// streams keeps a few upgraded connections per server (see wire.StreamPath):
// patches, ranged reads and syncs go over it pipelined, many in flight,
// several written with one syscall.
type streams struct {
	dialTimeout time.Duration
	turn        atomic.Uint64
	bufs        wire.Bufs // answer bodies, pooled (no limit: callers copy out and release at once)

	mu       sync.Mutex
	conns    map[string]*streamConn
	refused  map[string]time.Time
	dialing  map[string]chan struct{}
	dialErrs map[string]error
}

type streamConn struct {
	nc   net.Conn
	bufs *wire.Bufs
	out  chan [][]byte // a frame in pieces: the header and fields, then the payload (not copied)
	dead chan struct{} // closed when the connection broke

	mu      sync.Mutex
	next    uint64
	pending map[uint64]chan answer
	err     error
}

// answer is a frame read for a request and the function giving its body
// back to the pool (see wire.Bufs.ReadFrame).
type answer struct {
	f       wire.Frame
	release func()
}

// errNoStream: the server does not speak the stream protocol; use HTTP.
var errNoStream = errs.E("chunkclient.stream", errs.Other, "no stream")

// conn returns the stream to addr, dialing it if needed.
func (t *streams) conn(ctx context.Context, addr string) (*streamConn, error) {
	// A few connections per server, taken in turn: one large answer does
	// not hold up the others behind it.
	key := addr + "#" + strconv.Itoa(int(t.turn.Add(1)%streamsPerServer))
	for {
		t.mu.Lock()
		if until, ok := t.refused[addr]; ok && time.Now().Before(until) {
			t.mu.Unlock()
			return nil, errNoStream
		}
		if sc := t.conns[key]; sc != nil {
			t.mu.Unlock()
			return sc, nil
		}
		if wait := t.dialing[key]; wait != nil {
			t.mu.Unlock()
			select {
			case <-wait:
				continue
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		wait := make(chan struct{})
		t.dialing[key] = wait
		t.mu.Unlock()

		sc, err := t.dial(ctx, addr)
		t.mu.Lock()
		delete(t.dialing, key)
		close(wait)
		switch {
		case err == nil:
			t.conns[key] = sc
		case err == errNoStream:
			t.refused[addr] = time.Now().Add(noStreamFor)
		}
		t.mu.Unlock()
		if err == nil {
			go t.drop(key, sc)
		}
		return sc, err
	}
}

func (t *streams) dial(ctx context.Context, addr string) (*streamConn, error) {
	d := net.Dialer{Timeout: t.dialTimeout, KeepAlive: 30 * time.Second}
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	_ = nc.SetDeadline(time.Now().Add(t.dialTimeout))
	req := "GET " + wire.StreamPath + " HTTP/1.1\r\nHost: " + addr + "\r\nConnection: Upgrade\r\nUpgrade: " + wire.StreamProtocol + "\r\n\r\n"
	if _, err := nc.Write([]byte(req)); err != nil {
		_ = nc.Close()
		return nil, err
	}
	br := bufio.NewReaderSize(nc, 256<<10)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		_ = nc.Close()
		return nil, err
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		_ = nc.Close()
		return nil, errNoStream
	}
	_ = nc.SetDeadline(time.Time{})
	sc := &streamConn{nc: nc, bufs: &t.bufs, out: make(chan [][]byte, 256), dead: make(chan struct{}), pending: map[uint64]chan answer{}}
	go sc.write()
	go sc.readLoop(br)
	return sc, nil
}

// drop waits for the connection to break and drops it from the pool.
func (t *streams) drop(key string, sc *streamConn) {
	<-sc.dead
	t.mu.Lock()
	if t.conns[key] == sc {
		delete(t.conns, key)
	}
	t.mu.Unlock()
}

func (sc *streamConn) readLoop(br *bufio.Reader) {
	var err error
	for {
		var (
			f       wire.Frame
			release func()
		)
		if f, release, err = sc.bufs.ReadFrame(br); err != nil {
			break
		}
		sc.mu.Lock()
		ch := sc.pending[f.ID]
		delete(sc.pending, f.ID)
		sc.mu.Unlock()
		if ch != nil {
			ch <- answer{f, release}
		} else {
			release()
		}
	}
	sc.mu.Lock()
	sc.err = err
	sc.pending = nil
	sc.mu.Unlock()
	_ = sc.nc.Close()
	close(sc.dead)
}

// write sends queued frames, all that are ready in one write.
func (sc *streamConn) write() {
	bw := bufio.NewWriterSize(sc.nc, 256<<10)
	write := func(pieces [][]byte) (err error) {
		for _, p := range pieces {
			if _, err = bw.Write(p); err != nil {
				return err
			}
		}
		return nil
	}
	for {
		var b [][]byte
		select {
		case b = <-sc.out:
		case <-sc.dead:
			return
		}
		err := write(b)
	more:
		for err == nil {
			select {
			case b = <-sc.out:
				err = write(b)
			default:
				break more
			}
		}
		if err == nil {
			err = bw.Flush()
		}
		if err != nil {
			_ = sc.nc.Close() // the reader fails and closes dead
			return
		}
	}
}

// roundTrip sends a request frame built by build (given the id) and
// followed by payload, and waits for its answer. payload is written
// straight from the caller's slice, possibly after a canceled roundTrip
// returned: requests carry a CRC32C of their payload, so one changed
// meanwhile is refused by the server.
func (sc *streamConn) roundTrip(ctx context.Context, op byte, hint int, build func(b []byte) []byte, payload []byte) (answer, error) {
	ch := make(chan answer, 1)
	sc.mu.Lock()
	if sc.pending == nil {
		err := sc.err
		sc.mu.Unlock()
		return answer{}, errs.E("chunkclient.stream", errs.Unavailable, "stream broken", err)
	}
	sc.next++
	id := sc.next
	sc.pending[id] = ch
	sc.mu.Unlock()
	forget := func() {
		sc.mu.Lock()
		if sc.pending != nil {
			delete(sc.pending, id)
		}
		sc.mu.Unlock()
	}
	frame := build(binary.BigEndian.AppendUint64(append(make([]byte, 4, 128+hint), op), id))
	binary.BigEndian.PutUint32(frame, uint32(len(frame)-4+len(payload)))
	pieces := [][]byte{frame}
	if len(payload) > 0 {
		pieces = append(pieces, payload)
	}
	select {
	case sc.out <- pieces:
	case <-sc.dead:
		forget()
		return answer{}, errs.E("chunkclient.stream", errs.Unavailable, "stream broken")
	case <-ctx.Done():
		forget()
		return answer{}, ctx.Err()
	}
	select {
	case a := <-ch:
		return a, nil
	case <-sc.dead:
		select {
		case a := <-ch:
			return a, nil
		default:
		}
		return answer{}, errs.E("chunkclient.stream", errs.Unavailable, "stream broken")
	case <-ctx.Done():
		forget()
		// An answer that arrived meanwhile goes back to the pool.
		select {
		case a := <-ch:
			a.release()
		default:
		}
		return answer{}, ctx.Err()
	}
}

func (t *streams) closeAll() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for addr, sc := range t.conns {
		_ = sc.nc.Close()
		delete(t.conns, addr)
	}
}

// streamCall runs one request over the stream to diskID's server (hint:
// the bytes build appends beyond the names, to size the frame once;
// payload follows them), or hands it to that server when it runs in this
// process (Options.Local). It returns errNoStream when the client has no
// stream there (a server that refused it, or a client with its own HTTP
// transport): the caller then uses HTTP. The answer's body is valid until
// release is called (release may be skipped: the body is then left to
// the garbage collector).
func (c *Client) streamCall(ctx context.Context, op string, diskID string, code byte, hint int, build func(b []byte) []byte, payload []byte) (f wire.Frame, release func(), err error) {
	a, err := c.streamCallData(ctx, op, diskID, code, hint, build, payload)
	if err != nil {
		return wire.Frame{}, nil, err
	}
	if a.data != nil { // a local answer in two pieces: joined (reads use streamCallData)
		a.body = append(a.body[:len(a.body):len(a.body)], a.data...)
	}
	return wire.Frame{Body: a.body}, a.release, nil
}

// streamCallData is streamCall answering with a reply: a local server's
// data piece (a read's bytes) is not copied behind the answer's fields.
func (c *Client) streamCallData(ctx context.Context, op string, diskID string, code byte, hint int, build func(b []byte) []byte, payload []byte) (reply, error) {
	if c.streams == nil && c.local == nil {
		return reply{}, errNoStream
	}
	if err := ctx.Err(); err != nil {
		return reply{}, errs.E(op, errs.Canceled, err)
	}
	if !wire.ValidID(diskID) {
		return reply{}, errs.Errorf(op, errs.Invalid, "bad disk id %q", diskID)
	}
	addr, err := c.resolve(ctx, diskID)
	if err != nil {
		kind := errs.KindOf(err)
		if kind == errs.Other {
			kind = errs.Unavailable
		}
		return reply{}, errs.E(op, kind, "resolving disk "+diskID, err)
	}
	if c.local != nil {
		if ls := c.local(addr); ls != nil {
			return c.callLocal(ctx, ls, op, diskID, code, hint, build, payload)
		}
	}
	if c.streams == nil {
		return reply{}, errNoStream
	}
	rctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	sc, err := c.streams.conn(rctx, addr)
	if err == errNoStream {
		return reply{}, err
	}
	if err != nil {
		return reply{}, c.transportErr(ctx, op, err)
	}
	a, err := sc.roundTrip(rctx, code, hint, build, payload)
	if err != nil {
		return reply{}, c.transportErr(ctx, op, err)
	}
	if a.f.Op != 0 {
		err := errs.E(op, wire.StatusKind(a.f.Op), "disk "+diskID+": "+string(a.f.Body))
		a.release()
		return reply{}, err
	}
	return reply{body: a.f.Body, release: a.release}, nil
}
