package meta

import (
	"context"
	"errors"
	"time"

	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/meta/fsm"
	"github.com/wolke-cloud/wolke/meta/metaerr"
	"github.com/wolke-cloud/wolke/meta/metapb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"
)

// forwardedKey marks a request a follower forwarded, so that it is never
// forwarded twice: a node that is not the leader answers it with
// ErrNotLeader and the forwarder tries again.
const forwardedKey = "wolke-meta-forwarded"

func isForwarded(ctx context.Context) bool {
	md, ok := metadata.FromIncomingContext(ctx)
	return ok && len(md.Get(forwardedKey)) > 0
}

// remoteFn is a metapb.MetaClient method expression, such as
// metapb.MetaClient.PutObject.
type remoteFn[Req, Resp any] func(metapb.MetaClient, context.Context, Req, ...grpc.CallOption) (Resp, error)

// route runs local on the leader, or forwards req to the leader. It waits
// for a leader and retries on ErrNotLeader (nothing was proposed then)
// for up to LeaderWait.
func route[Req, Resp any](ctx context.Context, n *Node, req Req, fwd remoteFn[Req, Resp], local func(context.Context) (Resp, error)) (Resp, error) {
	var zero Resp
	forwarded := isForwarded(ctx)
	deadline := time.Now().Add(n.cfg.LeaderWait)
	backoff := 5 * time.Millisecond
	for {
		var err error
		switch {
		case n.IsLeader():
			var resp Resp
			if resp, err = local(ctx); !errors.Is(err, metaerr.ErrNotLeader) {
				return resp, err
			}
		case forwarded:
			return zero, errs.E("meta.route", errs.Unavailable, "not the leader", metaerr.ErrNotLeader)
		default:
			var cli metapb.MetaClient
			if cli, err = n.leaderClient(ctx); err == nil {
				fctx := metadata.AppendToOutgoingContext(ctx, forwardedKey, n.cfg.ID)
				var resp Resp
				if resp, err = fwd(cli, fctx, req, grpc.WaitForReady(false)); !errors.Is(err, metaerr.ErrNotLeader) {
					return resp, err
				}
			}
		}
		if time.Now().Add(backoff).After(deadline) {
			return zero, err
		}
		select {
		case <-ctx.Done():
			return zero, errs.E("meta.route", errs.Canceled, ctx.Err())
		case <-n.stop:
			return zero, errs.E("meta.route", errs.Unavailable, "node closed")
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 100*time.Millisecond)
	}
}

// write proposes req through raft on the leader.
func write[Req proto.Message, Resp any](ctx context.Context, n *Node, op fsm.Op, req Req, fwd remoteFn[Req, Resp]) (Resp, error) {
	return route(ctx, n, req, fwd, func(ctx context.Context) (Resp, error) {
		var zero Resp
		out, err := n.propose(ctx, op, req)
		if err != nil {
			return zero, err
		}
		resp, ok := out.(Resp)
		if !ok {
			return zero, errs.Errorf("meta.write", errs.Internal, "%v answered %T", op, out)
		}
		return resp, nil
	})
}

// read runs a linearizable read on the leader.
func read[Req, Resp any](ctx context.Context, n *Node, req Req, fwd remoteFn[Req, Resp], local func(context.Context, Req) (Resp, error)) (Resp, error) {
	return route(ctx, n, req, fwd, func(ctx context.Context) (Resp, error) {
		if err := n.readIndex(ctx); err != nil {
			var zero Resp
			return zero, err
		}
		return local(ctx, req)
	})
}
