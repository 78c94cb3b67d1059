package cluster

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/wolke-cloud/wolke/block/volume"
	"github.com/wolke-cloud/wolke/internal/errs"
)

// BlockRole runs the block service on its own: volumes served over NBD.
// Several may serve one cluster; a volume has one writer at a time (its
// attach lease in meta), so a second server opening it writable gets the
// same "attached elsewhere" refusal as a second client of one server.
// The volume garbage collector runs on one of them, elected through etcd.
type BlockRole struct {
	Cluster string
	ID      string // this server's id in the garbage collector's election
	Addr    string // NBD listen address
	Etcd    []string
	// TLSCert/TLSKey offer NBD STARTTLS with this certificate; NBDTLS
	// offers it with pre-shared keys. Both may be given (nbd.Config).
	TLSCert, TLSKey string
	NBDTLS          NBDTLSOptions
	// LeaseTTL is the writer lease of an attached volume: after a crash of
	// its server a volume can be attached again once it ran out (0: 15s).
	LeaseTTL time.Duration
	// WriteCache is volume.Config.WriteCache: plain writes an attached
	// volume keeps before writing them back (0: the default).
	WriteCache int64
	// WriteCacheTotal is volume.Config.WriteCacheTotal: the write cache
	// the volumes attached here share.
	WriteCacheTotal int64
	// DataShards and ParityShards are volume.Config's: the erasure code
	// of extents written whole (0, 0: every extent replicated).
	DataShards, ParityShards int
	MetricsAddr              string // serves /_wolke/metrics from Registry; "" none
	Logger                   *slog.Logger
	Registry                 *prometheus.Registry
	// Serving, if set, is called with the NBD address once it listens.
	Serving func(addr string)
}

// tlsOn reports whether the role offers NBD STARTTLS.
func (r *BlockRole) tlsOn() bool { return r.TLSCert != "" || r.NBDTLS.PSKFile != "" }

func (r *BlockRole) validate() error {
	const op = "cluster.BlockRole"
	switch {
	case r.ID == "":
		return errs.E(op, errs.Invalid, "an id is required")
	case (r.TLSCert == "") != (r.TLSKey == ""):
		return errs.E(op, errs.Invalid, "a TLS certificate needs its key, and the other way round")
	case r.NBDTLS.Required && !r.tlsOn():
		return errs.E(op, errs.Invalid, "NBD TLS required without a certificate or PSK file")
	}
	return nil
}

// RunBlock serves volumes over NBD until ctx ends. Then it stops
// accepting, lets in-flight requests finish, flushes every attached
// volume and releases its lease (nbd.Server.Serve, volume.Volume.Close).
func RunBlock(ctx context.Context, r BlockRole) error {
	const op = "cluster.RunBlock"
	if err := r.validate(); err != nil {
		return err
	}
	opts := Options{NBDAddr: r.Addr, NBDTLS: r.NBDTLS}
	cfg, err := opts.nbdConfig()
	if err != nil {
		return err
	}
	if r.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(r.TLSCert, r.TLSKey)
		if err != nil {
			return errs.E(op, errs.Invalid, err)
		}
		cfg.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	cl, mc, err := dialPeers(ctx, r.Etcd, r.Cluster)
	if err != nil {
		return err
	}
	defer cl.Close()
	defer mc.Close()
	// The service outlives ctx while connections drain.
	svc, res, err := newBlockService(context.WithoutCancel(ctx), cl, r.Cluster, mc,
		volume.Config{LeaseTTL: r.LeaseTTL, WriteCache: r.WriteCache, WriteCacheTotal: r.WriteCacheTotal, DataShards: r.DataShards, ParityShards: r.ParityShards},
		nil, r.Logger, r.Registry)
	if err != nil {
		return err
	}
	defer res.Close()
	srv, err := newNBDServer(cfg, svc, r.Logger, r.Registry)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", r.Addr)
	if err != nil {
		return errs.E(op, errs.Unavailable, "nbd cannot listen on "+r.Addr, err)
	}
	if r.MetricsAddr != "" {
		stop, err := serveMetrics(r.MetricsAddr, r.Registry)
		if err != nil {
			ln.Close()
			return err
		}
		defer stop()
	}
	gcDone := make(chan struct{})
	go func() {
		defer close(gcDone)
		runElected(ctx, cl, r.Cluster, "block-gc", r.ID, r.Logger, svc.Run)
	}()
	defer func() { <-gcDone }()
	r.Logger.Info("block server serving", "id", r.ID, "nbd", ln.Addr().String(), "tls", r.tlsOn(), "tls_required", r.NBDTLS.Required)
	if r.Serving != nil {
		r.Serving(ln.Addr().String())
	}
	err = srv.Serve(ctx, ln)
	r.Logger.Info("block server stopped", "id", r.ID)
	return err
}

// serveMetrics serves reg at /_wolke/metrics on addr; stop closes it.
func serveMetrics(addr string, reg *prometheus.Registry) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, errs.E("cluster.metrics", errs.Unavailable, "metrics cannot listen on "+addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/_wolke/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = hs.Serve(ln) // ErrServerClosed after stop
	}()
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = hs.Shutdown(ctx)
		<-done
	}, nil
}
