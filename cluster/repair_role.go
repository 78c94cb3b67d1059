package cluster

import (
	"context"
	"encoding/json"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/wolke-cloud/wolke/chunk"
	"github.com/wolke-cloud/wolke/chunk/chunkclient"
	"github.com/wolke-cloud/wolke/control"
	"github.com/wolke-cloud/wolke/repair"
)

// RepairRole runs a repair worker (with garbage collection) on its own.
// Several may run: one leads, the others wait in the election.
type RepairRole struct {
	Cluster     string
	ID          string // this worker's id in the election
	Etcd        []string
	RepairAfter time.Duration // used as given: 0 = at once
	Interval    time.Duration
	RateLimit   int64         // bytes/s, 0 = unlimited
	GCGrace     time.Duration // used as given: 0 = at once
	// VolumeGCGrace: repair.Config.VolumeGCGrace (0: volume chunks are not collected).
	VolumeGCGrace time.Duration
	// DrainSettle: 0 takes 30s, negative none (DurabilityOptions.DrainSettle).
	DrainSettle time.Duration
	// RebalanceSpread: 0 takes 10 percentage points, negative turns rebalancing off.
	RebalanceSpread float64
	RebalanceMoves  int
	Logger          *slog.Logger
	Registry        prometheus.Registerer
}

// RunRepair runs the repair worker until ctx ends.
func RunRepair(ctx context.Context, r RepairRole) error {
	cl, mc, err := dialPeers(ctx, r.Etcd, r.Cluster)
	if err != nil {
		return err
	}
	defer cl.Close()
	defer mc.Close()
	res, err := newDiskResolver(ctx, cl, r.Cluster)
	if err != nil {
		return err
	}
	defer res.Close()
	shards := chunkclient.New(res.Resolve, chunkclient.Options{})
	defer shards.Close()
	w, err := repair.New(repair.Config{
		ID: r.ID, RepairAfter: r.RepairAfter, Interval: r.Interval, RateLimit: r.RateLimit, GCGrace: r.GCGrace,
		VolumeGCGrace: r.VolumeGCGrace,
		DrainSettle:   drainSettle(r.DrainSettle), RebalanceSpread: r.RebalanceSpread, RebalanceMoves: r.RebalanceMoves,
	}, repair.Deps{
		Meta: mc, Scanner: mc.Repair(), Extents: mc.Repair(), Hints: mc.Repair(), Shards: shards, Live: res.liveDisks,
		Elect: electRepair(cl, r.Cluster, r.ID, r.Logger),
		Publish: func(ctx context.Context, st repair.Status) {
			publishStatus(ctx, cl, r.Cluster, DurabilityStatus{Updated: time.Now().UTC(), Repair: st})
		},
		Logger: r.Logger, Registry: r.Registry,
	})
	if err != nil {
		return err
	}
	r.Logger.Info("repair worker campaigning", "id", r.ID)
	return w.Run(ctx)
}

// electRepair campaigns in the "repair" election of the cluster.
func electRepair(cl *clientv3.Client, cluster, id string, log *slog.Logger) func(context.Context) (<-chan struct{}, func(), error) {
	return func(ctx context.Context) (<-chan struct{}, func(), error) {
		l, err := control.Elect(ctx, cl, cluster, "repair", id, control.WithLogger(log))
		if err != nil {
			return nil, nil, err
		}
		return l.Done(), func() {
			rctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = l.Resign(rctx)
		}, nil
	}
}

// publishStatus writes a durability status to etcd, where `wolke admin
// status` reads it.
func publishStatus(ctx context.Context, cl *clientv3.Client, cluster string, st DurabilityStatus) {
	val, err := json.Marshal(st)
	if err != nil {
		return
	}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, _ = cl.Put(pctx, control.Key(cluster, statusKind, statusID), string(val))
}

// runScrubber scrubs srv's disks in the background (first pass one
// interval after start); the returned func stops it and waits.
func runScrubber(srv *chunk.Server, cfg chunk.ScrubConfig, log *slog.Logger) (stop func()) {
	sc, err := chunk.NewScrubber(srv, cfg)
	if err != nil {
		log.Warn("scrubber not started", "err", err)
		return func() {}
	}
	first := cfg.Interval
	if first <= 0 {
		first = 24 * time.Hour // the scrubber's default interval
	}
	p := goServe(func(ctx context.Context) error {
		t := time.NewTimer(first)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		return sc.Run(ctx)
	})
	return func() { _ = p.stop() }
}
