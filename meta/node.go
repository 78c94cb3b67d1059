package meta

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/binary"
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/hashicorp/raft"
	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/internal/rpcerr"
	"github.com/wolke-cloud/wolke/meta/fsm"
	"github.com/wolke-cloud/wolke/meta/metaerr"
	"github.com/wolke-cloud/wolke/meta/metapb"
	"github.com/wolke-cloud/wolke/meta/raftstore"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"
)

// MaxMsgSize is the largest gRPC message a node sends or accepts:
// manifests of big objects are large.
const MaxMsgSize = 64 << 20

// Node is one meta service node.
type Node struct {
	cfg     Config
	logger  *slog.Logger
	metrics *metrics

	logs      *raftstore.Store
	fsm       *fsm.FSM
	trans     *raft.NetworkTransport
	raft      *raft.Raft
	observer  *raft.Observer
	obsCh     chan raft.Observation
	stop      chan struct{}
	watchDone chan struct{}

	readyMu   sync.Mutex // serializes read barriers
	readyTerm uint64     // term whose barrier has been applied (under readyMu)

	mu        sync.Mutex
	grpcAddr  string
	grpcSrv   *grpc.Server
	conns     map[string]*grpc.ClientConn
	closed    bool
	closeOnce sync.Once
	closeErr  error
}

// New opens (or creates) the node's state in cfg.Dir and starts raft.
func New(cfg Config, deps Deps) (*Node, error) {
	const op = "meta.New"
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	logger := deps.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	n := &Node{
		cfg: cfg, logger: logger, metrics: newMetrics(cfg.ID, deps.Registry),
		grpcAddr: cfg.GRPCAdvertise, conns: map[string]*grpc.ClientConn{},
		stop: make(chan struct{}), watchDone: make(chan struct{}),
	}
	if err := n.open(); err != nil {
		if n.trans != nil {
			_ = n.trans.Close()
		}
		n.closeStores()
		return nil, errs.E(op, errs.KindOf(err), err)
	}
	n.obsCh = make(chan raft.Observation, 64)
	n.observer = raft.NewObserver(n.obsCh, false, func(o *raft.Observation) bool {
		_, ok := o.Data.(raft.LeaderObservation)
		return ok
	})
	n.raft.RegisterObserver(n.observer)
	go n.watch()
	return n, nil
}

func (n *Node) open() error {
	cfg := n.cfg
	for _, d := range []string{"raft", "fsm"} {
		if err := os.MkdirAll(filepath.Join(cfg.Dir, d), 0o755); err != nil {
			return errs.E("meta.New", errs.Internal, err)
		}
	}
	hl := newHCLog(n.logger)
	var err error
	if n.logs, err = raftstore.Open(filepath.Join(cfg.Dir, "raft"), n.logger); err != nil {
		return errs.E("meta.New", errs.Internal, err)
	}
	if n.fsm, err = fsm.Open(filepath.Join(cfg.Dir, "fsm"), fsm.Options{Logger: n.logger, Observer: n.metrics.observeApply}); err != nil {
		return err
	}
	snaps, err := raft.NewFileSnapshotStoreWithLogger(cfg.Dir, cfg.SnapshotRetain, hl)
	if err != nil {
		return errs.E("meta.New", errs.Internal, err)
	}
	n.trans = raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream:  &streamLayer{ln: cfg.RaftListener, adv: advertised(cfg.RaftAdvertise)},
		MaxPool: 4, Timeout: 10 * time.Second, Logger: hl,
	})
	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(cfg.ID)
	rc.HeartbeatTimeout = cfg.HeartbeatTimeout
	rc.ElectionTimeout = cfg.ElectionTimeout
	rc.LeaderLeaseTimeout = cfg.LeaderLeaseTimeout
	rc.CommitTimeout = cfg.CommitTimeout
	rc.MaxAppendEntries = cfg.MaxAppendEntries
	rc.BatchApplyCh = true
	rc.SnapshotThreshold = cfg.SnapshotThreshold
	rc.SnapshotInterval = cfg.SnapshotInterval
	rc.TrailingLogs = cfg.TrailingLogs
	rc.NoLegacyTelemetry = true
	rc.Logger = hl
	// The state machine persists itself with its applied index, so the
	// snapshot raft restores on start is skipped when the state is newer
	// (fsm.Restore checks); it is still restored after a crash that lost
	// state the log no longer holds.
	if cfg.Bootstrap {
		has, err := raft.HasExistingState(n.logs, n.logs, snaps)
		if err != nil {
			return errs.E("meta.New", errs.Internal, err)
		}
		if !has {
			conf := raft.Configuration{Servers: []raft.Server{{
				Suffrage: raft.Voter, ID: rc.LocalID, Address: raft.ServerAddress(cfg.RaftAdvertise),
			}}}
			if err := raft.BootstrapCluster(rc, n.logs, n.logs, snaps, n.trans, conf); err != nil {
				return errs.E("meta.New", errs.Internal, err)
			}
		}
	}
	// Recent entries stay in memory for replication to followers.
	cached, err := raft.NewLogCache(1024, n.logs)
	if err != nil {
		return errs.E("meta.New", errs.Internal, err)
	}
	if n.raft, err = raft.NewRaft(rc, n.fsm, cached, n.logs, snaps, n.trans); err != nil {
		return errs.E("meta.New", errs.Internal, err)
	}
	return nil
}

