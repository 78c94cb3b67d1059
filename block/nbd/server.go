package nbd

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/wolke-cloud/wolke/internal/errs"
)

// Server serves exports over the NBD protocol (fixed newstyle handshake).
type Server struct {
	cfg     Config
	exports Exports
	log     *slog.Logger
	m       *metrics
	pool    bufPool // READ and WRITE data buffers, shared by all connections

	done      chan struct{} // closed by Close
	closeOnce sync.Once

	mu    sync.Mutex
	conns map[*conn]struct{}
}

// New checks cfg (after SetDefaults) and builds a server.
func New(cfg Config, deps Deps) (*Server, error) {
	const op = "nbd.New"
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if deps.Exports == nil {
		return nil, errs.E(op, errs.Invalid, "Deps.Exports is nil")
	}
	log := deps.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m, err := newMetrics(deps.Registry)
	if err != nil {
		return nil, errs.E(op, errs.Invalid, err)
	}
	return &Server{
		cfg:     cfg,
		exports: deps.Exports,
		log:     log,
		m:       m,
		done:    make(chan struct{}),
		conns:   make(map[*conn]struct{}),
	}, nil
}

// Serve accepts connections on ln until ctx is done or Close is called.
// On ctx done it stops accepting, lets every connection finish its
// in-flight requests (answering new ones with ESHUTDOWN for up to
// Config.ShutdownGrace), closes them and returns nil.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	const op = "nbd.Server.Serve"
	stop := make(chan struct{})
	var stopOnce sync.Once
	halt := func() {
		stopOnce.Do(func() {
			close(stop) // before closing ln: Accept failing means stop is visible
			_ = ln.Close()
		})
	}
	serving := make(chan struct{})
	defer close(serving)
	go func() {
		select {
		case <-ctx.Done():
		case <-s.done:
		case <-serving:
		}
		halt()
	}()

	// Backend calls outlive the Serve context so that in-flight requests
	// finish during a graceful stop; Close cancels them.
	base := context.WithoutCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	var delay time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			select {
			case <-stop:
				return nil
			default:
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				s.log.Warn("nbd accept failed", "error", err, "retry", delay)
				select {
				case <-time.After(delay):
				case <-stop:
					return nil
				}
				continue
			}
			halt()
			return errs.E(op, errs.Unavailable, err)
		}
		delay = 0
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.serveConn(base, stop, nc)
		}()
	}
}

// Close stops every Serve at once: listeners and connections are closed
// and in-flight backend calls are canceled.
func (s *Server) Close() error {
	s.closeOnce.Do(func() { close(s.done) })
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		c.kill()
	}
	return nil
}

func (s *Server) track(c *conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.done:
		return false
	default:
	}
	s.conns[c] = struct{}{}
	return true
}

func (s *Server) untrack(c *conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.conns, c)
}

// serveConn runs one connection: handshake, then transmission.
func (s *Server) serveConn(base context.Context, stop <-chan struct{}, nc net.Conn) {
	ctx, cancel := context.WithCancel(base)
	defer cancel()
	c := newConn(s, nc, cancel)
	c.stop = stop
	defer nc.Close()
	if !s.track(c) {
		return
	}
	defer s.untrack(c)
	s.m.connections.Inc()
	defer s.m.connections.Dec()

	finished := make(chan struct{})
	defer close(finished)
	go func() {
		select {
		case <-stop:
			c.beginStop(s.cfg.ShutdownGrace)
		case <-finished:
			return
		}
		// Requests still running after DrainTimeout are canceled.
		t := time.NewTimer(s.cfg.DrainTimeout)
		defer t.Stop()
		select {
		case <-t.C:
			c.log.Warn("nbd requests still running at drain timeout; closing")
			c.kill()
		case <-finished:
		}
	}()

	sess, err := c.handshake(ctx)
	if err != nil && c.stopping.Load() {
		s.m.handshakes.WithLabelValues("shutdown").Inc()
		c.log.Info("nbd handshake ended by shutdown", "phase", c.phase, "error", err)
		return
	}
	if err != nil {
		s.handshakeEnded(c, err)
		return
	}
	s.m.handshakes.WithLabelValues("ok").Inc()
	c.log.Debug("nbd transmission started", "export", sess.info.Name, "structured", sess.structured)
	sess.run(ctx)
}

// abortedError marks a handshake the client ended with NBD_OPT_ABORT.
type abortedError struct{}

func (abortedError) Error() string { return "client sent NBD_OPT_ABORT" }

func (s *Server) handshakeEnded(c *conn, err error) {
	switch {
	case errors.As(err, new(abortedError)):
		s.m.handshakes.WithLabelValues("aborted").Inc()
		c.log.Debug("nbd handshake aborted by client")
	case isDisconnect(err):
		s.m.handshakes.WithLabelValues("aborted").Inc()
		c.log.Info("nbd handshake cut short", "phase", c.phase, "error", err)
	default:
		s.m.handshakes.WithLabelValues("failed").Inc()
		c.log.Warn("nbd handshake failed", "phase", c.phase, "error", err)
	}
}
