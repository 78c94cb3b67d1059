package cluster

import (
	"context"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/wolke-cloud/wolke/chunk"
	"github.com/wolke-cloud/wolke/chunk/chunkclient"
	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/repair"
)

// DurabilityOptions tune the repair worker, garbage collector and
// scrubbers. Zero values take the defaults of `wolke dev`.
type DurabilityOptions struct {
	Off        bool          // run no repair worker and no scrubbers
	Manual     bool          // no background passes: tests call Repair().Pass and Scrub
	Interval   time.Duration // between repair passes; default 30s
	RepairRate int64         // rebuilt bytes per second; default 64 MiB/s, negative: unlimited
	GCGrace    time.Duration // age of garbage chunks before deletion; default 1h, negative: at once
	// VolumeGCGrace is the age of block volume chunks no map holds before
	// deletion (repair.Config.VolumeGCGrace); default 1h, negative: at once.
	VolumeGCGrace time.Duration
	ScrubRate     int64         // bytes per second each chunk server re-reads; default 4 MiB/s
	ScrubEvery    time.Duration // a scrub pass starts this long after the last (and after start); default 24h
	RepairWorker  string        // this process's id in the repair election; default "dev"
	// DrainSettle is how long a drained disk stays DRAINING, in no
	// placement group, before it is set REMOVED; default 30s (the
	// gateways' placement refresh), negative: at the next clean pass.
	DrainSettle time.Duration
	// RebalanceSpread is the disk fill spread (percentage points) above
	// which repair moves placement group members; default 10, negative: off.
	RebalanceSpread float64
	RebalanceMoves  int // members moved per pass at most; default 2
}

// defaultRepairAfter is how long a chunk server may be gone before its
// disks are rebuilt elsewhere, when Options.RepairAfter is zero.
const defaultRepairAfter = 10 * time.Minute

// StatusKey is the etcd key (under the cluster) where the repair worker
// publishes DurabilityStatus: /wolke/<cluster>/status/durability.
const (
	statusKind = "status"
	statusID   = "durability"
)

// DurabilityStatus is what the repair worker publishes after every pass.
type DurabilityStatus struct {
	Updated time.Time                      `json:"updated"`
	Repair  repair.Status                  `json:"repair"`
	Scrub   map[string]chunk.ScrubProgress `json:"scrub,omitempty"` // by chunk server id
}

// durability holds the repair worker and the scrubbers of a cluster.
type durability struct {
	worker   *repair.Worker
	etcd     *clientv3.Client
	cluster  string
	resolver *diskResolver
	shards   *chunkclient.Client
	run      *proc

	mu     sync.Mutex
	scrubs map[string]*scrubProc // by chunk server id
}

type scrubProc struct {
	sc *chunk.Scrubber
	*proc
}

func (o *Options) repairAfter() time.Duration {
	switch {
	case o.RepairAfter < 0:
		return 0
	case o.RepairAfter == 0:
		return defaultRepairAfter
	}
	return o.RepairAfter
}

// intentAfter is the gateways' core.Config.IntentAfter for this garbage
// collection grace: a write must record its intent before GC could take
// its first shards, so a grace under a minute (tests, chaos runs) makes
// every write record one before its first shard; otherwise core's default
// (10s, far below the 1h default grace) applies.
func (d DurabilityOptions) intentAfter() time.Duration {
	if d.Off || d.withDefaults().GCGrace >= time.Minute {
		return 0
	}
	return -1
}

func (d DurabilityOptions) withDefaults() DurabilityOptions {
	if d.Interval <= 0 {
		d.Interval = 30 * time.Second
	}
	switch {
	case d.RepairRate == 0:
		d.RepairRate = 64 << 20
	case d.RepairRate < 0:
		d.RepairRate = 0
	}
	switch {
	case d.GCGrace == 0:
		d.GCGrace = time.Hour
	case d.GCGrace < 0:
		d.GCGrace = 0
	}
	switch {
	case d.VolumeGCGrace == 0:
		d.VolumeGCGrace = time.Hour
	case d.VolumeGCGrace < 0:
		d.VolumeGCGrace = time.Nanosecond // repair's 0 turns collection off
	}
	if d.ScrubRate <= 0 {
		d.ScrubRate = 4 << 20
	}
	if d.ScrubEvery <= 0 {
		d.ScrubEvery = 24 * time.Hour
	}
	if d.RepairWorker == "" {
		d.RepairWorker = "dev"
	}
	d.DrainSettle = drainSettle(d.DrainSettle)
	return d
}

// defaultDrainSettle is core's default PlacementRefresh: gateways may
// write to a disk for that long after it left its groups.
const defaultDrainSettle = 30 * time.Second

// drainSettle maps an option (0: default, negative: none) to the worker's value.
func drainSettle(d time.Duration) time.Duration {
	switch {
	case d == 0:
		return defaultDrainSettle
	case d < 0:
		return 0
	}
	return d
}