// watch follows leadership changes: metrics, and a read barrier as soon
// as this node leads.
func (n *Node) watch() {
	defer close(n.watchDone)
	var last raft.ServerID
	for {
		select {
		case <-n.stop:
			return
		case o := <-n.obsCh:
			lo := o.Data.(raft.LeaderObservation)
			if lo.LeaderID == last {
				continue
			}
			last = lo.LeaderID
			n.metrics.leaderChanges.Inc()
			isLeader := lo.LeaderID == raft.ServerID(n.cfg.ID)
			n.metrics.setLeader(isLeader)
			n.logger.Info("meta leader changed", "leader", string(lo.LeaderID), "self", isLeader)
			if isLeader {
				go func() {
					ctx, cancel := n.stopContext(n.cfg.LeaderWait)
					defer cancel()
					if err := n.leaderReady(ctx); err != nil {
						n.logger.Warn("meta leader barrier failed", "err", err)
					}
				}()
			}
		}
	}
}

// stopContext is a context that ends when the node closes or after d.
func (n *Node) stopContext(d time.Duration) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	go func() {
		select {
		case <-n.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}

// IsLeader reports whether this node is the raft leader.
func (n *Node) IsLeader() bool { return n.raft.State() == raft.Leader }

// WaitLeader waits until the node can serve: it is the leader and has
// applied every earlier entry, or it follows a leader whose gRPC address
// it knows.
func (n *Node) WaitLeader(ctx context.Context) error {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		if n.IsLeader() {
			if err := n.leaderReady(ctx); err == nil {
				return nil
			}
		} else if _, err := n.leaderAddr(ctx); err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return errs.E("meta.WaitLeader", errs.Unavailable, ctx.Err())
		case <-n.stop:
			return errs.E("meta.WaitLeader", errs.Unavailable, "node closed")
		case <-t.C:
		}
	}
}

// leaderReady makes sure that this leader's state machine has applied
// every entry of earlier terms, by applying a no-op command once per
// term. After it, every entry raft commits reaches the state machine, so
// the commit index is what reads wait for.
func (n *Node) leaderReady(ctx context.Context) error {
	term := n.raft.CurrentTerm()
	n.readyMu.Lock()
	defer n.readyMu.Unlock()
	if n.readyTerm == term {
		return nil
	}
	if _, err := n.propose(ctx, fsm.OpNoop, &emptypb.Empty{}); err != nil {
		return err
	}
	if n.raft.CurrentTerm() == term && n.IsLeader() {
		n.readyTerm = term
		return nil
	}
	return errs.E("meta.leaderReady", errs.Unavailable, "leadership changed", metaerr.ErrNotLeader)
}

// readIndex makes a read on the leader linearizable: the leader confirms
// it still leads after noting the commit index, then waits until the
// state machine has applied that far.
func (n *Node) readIndex(ctx context.Context) error {
	if err := n.leaderReady(ctx); err != nil {
		return err
	}
	idx := n.raft.CommitIndex()
	if err := waitFuture(ctx, n.raft.VerifyLeader()); err != nil {
		return err
	}
	return n.fsm.WaitApplied(ctx, idx)
}

func timeoutFor(ctx context.Context, def time.Duration) time.Duration {
	if dl, ok := ctx.Deadline(); ok {
		if d := time.Until(dl); d < def {
			return max(d, time.Millisecond)
		}
	}
	return def
}

// waitFuture waits for a raft future, mapping raft's errors to kinds.
func waitFuture(ctx context.Context, f raft.Future) error {
	done := make(chan error, 1)
	go func() { done <- f.Error() }()
	select {
	case err := <-done:
		return raftErr(err)
	case <-ctx.Done():
		return errs.E("meta.raft", errs.Canceled, ctx.Err())
	}
}

