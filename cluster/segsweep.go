package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/wolke-cloud/wolke/core"
)

// The segment sweeper (core.SegmentSweeper) frees the multipart segments a
// remover left behind when it died between marking them garbage and
// dropping them. Every gateway can run it; the "segsweep" election of the
// cluster makes one active at a time.
const (
	segSweepEvery = 5 * time.Minute
	// segSweepGrace is how long a marker must have been seen before it is
	// freed: a live remover finishes within seconds.
	segSweepGrace = 15 * time.Minute
)

// serve serves S3 on ln until ctx ends, running the segment sweeper while
// this gateway leads its election.
func (p *gatewayParts) serve(ctx context.Context, ln net.Listener) error {
	var wg sync.WaitGroup
	sctx, cancel := context.WithCancel(ctx)
	if p.etcd != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runSegmentSweeper(sctx, p.store, p.etcd, p.cluster, p.log)
		}()
	}
	err := serveHTTP(ctx, p.hs, ln)
	cancel()
	wg.Wait()
	return err
}

// runSegmentSweeper campaigns in the election and sweeps while it leads,
// until ctx ends.
func runSegmentSweeper(ctx context.Context, store *core.Store, cl *clientv3.Client, cluster string, log *slog.Logger) {
	runElected(ctx, cl, cluster, "segsweep", sweeperID(), log, func(ctx context.Context) error {
		store.NewSegmentSweeper(segSweepGrace).Run(ctx, segSweepEvery)
		return nil
	})
}

// sweeperID names this process in the election.
func sweeperID() string {
	host, _ := os.Hostname()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return host + "-" + hex.EncodeToString(b)
}
