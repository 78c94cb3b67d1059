package nbd_test

// A hand-written NBD client for the protocol tests. It declares the wire
// constants again, from the protocol document, so that a wrong constant
// in the server fails a test instead of agreeing with itself.

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wolke-cloud/wolke/block/nbd"
	"github.com/wolke-cloud/wolke/block/nbd/nbdtest"
)

const (
	wNBDMAGIC  = 0x4e42444d41474943
	wIHAVEOPT  = 0x49484156454F5054
	wRepMagic  = 0x3e889045565a9
	wReqMagic  = 0x25609513
	wSimple    = 0x67446698
	wStructMag = 0x668e33ef

	oExportName = 1
	oAbort      = 2
	oList       = 3
	oStartTLS   = 5
	oInfo       = 6
	oGo         = 7
	oStructured = 8
	oListMeta   = 9
	oSetMeta    = 10

	rAck      = 1
	rServer   = 2
	rInfo     = 3
	rMeta     = 4
	rUnsup    = 1<<31 + 1
	rPolicy   = 1<<31 + 2
	rInvalid  = 1<<31 + 3
	rTLSReqd  = 1<<31 + 5
	rUnknown  = 1<<31 + 6
	rShutdown = 1<<31 + 7
	rTooBig   = 1<<31 + 9

	iExport = 0
	iName   = 1
	iDesc   = 2
	iBlock  = 3

	fHasFlags   = 1 << 0
	fReadOnly   = 1 << 1
	fFlush      = 1 << 2
	fFUA        = 1 << 3
	fTrim       = 1 << 5
	fZeroes     = 1 << 6
	fMultiConn  = 1 << 8
	fCache      = 1 << 10
	fWantCommon = fHasFlags | fFlush | fFUA | fTrim | fZeroes | fCache

	cRead   = 0
	cWrite  = 1
	cDisc   = 2
	cFlush  = 3
	cTrim   = 4
	cCache  = 5
	cZeroes = 6
	cStatus = 7
	cResize = 8

	cfFUA    = 1 << 0
	cfNoHole = 1 << 1
	cfDF     = 1 << 2
	cfReqOne = 1 << 3

	stDone        = 1
	stNone        = 0
	stOffsetData  = 1
	stBlockStatus = 5
	stError       = 1<<15 + 1
	stErrorOffset = 1<<15 + 2

	ePERM     = 1
	eIO       = 5
	eINVAL    = 22
	eNOSPC    = 28
	eNOTSUP   = 95
	eSHUTDOWN = 108
)

type rawClient struct {
	t    testing.TB
	conn net.Conn
	r    *bufio.Reader
	w    *bufio.Writer
	wmu  sync.Mutex
}

func dialRaw(t testing.TB, addr string) *rawClient {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	t.Cleanup(func() { c.Close() })
	return &rawClient{t: t, conn: c, r: bufio.NewReader(c), w: bufio.NewWriter(c)}
}

func (c *rawClient) readN(n int) []byte {
	c.t.Helper()
	p := make([]byte, n)
	if _, err := io.ReadFull(c.r, p); err != nil {
		c.t.Fatalf("read %d bytes: %v", n, err)
	}
	return p
}

func (c *rawClient) write(parts ...[]byte) {
	c.t.Helper()
	c.wmu.Lock()
	defer c.wmu.Unlock()
	for _, p := range parts {
		if _, err := c.w.Write(p); err != nil {
			c.t.Fatalf("write: %v", err)
		}
	}
	if err := c.w.Flush(); err != nil {
		c.t.Fatalf("flush: %v", err)
	}
}

// greet reads the server greeting and returns the handshake flags.
func (c *rawClient) greet() uint16 {
	c.t.Helper()
	p := c.readN(18)
	if binary.BigEndian.Uint64(p) != wNBDMAGIC || binary.BigEndian.Uint64(p[8:]) != wIHAVEOPT {
		c.t.Fatalf("bad greeting %x", p)
	}
	return binary.BigEndian.Uint16(p[16:])
}

// start greets and answers with fixed newstyle and no zeroes.
func (c *rawClient) start() {
	c.t.Helper()
	if f := c.greet(); f != 3 {
		c.t.Fatalf("handshake flags %#x, want FIXED_NEWSTYLE|NO_ZEROES", f)
	}
	c.write(be32(3))
}

func be16(v uint16) []byte { return binary.BigEndian.AppendUint16(nil, v) }
func be32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }
func be64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

func cat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func (c *rawClient) sendOpt(opt uint32, data []byte) {
	c.t.Helper()
	c.write(be64(wIHAVEOPT), be32(opt), be32(uint32(len(data))), data)
}

type optReply struct {
	opt, typ uint32
	data     []byte
}

func (c *rawClient) optReply() optReply {
	c.t.Helper()
	h := c.readN(20)
	if m := binary.BigEndian.Uint64(h); m != wRepMagic {
		c.t.Fatalf("option reply magic %#x", m)
	}
	r := optReply{opt: binary.BigEndian.Uint32(h[8:]), typ: binary.BigEndian.Uint32(h[12:])}
	r.data = c.readN(int(binary.BigEndian.Uint32(h[16:])))
	return r
}

// replies reads option replies up to the final one (ACK or an error).
func (c *rawClient) replies() []optReply {
	c.t.Helper()
	var out []optReply
	for {
		r := c.optReply()
		out = append(out, r)
		if r.typ == rAck || r.typ&(1<<31) != 0 {
			return out
		}
	}
}