func raftErr(err error) error {
	const op = "meta.raft"
	switch {
	case err == nil:
		return nil
	case errors.Is(err, raft.ErrNotLeader), errors.Is(err, raft.ErrNotVoter):
		return errs.E(op, errs.Unavailable, "not the leader", metaerr.ErrNotLeader)
	case errors.Is(err, raft.ErrLeadershipLost), errors.Is(err, raft.ErrRaftShutdown),
		errors.Is(err, raft.ErrEnqueueTimeout), errors.Is(err, raft.ErrLeadershipTransferInProgress),
		errors.Is(err, raft.ErrAbortedByRestore):
		return errs.E(op, errs.Unavailable, err)
	}
	if errs.KindOf(err) != errs.Other {
		return err
	}
	return errs.E(op, errs.Internal, err)
}

// propose replicates a command and returns the state machine's answer.
func (n *Node) propose(ctx context.Context, op fsm.Op, req proto.Message) (proto.Message, error) {
	start := time.Now()
	c := &fsm.Command{Op: op, Now: start.UnixNano(), ID: NewID(start), Req: req}
	data, err := c.Encode()
	if err != nil {
		return nil, err
	}
	f := n.raft.Apply(data, timeoutFor(ctx, n.cfg.ApplyTimeout))
	if err := waitFuture(ctx, f); err != nil {
		return nil, err
	}
	n.metrics.propose.WithLabelValues(op.String()).Observe(time.Since(start).Seconds())
	switch r := f.Response().(type) {
	case error:
		return nil, r
	case proto.Message:
		return r, nil
	}
	return nil, errs.Errorf("meta.propose", errs.Internal, "no response for %v", op)
}

var idEncoding = base32.HexEncoding.WithPadding(base32.NoPadding)

// NewID returns a fresh id for versions and uploads: the time, so ids
// sort by creation, and 64 random bits.
func NewID(now time.Time) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(now.UnixNano()))
	_, _ = rand.Read(b[8:])
	return idEncoding.EncodeToString(b[:])
}

// leaderAddr returns the gRPC address of the current leader.
func (n *Node) leaderAddr(ctx context.Context) (string, error) {
	_, id := n.raft.LeaderWithID()
	if id == "" {
		return "", errs.E("meta.leader", errs.Unavailable, "no leader", metaerr.ErrNotLeader)
	}
	m, err := n.fsm.Member(ctx, string(id))
	if err != nil || m.GrpcAddr == "" {
		return "", errs.E("meta.leader", errs.Unavailable, "leader address unknown", metaerr.ErrNotLeader)
	}
	return m.GrpcAddr, nil
}

// leaderClient returns a client of the current leader.
func (n *Node) leaderClient(ctx context.Context) (metapb.MetaClient, error) {
	cc, err := n.leaderConn(ctx)
	if err != nil {
		return nil, err
	}
	return metapb.NewMetaClient(cc), nil
}

// leaderConn returns a connection to the current leader.
func (n *Node) leaderConn(ctx context.Context) (*grpc.ClientConn, error) {
	addr, err := n.leaderAddr(ctx)
	if err != nil {
		return nil, err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return nil, errs.E("meta.leader", errs.Unavailable, "node closed")
	}
	cc := n.conns[addr]
	if cc == nil {
		cc, err = grpc.NewClient(addr,
			grpc.WithTransportCredentials(insecure.NewCredentials()),
			grpc.WithChainUnaryInterceptor(rpcerr.UnaryClientInterceptor()),
			grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(MaxMsgSize), grpc.MaxCallSendMsgSize(MaxMsgSize)))
		if err != nil {
			return nil, errs.E("meta.leader", errs.Internal, err)
		}
		n.conns[addr] = cc
	}
	return cc, nil
}

// Snapshot asks raft for a snapshot now.
func (n *Node) Snapshot(ctx context.Context) error {
	return waitFuture(ctx, n.raft.Snapshot())
}

// Close stops serving, shuts raft down and closes the stores.
func (n *Node) Close() error {
	n.closeOnce.Do(func() {
		n.mu.Lock()
		n.closed = true
		srv := n.grpcSrv
		conns := n.conns
		n.conns = map[string]*grpc.ClientConn{}
		n.mu.Unlock()
		close(n.stop)
		if srv != nil {
			srv.Stop()
		}
		var errList []error
		if err := n.raft.Shutdown().Error(); err != nil {
			errList = append(errList, err)
		}
		n.raft.DeregisterObserver(n.observer)
		<-n.watchDone
		if err := n.trans.Close(); err != nil {
			errList = append(errList, err)
		}
		for _, cc := range conns {
			_ = cc.Close()
		}
		errList = append(errList, n.closeStores())
		n.closeErr = errors.Join(errList...)
	})
	return n.closeErr
}

func (n *Node) closeStores() error {
	var errList []error
	if n.fsm != nil {
		errList = append(errList, n.fsm.Close())
	}
	if n.logs != nil {
		errList = append(errList, n.logs.Close())
	}
	return errors.Join(errList...)
}

// addrOf returns a listener's address as a dialable string.
func addrOf(ln net.Listener) string { return ln.Addr().String() }
