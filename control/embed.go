package control

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/internal/freeport"
)

// EmbedConfig configures a single-node etcd that runs inside the process
// (`wolke dev` and tests).
type EmbedConfig struct {
	// Dir holds etcd's data (WAL, snapshots, bbolt). Required; the data
	// survives restarts with the same Dir.
	Dir string
	// ClientAddr and PeerAddr are host:port to listen on. An empty value or
	// port 0 picks a free port on 127.0.0.1 (etcd cannot take a pre-made
	// listener and must know its port to advertise it, so the port is found
	// by listening on :0 and closing; a lost race is retried).
	ClientAddr string
	PeerAddr   string
	// Name is the etcd member name. Default "wolke".
	Name string
	// StartTimeout bounds the wait for etcd to become ready. Default 30 s.
	StartTimeout time.Duration
	// QuotaBackendBytes caps the backend database. Default 256 MiB: etcd only
	// holds membership, leases and elections here.
	QuotaBackendBytes int64
	// Logger receives etcd's warnings and errors (etcd is chatty below warn).
	// Nil discards.
	Logger *slog.Logger
}

const (
	defaultEmbedName  = "wolke"
	defaultStartWait  = 30 * time.Second
	defaultQuotaBytes = 256 << 20
	startAttempts     = 3
)

// Embedded is a running single-node etcd with a client connected to it.
type Embedded struct {
	etcd      *embed.Etcd
	cli       *clientv3.Client
	quiet     *atomic.Bool // set while closing: shutdown errors are expected
	endpoints []string
	peers     []string
	closeOnce sync.Once
}

// StartEmbedded starts etcd in the process and waits until it serves.
func StartEmbedded(ctx context.Context, cfg EmbedConfig) (*Embedded, error) {
	const op = "control.StartEmbedded"
	if cfg.Dir == "" {
		return nil, errs.E(op, errs.Invalid, "empty Dir")
	}
	if cfg.Name == "" {
		cfg.Name = defaultEmbedName
	}
	if cfg.StartTimeout <= 0 {
		cfg.StartTimeout = defaultStartWait
	}
	if cfg.QuotaBackendBytes <= 0 {
		cfg.QuotaBackendBytes = defaultQuotaBytes
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}

	var (
		e     *embed.Etcd
		err   error
		quiet = new(atomic.Bool)
	)
	for attempt := 0; attempt < startAttempts; attempt++ {
		var clientAddr, peerAddr string
		var picked bool
		clientAddr, picked, err = resolveAddr(cfg.ClientAddr, cfg.Dir)
		if err != nil {
			return nil, errs.E(op, errs.Invalid, err)
		}
		var pickedPeer bool
		peerAddr, pickedPeer, err = resolveAddr(cfg.PeerAddr, cfg.Dir)
		if err != nil {
			return nil, errs.E(op, errs.Invalid, err)
		}
		e, err = embed.StartEtcd(etcdConfig(cfg, clientAddr, peerAddr, quiet))
		if err == nil {
			break
		}
		if !(picked || pickedPeer) || !errors.Is(err, syscall.EADDRINUSE) {
			break
		}
		cfg.Logger.Warn("etcd port taken, retrying", slog.String("client", clientAddr), slog.String("peer", peerAddr))
	}
	if err != nil {
		return nil, errs.E(op, errs.Unavailable, err)
	}

	timer := time.NewTimer(cfg.StartTimeout)
	defer timer.Stop()
	select {
	case <-e.Server.ReadyNotify():
	case err = <-e.Err():
	case <-ctx.Done():
		err = ctx.Err()
	case <-timer.C:
		err = errs.Errorf(op, errs.Unavailable, "etcd not ready after %v", cfg.StartTimeout)
	}
	if err != nil {
		quiet.Store(true)
		e.Close()
		return nil, errs.E(op, errs.Unavailable, err)
	}

	m := &Embedded{etcd: e, quiet: quiet}
	for _, l := range e.Clients {
		m.endpoints = append(m.endpoints, "http://"+l.Addr().String())
	}
	for _, p := range e.Peers {
		m.peers = append(m.peers, "http://"+p.Addr().String())
	}
	m.cli, err = dial(ctx, m.endpoints, cfg.Logger)
	if err != nil {
		quiet.Store(true)
		e.Close()
		return nil, errs.E(op, errs.Unavailable, err)
	}
	cfg.Logger.Debug("etcd ready", slog.Any("endpoints", m.endpoints), slog.String("dir", cfg.Dir))
	return m, nil
}

