package cluster

import (
	"context"
	"log/slog"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/wolke-cloud/wolke/control"
)

// runElected runs work while this process leads the election name of
// the cluster, campaigning again after losing it, until ctx ends.
// The volume garbage collector (election "block-gc": several collectors
// would be safe but would repeat each other's deletes) and the segment
// sweeper ("segsweep") run so.
func runElected(ctx context.Context, cl *clientv3.Client, cluster, name, id string, log *slog.Logger,
	work func(context.Context) error) {
	for ctx.Err() == nil {
		l, err := control.Elect(ctx, cl, cluster, name, id, control.WithLogger(log))
		if err != nil {
			if ctx.Err() == nil {
				log.Warn("election failed", "election", name, "err", err)
			}
			select {
			case <-ctx.Done():
			case <-time.After(10 * time.Second):
			}
			continue
		}
		lctx, cancel := context.WithCancel(ctx)
		go func() {
			select {
			case <-l.Done():
			case <-lctx.Done():
			}
			cancel()
		}()
		log.Info("leads", "election", name, "id", id)
		_ = work(lctx)
		cancel()
		rctx, rcancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = l.Resign(rctx)
		rcancel()
	}
}
