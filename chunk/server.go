// Package chunk is the chunk server: it owns whole disks, keeps a chunk
// store (package store) on each, and serves their chunks over the internal
// data protocol, HTTP/1.1 with keep-alive:
//
//	PUT    /v1/disks/{disk}/chunks/{chunk}   body; X-Wolke-Crc32c required, verified
//	GET    /v1/disks/{disk}/chunks/{chunk}   whole chunk, or ?offset=&length=
//	HEAD   /v1/disks/{disk}/chunks/{chunk}   X-Wolke-Length, X-Wolke-Crc32c
//	PATCH  /v1/disks/{disk}/chunks/{chunk}?offset=   X-Wolke-Base-Gen; X-Wolke-No-Sync: 1 answers before the sync
//	POST   /v1/disks/{disk}/sync              makes unsynced patches stable; X-Wolke-Epoch
//	GET    /v1/stream                         Upgrade: patches, reads and syncs as pipelined binary frames (wire.StreamPath)
//	DELETE /v1/disks/{disk}/chunks/{chunk}
//	GET    /v1/disks/{disk}/chunks?prefix=&after=&limit=   JSON listing
//	GET    /v1/disks                          JSON []DiskInfo
//	GET    /v1/health
//
// Errors carry their errs.Kind in X-Wolke-Error-Kind; the status comes from
// one table in chunk/internal/wire, which the client reads back.
package chunk

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wolke-cloud/wolke/chunk/disk"
	"github.com/wolke-cloud/wolke/chunk/store"
	"github.com/wolke-cloud/wolke/internal/errs"
)

// Deps are the dependencies of a server.
type Deps struct {
	Logger   *slog.Logger          // default: discard
	Registry prometheus.Registerer // default: a private registry
	// WrapDisk, if set, wraps each disk as it is opened (path as
	// configured), before its store reads it: fault tests inject I/O
	// errors with it (disk.Faulty).
	WrapDisk func(path string, d disk.Disk) disk.Disk
	// Preallocating, if set, is told how far the preallocation of a new
	// disk file (DiskConfig.Preallocate) has got: done of size bytes,
	// from several goroutines.
	Preallocating func(path string, done, size int64)
}

// DiskInfo describes one disk of a server.
type DiskInfo struct {
	ID       string `json:"id"`
	Path     string `json:"path"`
	Zone     string `json:"zone"`
	Capacity int64  `json:"capacity"`
	Used     int64  `json:"used"`
	// Fresh: the disk was formatted by this start of the server.
	Fresh bool `json:"fresh,omitempty"`
	// Replaced is the id of the lost disk whose index directory this disk
	// took over (it stays reported for the life of the disk).
	Replaced string `json:"replaced,omitempty"`
	// Lost is Replaced under the name docs/CONTRACTS.md uses.
	Lost string `json:"-"`
	// Failed: Config.FailAfterIOErrors device errors in a row; the disk
	// should be declared lost and replaced.
	Failed bool `json:"failed,omitempty"`
}

type diskState struct {
	info   DiskInfo // static fields
	st     *store.Store
	health *watchedDisk
}

// Server is a chunk server.
type Server struct {
	cfg      Config
	log      *slog.Logger
	reg      prometheus.Registerer
	m        *metrics
	disks    []*diskState
	byID     map[string]*diskState
	handler  http.Handler
	wrap     func(path string, d disk.Disk) disk.Disk
	prealloc func(path string, done, size int64) // Deps.Preallocating
	streams  streams                             // upgraded connections (stream.go)

	closeOnce sync.Once
	closeErr  error
}