func infoData(name string, reqs ...uint16) []byte {
	p := cat(be32(uint32(len(name))), []byte(name), be16(uint16(len(reqs))))
	for _, r := range reqs {
		p = append(p, be16(r)...)
	}
	return p
}

func metaData(name string, queries ...string) []byte {
	p := cat(be32(uint32(len(name))), []byte(name), be32(uint32(len(queries))))
	for _, q := range queries {
		p = append(p, cat(be32(uint32(len(q))), []byte(q))...)
	}
	return p
}

// goExport sends NBD_OPT_GO and returns the export size and flags; it
// fails the test unless the server accepts.
func (c *rawClient) goExport(name string) (uint64, uint16) {
	c.t.Helper()
	c.sendOpt(oGo, infoData(name, iBlock))
	var size uint64
	var flags uint16
	for _, r := range c.replies() {
		switch {
		case r.typ == rInfo && binary.BigEndian.Uint16(r.data) == iExport:
			size, flags = binary.BigEndian.Uint64(r.data[2:]), binary.BigEndian.Uint16(r.data[10:])
		case r.typ&(1<<31) != 0:
			c.t.Fatalf("NBD_OPT_GO %q: reply %#x %q", name, r.typ, r.data)
		}
	}
	return size, flags
}

func (c *rawClient) request(flags, typ uint16, cookie, off uint64, length uint32, payload []byte) {
	c.t.Helper()
	c.write(be32(wReqMagic), be16(flags), be16(typ), be64(cookie), be64(off), be32(length), payload)
}

// simple reads a simple reply; data is read when errno is 0 and dataLen > 0.
func (c *rawClient) simple(dataLen int) (errno uint32, cookie uint64, data []byte) {
	c.t.Helper()
	h := c.readN(16)
	if m := binary.BigEndian.Uint32(h); m != wSimple {
		c.t.Fatalf("reply magic %#x, want simple", m)
	}
	errno, cookie = binary.BigEndian.Uint32(h[4:]), binary.BigEndian.Uint64(h[8:])
	if errno == 0 && dataLen > 0 {
		data = c.readN(dataLen)
	}
	return errno, cookie, data
}

type chunk struct {
	flags, typ uint16
	cookie     uint64
	payload    []byte
}

func (c *rawClient) chunk() chunk {
	c.t.Helper()
	h := c.readN(20)
	if m := binary.BigEndian.Uint32(h); m != wStructMag {
		c.t.Fatalf("reply magic %#x, want structured", m)
	}
	k := chunk{flags: binary.BigEndian.Uint16(h[4:]), typ: binary.BigEndian.Uint16(h[6:]),
		cookie: binary.BigEndian.Uint64(h[8:])}
	k.payload = c.readN(int(binary.BigEndian.Uint32(h[16:])))
	return k
}

// expectClosed checks that the server closes the connection.
func (c *rawClient) expectClosed() {
	c.t.Helper()
	_ = c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	var b [1]byte
	n, err := io.ReadFull(c.r, b[:])
	if err == nil || n != 0 {
		c.t.Fatalf("connection still open")
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		c.t.Fatalf("server did not close the connection")
	}
}

// ---- server harness ----

type harness struct {
	addr    string
	srv     *nbd.Server
	reg     *prometheus.Registry
	exports *nbdtest.Exports
	logs    *logBuffer
	cancel  context.CancelFunc
	done    chan error
}

func startServer(t testing.TB, cfg nbd.Config, exports *nbdtest.Exports) *harness {
	t.Helper()
	h := serve(t, cfg, exports)
	h.exports = exports
	return h
}

// serve starts a server on any nbd.Exports.
func serve(t testing.TB, cfg nbd.Config, exports nbd.Exports) *harness {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{reg: prometheus.NewRegistry(), logs: &logBuffer{}, done: make(chan error, 1)}
	h.srv, err = nbd.New(cfg, nbd.Deps{
		Exports:  exports,
		Logger:   slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Registry: h.reg,
	})
	if err != nil {
		t.Fatal(err)
	}
	h.addr = ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	go func() { h.done <- h.srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		h.srv.Close()
		if t.Failed() {
			t.Logf("server log:\n%s", h.logs)
		}
		select {
		case err := <-h.done:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("Serve did not return")
		}
	})
	return h
}

// stop cancels Serve and waits until the listener refuses connections.
func (h *harness) stop(t testing.TB) {
	t.Helper()
	h.cancel()
	for range 500 {
		c, err := net.Dial("tcp", h.addr)
		if err != nil {
			return
		}
		c.Close()
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatal("listener still accepts after stop")
}

func (h *harness) counter(t testing.TB, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := h.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		var sum float64
	metrics:
		for _, m := range mf.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				found := false
				for _, lp := range m.GetLabel() {
					if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
						found = true
					}
				}
				if !found {
					continue metrics
				}
			}
			switch {
			case m.Counter != nil:
				sum += m.GetCounter().GetValue()
			case m.Gauge != nil:
				sum += m.GetGauge().GetValue()
			}
		}
		return sum
	}
	return 0
}

// eventually polls cond for up to 5 s.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for range 500 {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

type logBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// tlsClient upgrades the raw client after an ACKed STARTTLS.
func (c *rawClient) upgrade(cfg *tls.Config) {
	c.t.Helper()
	tc := tls.Client(c.conn, cfg)
	if err := tc.Handshake(); err != nil {
		c.t.Fatalf("TLS handshake: %v", err)
	}
	c.conn, c.r, c.w = tc, bufio.NewReader(tc), bufio.NewWriter(tc)
}