// startDurability starts the repair worker (it campaigns in etcd, so only
// one runs per cluster) and a scrubber on every running chunk server.
func (c *Cluster) startDurability(ctx context.Context) error {
	if c.opts.Durability.Off {
		return nil
	}
	do := c.opts.Durability.withDefaults()
	// The resolver follows etcd for as long as the cluster runs, not just
	// while Open's ctx lasts; Close stops it.
	res, err := newDiskResolver(context.WithoutCancel(ctx), c.etcdCl, c.st.ClusterID)
	if err != nil {
		return err
	}
	d := &durability{etcd: c.etcdCl, cluster: c.st.ClusterID, resolver: res, shards: chunkclient.New(res.Resolve, c.local.options()), scrubs: map[string]*scrubProc{}}
	d.worker, err = repair.New(repair.Config{
		ID: do.RepairWorker, RepairAfter: c.opts.repairAfter(), Interval: do.Interval,
		RateLimit: do.RepairRate, GCGrace: do.GCGrace, VolumeGCGrace: do.VolumeGCGrace,
		DrainSettle: do.DrainSettle, RebalanceSpread: do.RebalanceSpread, RebalanceMoves: do.RebalanceMoves,
	}, repair.Deps{
		Meta: c.mc, Scanner: c.mc.Repair(), Extents: c.mc.Repair(), Hints: c.mc.Repair(), Shards: d.shards, Live: res.liveDisks,
		Elect:    electRepair(c.etcdCl, c.st.ClusterID, do.RepairWorker, c.log),
		Publish:  d.publish,
		Logger:   c.log.With("node", "repair"),
		Registry: c.nodeRegistry("repair"),
	})
	if err != nil {
		res.Close()
		return err
	}
	c.dur = d
	for _, p := range c.chunks {
		if p != nil {
			if err := c.startScrub(p); err != nil {
				return err
			}
		}
	}
	if !do.Manual {
		d.run = goServe(d.worker.Run)
	}
	return nil
}

// startScrub runs a scrubber on chunk server i, if durability runs.
func (c *Cluster) startScrub(p *chunkProc) error {
	d := c.dur
	if d == nil {
		return nil
	}
	do := c.opts.Durability.withDefaults()
	sc, err := chunk.NewScrubber(p.srv, chunk.ScrubConfig{Rate: do.ScrubRate, Interval: do.ScrubEvery})
	if err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if do.Manual {
		d.scrubs[p.id] = &scrubProc{sc: sc}
		return nil
	}
	d.scrubs[p.id] = &scrubProc{sc: sc, proc: goServe(func(ctx context.Context) error {
		// Scrub passes start ScrubEvery after start: a restart does not
		// re-read every disk at once.
		t := time.NewTimer(do.ScrubEvery)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		return sc.Run(ctx)
	})}
	return nil
}

// stopScrub stops the scrubber of chunk server id; before the server stops.
func (c *Cluster) stopScrub(id string) error {
	d := c.dur
	if d == nil {
		return nil
	}
	d.mu.Lock()
	sp := d.scrubs[id]
	delete(d.scrubs, id)
	d.mu.Unlock()
	if sp == nil {
		return nil
	}
	return sp.stop()
}

// stopDurability stops the repair worker and every scrubber.
func (c *Cluster) stopDurability() error {
	d := c.dur
	if d == nil {
		return nil
	}
	err := d.run.stop()
	d.mu.Lock()
	ids := make([]string, 0, len(d.scrubs))
	for id := range d.scrubs {
		ids = append(ids, id)
	}
	d.mu.Unlock()
	for _, id := range ids {
		if serr := c.stopScrub(id); err == nil {
			err = serr
		}
	}
	d.shards.Close()
	if rerr := d.resolver.Close(); err == nil {
		err = rerr
	}
	c.dur = nil
	return err
}

// Repair is the cluster's repair worker, nil when durability is off.
func (c *Cluster) Repair() *repair.Worker {
	if c.dur == nil {
		return nil
	}
	return c.dur.worker
}

// Scrub runs one scrub pass on chunk server i now.
func (c *Cluster) Scrub(ctx context.Context, i int) (chunk.ScrubProgress, error) {
	const op = "cluster.Scrub"
	d := c.dur
	if d == nil || i >= len(c.chunks) || c.chunks[i] == nil {
		return chunk.ScrubProgress{}, errs.Errorf(op, errs.Precondition, "no scrubber on chunk server %d", i)
	}
	d.mu.Lock()
	sp := d.scrubs[c.chunks[i].id]
	d.mu.Unlock()
	if sp == nil {
		return chunk.ScrubProgress{}, errs.Errorf(op, errs.Precondition, "no scrubber on chunk server %d", i)
	}
	err := sp.sc.Pass(ctx)
	return sp.sc.Progress(), err
}

// Durability returns the repair and scrub status of this process.
func (c *Cluster) Durability() DurabilityStatus {
	d := c.dur
	if d == nil {
		return DurabilityStatus{}
	}
	return d.status(d.worker.Status())
}

func (d *durability) status(st repair.Status) DurabilityStatus {
	out := DurabilityStatus{Updated: time.Now().UTC(), Repair: st, Scrub: map[string]chunk.ScrubProgress{}}
	d.mu.Lock()
	defer d.mu.Unlock()
	for id, sp := range d.scrubs {
		out.Scrub[id] = sp.sc.Progress()
	}
	return out
}

// publish writes the status to etcd, where `wolke admin status` reads it.
func (d *durability) publish(ctx context.Context, st repair.Status) {
	publishStatus(ctx, d.etcd, d.cluster, d.status(st))
}
