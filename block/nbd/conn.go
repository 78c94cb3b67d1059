package nbd

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// conn is one client connection; the handshake state lives here.
type conn struct {
	s      *Server
	raw    net.Conn        // the TCP connection
	rawFD  syscall.RawConn // raw's descriptor, once pending asked
	nc     net.Conn        // raw, or the TLS connection on top of it
	br     *bufio.Reader
	bw     *bufio.Writer
	log    *slog.Logger
	cancel context.CancelFunc
	phase  string // for logs: greeting, options, transmission

	dlMu      sync.Mutex
	phaseDL   time.Time // the deadline the protocol phase wants
	stopRead  time.Time // set once the server stops
	stopWrite time.Time
	stopping  atomic.Bool
	stop      <-chan struct{} // closed when Serve stops, before its listener closes

	// negotiation state
	noZeroes   bool
	tls        bool
	structured bool
	metaOn     bool   // base:allocation selected
	metaExport string // for the export named here
}

func newConn(s *Server, nc net.Conn, cancel context.CancelFunc) *conn {
	return &conn{
		s:      s,
		raw:    nc,
		nc:     nc,
		br:     bufio.NewReaderSize(nc, 64<<10),
		bw:     bufio.NewWriterSize(nc, 64<<10),
		log:    s.log.With("remote", nc.RemoteAddr().String()),
		cancel: cancel,
		phase:  "greeting",
	}
}

// setDeadline sets the phase's deadline for reads and writes (zero: none),
// never later than the shutdown deadlines.
func (c *conn) setDeadline(t time.Time) {
	c.dlMu.Lock()
	defer c.dlMu.Unlock()
	c.phaseDL = t
	c.applyLocked()
}

func (c *conn) applyLocked() {
	earliest := func(a, b time.Time) time.Time {
		if a.IsZero() || (!b.IsZero() && b.Before(a)) {
			return b
		}
		return a
	}
	_ = c.raw.SetReadDeadline(earliest(c.phaseDL, c.stopRead))
	_ = c.raw.SetWriteDeadline(earliest(c.phaseDL, c.stopWrite))
}

// beginStop is called once when the server stops: new requests are
// refused, reading ends after grace, and a client that does not read its
// replies cannot hold the shutdown for more than another grace.
func (c *conn) beginStop(grace time.Duration) {
	c.dlMu.Lock()
	defer c.dlMu.Unlock()
	c.stopping.Store(true)
	c.stopRead = time.Now().Add(grace)
	c.stopWrite = c.stopRead.Add(grace)
	c.applyLocked()
}

// shuttingDown reports whether the server has begun to stop. It looks at
// the Serve's stop channel too, not only at the flag beginStop sets from
// another goroutine, so that a request sent after the listener closed is
// always refused.
func (c *conn) shuttingDown() bool {
	if c.stopping.Load() {
		return true
	}
	select {
	case <-c.stop:
		return true
	default:
		return false
	}
}

// kill closes the connection at once and cancels backend calls: in this
// order, so that no call cut short answers the client first.
func (c *conn) kill() {
	_ = c.raw.Close()
	c.cancel()
}

// pending reports whether the client sent bytes the server has not read
// yet: in the read buffer or, on a socket, in the kernel's. It reports
// false where it cannot tell (a connection that is no socket).
func (c *conn) pending() bool {
	if c.br.Buffered() > 0 {
		return true
	}
	if c.rawFD == nil {
		sc, ok := c.raw.(syscall.Conn)
		if !ok {
			return false
		}
		rc, err := sc.SyscallConn()
		if err != nil {
			return false
		}
		c.rawFD = rc
	}
	n := 0
	_ = c.rawFD.Control(func(fd uintptr) { n, _ = unix.IoctlGetInt(int(fd), unix.SIOCINQ) })
	return n > 0
}

func (c *conn) readFull(p []byte) error {
	_, err := io.ReadFull(c.br, p)
	return err
}

func (c *conn) discard(n int64) error {
	_, err := io.CopyN(io.Discard, c.br, n)
	return err
}

// isDisconnect reports errors meaning the peer went away or time ran out.
func isDisconnect(err error) bool {
	var ne net.Error
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, net.ErrClosed) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, os.ErrDeadlineExceeded) ||
		(errors.As(err, &ne) && ne.Timeout())
}