// New opens (creating and formatting where needed) every configured disk.
// A disk of another cluster, a file that is not a Wolke disk, or two paths
// holding the same disk make New fail.
func New(cfg Config, deps Deps) (*Server, error) {
	cfg.Disks = append([]DiskConfig(nil), cfg.Disks...)
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	if deps.Registry == nil {
		deps.Registry = prometheus.NewRegistry()
	}
	s := &Server{
		cfg:      cfg,
		log:      deps.Logger.With("server", cfg.ID),
		reg:      prometheus.WrapRegistererWith(prometheus.Labels{"server": cfg.ID}, deps.Registry),
		byID:     map[string]*diskState{},
		wrap:     deps.WrapDisk,
		prealloc: deps.Preallocating,
	}
	m, err := newMetrics(s.reg)
	if err != nil {
		return nil, err
	}
	s.m = m
	for _, dc := range cfg.Disks {
		ds, err := s.openDisk(context.Background(), dc)
		if err == nil && s.byID[ds.info.ID] != nil {
			_ = ds.st.Close()
			err = errs.Errorf("chunk.New", errs.Precondition, "%s and %s hold the same disk %s", s.byID[ds.info.ID].info.Path, dc.Path, ds.info.ID)
		}
		if err != nil {
			_ = s.Close()
			return nil, err
		}
		s.disks = append(s.disks, ds)
		s.byID[ds.info.ID] = ds
		s.updateUsage(ds)
		s.log.Info("disk ready", "disk", ds.info.ID, "path", dc.Path, "fresh", ds.info.Fresh, "replaced", ds.info.Replaced)
	}
	s.handler = s.routes()
	return s, nil
}

// Disks describes the server's disks, in configuration order.
func (s *Server) Disks() []DiskInfo {
	out := make([]DiskInfo, 0, len(s.disks))
	for _, ds := range s.disks {
		info := ds.info
		info.Capacity, info.Used = ds.st.Usage()
		info.Failed = ds.health != nil && ds.health.failed.Load()
		out = append(out, info)
	}
	return out
}

// Handler is the data protocol handler, for callers that run their own
// listener loop.
func (s *Server) Handler() http.Handler { return s.handler }

// Serve answers the data protocol on ln until ctx ends, then shuts down
// cleanly (waiting up to Config.ShutdownTimeout for requests in flight) and
// returns nil. It does not close the disks: Close does.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	fresh := &freshConns{m: map[net.Conn]struct{}{}}
	hs := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       5 * time.Minute, // a 64 MiB body on a slow link
		WriteTimeout:      5 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
		ConnState:         fresh.track,
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	s.log.Info("chunk server listening", "addr", ln.Addr().String())
	select {
	case err := <-errc:
		return errs.E("chunk.Serve", errs.Unavailable, err)
	case <-ctx.Done():
	}
	s.streams.closeAll() // not tracked by Shutdown: taken over from it
	sctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	shut := make(chan error, 1)
	go func() { shut <- hs.Shutdown(sctx) }()
	// Shutdown waits for connections that never sent a request (a client's
	// spare pooled connections) as if they were busy; close those at once.
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var err error
wait:
	for {
		select {
		case err = <-shut:
			break wait
		case <-tick.C:
			fresh.closeAll()
		}
	}
	if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	if err != nil {
		_ = hs.Close()
		return errs.E("chunk.Serve", errs.Internal, "shutdown", err)
	}
	return nil
}

// freshConns tracks connections that have not sent a request yet.
type freshConns struct {
	mu sync.Mutex
	m  map[net.Conn]struct{}
}

func (f *freshConns) track(c net.Conn, st http.ConnState) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if st == http.StateNew {
		f.m[c] = struct{}{}
	} else {
		delete(f.m, c)
	}
}

func (f *freshConns) closeAll() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for c := range f.m {
		_ = c.Close()
		delete(f.m, c)
	}
}

// Close closes every disk. Call it after Serve has returned.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.streams.closeAll()
		for _, ds := range s.disks {
			if err := ds.st.Close(); err != nil && s.closeErr == nil {
				s.closeErr = err
			}
		}
		s.m.unregister(s.reg)
	})
	return s.closeErr
}

func (s *Server) updateUsage(ds *diskState) {
	capacity, used := ds.st.Usage()
	s.m.capacity.WithLabelValues(ds.info.ID).Set(float64(capacity))
	s.m.used.WithLabelValues(ds.info.ID).Set(float64(used))
}

// newDiskID returns a random (version 4) UUID.
func newDiskID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", errs.E("chunk.newDiskID", errs.Internal, err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16]), nil
}