// etcdConfig builds etcd's configuration for a single-node cluster.
func etcdConfig(cfg EmbedConfig, clientAddr, peerAddr string, quiet *atomic.Bool) *embed.Config {
	ec := embed.NewConfig()
	ec.Name = cfg.Name
	ec.Dir = cfg.Dir
	curl := url.URL{Scheme: "http", Host: clientAddr}
	purl := url.URL{Scheme: "http", Host: peerAddr}
	ec.ListenClientUrls = []url.URL{curl}
	ec.AdvertiseClientUrls = []url.URL{curl}
	ec.ListenPeerUrls = []url.URL{purl}
	ec.AdvertisePeerUrls = []url.URL{purl}
	ec.InitialCluster = cfg.Name + "=" + purl.String()
	ec.InitialClusterToken = "wolke-" + cfg.Name
	ec.ClusterState = embed.ClusterStateFlagNew // ignored when Dir has data

	ec.LogLevel = "warn"
	ec.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.New(newSlogCore(cfg.Logger, zapcore.WarnLevel, quiet)))
	// NewConfig leaves this at 0, which logs every request as slow.
	ec.WarningUnaryRequestDuration = embed.DefaultWarningUnaryRequestDuration

	// Modest footprint: small keyspace, frequent snapshots, compaction.
	ec.QuotaBackendBytes = cfg.QuotaBackendBytes
	ec.SnapshotCount = 5000
	ec.SnapshotCatchUpEntries = 1000
	ec.ExperimentalSnapshotCatchUpEntries = 1000
	ec.MaxSnapFiles = 3
	ec.MaxWalFiles = 3
	ec.AutoCompactionMode = embed.CompactorModeRevision
	ec.AutoCompactionRetention = "10000"
	ec.EnableGRPCGateway = false
	ec.Metrics = "basic"
	return ec
}

// resolveAddr returns addr, or a free 127.0.0.1 port reserved for owner
// when addr is empty or has port 0; picked reports the latter.
func resolveAddr(addr, owner string) (resolved string, picked bool, err error) {
	host := "127.0.0.1"
	if addr != "" {
		h, p, err := net.SplitHostPort(addr)
		if err != nil {
			return "", false, err
		}
		if p != "0" && p != "" {
			if _, err := strconv.ParseUint(p, 10, 16); err != nil {
				return "", false, err
			}
			return addr, false, nil
		}
		if h != "" {
			host = h
		}
	}
	// Below the kernel's ephemeral range: a cluster keeps the port for
	// its next start, and the kernel never gives it to anyone else.
	resolved, err = freeport.Pick(host, owner)
	if err != nil {
		return "", false, err
	}
	return resolved, true, nil
}

// PeerURLs returns the URLs etcd listens on for peers.
func (m *Embedded) PeerURLs() []string {
	return append([]string(nil), m.peers...)
}

// Endpoints returns the client URLs etcd serves on.
func (m *Embedded) Endpoints() []string {
	return append([]string(nil), m.endpoints...)
}

// Client returns a client connected to the embedded etcd; it is closed by Close.
func (m *Embedded) Client() *clientv3.Client { return m.cli }

// Err reports a fatal etcd error after start.
func (m *Embedded) Err() <-chan error { return m.etcd.Err() }

// Close stops the client and etcd. Safe to call more than once.
func (m *Embedded) Close() error {
	m.closeOnce.Do(func() {
		m.quiet.Store(true)
		m.cli.Close()
		m.etcd.Close()
	})
	return nil
}
