package meta

import (
	"context"
	"errors"
	"net"
	"time"

	"github.com/hashicorp/raft"
	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/internal/rpcerr"
	"github.com/wolke-cloud/wolke/meta/metapb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/keepalive"
)

// Serve serves the Meta gRPC API on ln until ctx ends or the node
// closes, then stops the gRPC server. It also records this node's gRPC
// address in the cluster once it is a member with a leader.
func (n *Node) Serve(ctx context.Context, ln net.Listener) error {
	srv := grpc.NewServer(
		grpc.MaxRecvMsgSize(MaxMsgSize), grpc.MaxSendMsgSize(MaxMsgSize),
		grpc.ChainUnaryInterceptor(rpcerr.UnaryServerInterceptor()),
		// Clients ping every few seconds to find a node cut off by a
		// partition (metaclient): allow it.
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: time.Second, PermitWithoutStream: true}),
	)
	metapb.RegisterMetaServer(srv, &server{n: n})
	metapb.RegisterVolumesServer(srv, &volumeServer{n: n})
	metapb.RegisterRepairServer(srv, &repairServer{n: n})
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return errs.E("meta.Serve", errs.Unavailable, "node closed")
	}
	if n.grpcSrv != nil {
		n.mu.Unlock()
		return errs.E("meta.Serve", errs.Invalid, "already serving")
	}
	n.grpcSrv = srv
	if n.grpcAddr == "" {
		n.grpcAddr = addrOf(ln)
	}
	n.mu.Unlock()

	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	regCtx, cancelReg := context.WithCancel(ctx)
	regDone := make(chan struct{})
	go func() {
		defer close(regDone)
		n.registerSelf(regCtx)
	}()
	defer func() {
		cancelReg()
		<-regDone
	}()
	select {
	case <-ctx.Done():
		stopped := make(chan struct{})
		go func() {
			srv.GracefulStop()
			close(stopped)
		}()
		select {
		case <-stopped:
		case <-time.After(5 * time.Second):
			srv.Stop()
		}
		<-serveErr
		return nil
	case <-n.stop:
		<-serveErr
		return nil
	case err := <-serveErr:
		if errors.Is(err, grpc.ErrServerStopped) {
			return nil
		}
		return errs.E("meta.Serve", errs.Unavailable, err)
	}
}

// registerSelf makes sure the member record of this node holds its
// current addresses, so that followers can forward to it when it leads.
func (n *Node) registerSelf(ctx context.Context) {
	n.mu.Lock()
	grpcAddr := n.grpcAddr
	n.mu.Unlock()
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		if n.isMember(ctx) {
			m, err := n.fsm.Member(ctx, n.cfg.ID)
			if err == nil && m.GrpcAddr == grpcAddr && m.RaftAddr == n.cfg.RaftAdvertise {
				return
			}
			jctx, cancel := context.WithTimeout(ctx, n.cfg.LeaderWait)
			err = n.Join(jctx, n.cfg.ID, n.cfg.RaftAdvertise, grpcAddr)
			cancel()
			if err == nil {
				n.logger.Info("meta member address recorded", "grpc_addr", grpcAddr)
				return
			}
			n.logger.Debug("meta member registration failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-n.stop:
			return
		case <-t.C:
		}
	}
}

// isMember reports whether this node is in the raft configuration and a
// leader is known.
func (n *Node) isMember(ctx context.Context) bool {
	if _, id := n.raft.LeaderWithID(); id == "" {
		return false
	}
	conf, err := n.configuration(ctx)
	if err != nil {
		return false
	}
	for _, s := range conf.Servers {
		if s.ID == raft.ServerID(n.cfg.ID) {
			return true
		}
	}
	return false
}
