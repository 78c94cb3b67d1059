package repair

import (
	"context"
	"slices"
	"time"

	"github.com/wolke-cloud/wolke/chunk/chunkclient"
	"github.com/wolke-cloud/wolke/core"
	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/meta/metapb"
)

// listPage is how many chunks one listing call returns.
const listPage = 1000

// diskInv is what one reachable disk holds.
type diskInv struct {
	chunks map[string]chunkclient.ChunkInfo
	refd   map[string]bool // chunks some manifest expects on this disk
}

// task is one stripe to rebuild.
type task struct {
	ref     *metapb.StripeRef
	group   *metapb.PlacementGroup
	missing []int          // shard indexes to write
	from    map[int]string // missing shard → a disk holding a good copy of it elsewhere
	unreach int            // shards on disks that cannot be reached
}

// plan is what a scan found.
type plan struct {
	tasks       []*task
	stripes     int64
	unavailable int
	groups      map[uint64]bool  // groups with degraded or unavailable stripes
	groupBytes  map[uint64]int64 // bytes one member disk holds for the group's stripes
	diskBytes   map[string]int64 // bytes of the shards the manifests expect on each disk
	drains      map[string]*DrainStatus
	invOrder    []string // inventoried disks in id order
}

// Pass runs one full pass: declare and replace lost disks, rebuild every
// missing shard, collect garbage. Passes never overlap.
func (w *Worker) Pass(ctx context.Context) error {
	w.passMu.Lock()
	defer w.passMu.Unlock()
	w.update(func(s *Status) { s.Running, s.PassStarted = true, w.now() })
	stop := w.publishWhile(ctx)
	err := w.pass(ctx)
	stop()
	w.m.passes.Inc()
	w.update(func(s *Status) {
		s.Running, s.PassEnded = false, w.now()
		s.Passes++
		s.LastError = ""
		if err != nil {
			s.LastError = err.Error()
		}
	})
	if w.deps.Publish != nil {
		w.deps.Publish(ctx, w.Status())
	}
	return err
}

// publishWhile publishes the status every second until stop is called.
func (w *Worker) publishWhile(ctx context.Context) (stop func()) {
	if w.deps.Publish == nil {
		return func() {}
	}
	done, finished := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				w.deps.Publish(ctx, w.Status())
			}
		}
	}()
	return func() {
		close(done)
		<-finished
	}
}

func (w *Worker) pass(ctx context.Context) error {
	dresp, err := w.deps.Meta.ListDisks(ctx, &metapb.ListDisksRequest{})
	if err != nil {
		return err
	}
	live, err := w.deps.Live(ctx)
	if err != nil {
		return err
	}
	disks := map[string]*metapb.Disk{}
	for _, d := range dresp.Disks {
		disks[d.Id] = d
	}
	if err := w.declareLost(ctx, disks, live); err != nil {
		return err
	}
	gresp, err := w.deps.Meta.ListPlacementGroups(ctx, &metapb.ListPlacementGroupsRequest{})
	if err != nil {
		return err
	}
	outAtStart := drainingOutOfGroups(disks, gresp.Groups)
	groups, lostLeft, err := w.replaceLost(ctx, disks, gresp.Groups, live)
	if err != nil {
		return err
	}
	w.update(func(s *Status) { s.LostDisks = lostLeft })
	hints := w.listHints(ctx)
	inv := w.inventory(ctx, disks, live)
	w.doHints(ctx, hints, groups, disks, inv)
	// Intents are read after the listing and before the manifest scan
	// (see heldStripes); without them nothing is collected this pass.
	held, herr := w.heldStripes(ctx)
	if herr != nil {
		w.log.Warn("write intents not read; no garbage collection this pass", "err", herr)
	}
	p, err := w.plan(ctx, groups, disks, inv)
	if err != nil {
		return err
	}
	w.publishPlan(p)
	w.publishDrains(disks, groups, p)
	failed := w.rebuildAll(ctx, p.tasks)
	w.update(func(s *Status) { s.Degraded = failed })
	w.m.degraded.Set(float64(failed))
	if err := w.healVolumes(ctx, disks, live); err != nil {
		return err
	}
	if _, err := w.restoreVolumeCopies(ctx, inv, disks, live); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return errs.E("repair.Pass", errs.Canceled, err)
	}
	// Garbage is collected only when every stripe is whole and reachable:
	// chunks out of place may then be needed by nothing.
	clean := failed == 0 && p.unavailable == 0
	if !w.cfg.NoGC && clean && herr == nil {
		w.collect(ctx, inv, held, w.markVolumeRefs(ctx, inv))
	}
	if !clean {
		return nil
	}
	// Whole stripes everywhere: drained disks may go, and disk fill may be
	// evened out.
	if err := w.finishDrains(ctx, disks, outAtStart); err != nil {
		return err
	}
	return w.rebalance(ctx, disks, groups, live, inv, p)
}

func (w *Worker) publishPlan(p *plan) {
	var gs []uint64
	for g := range p.groups {
		gs = append(gs, g)
	}
	slices.Sort(gs)
	w.update(func(s *Status) {
		s.Stripes, s.Found, s.Queue, s.Degraded = p.stripes, len(p.tasks), len(p.tasks), len(p.tasks)
		s.Unavailable, s.DegradedGroups = p.unavailable, gs
	})
	w.m.queue.Set(float64(len(p.tasks)))
	w.m.degraded.Set(float64(len(p.tasks)))
	if len(p.tasks) > 0 || p.unavailable > 0 {
		w.log.Info("repair pass planned", "stripes", p.stripes, "to_rebuild", len(p.tasks), "unavailable", p.unavailable)
	}
}

// usable: the disk's shards can be read (it may be draining).
func usable(d *metapb.Disk) bool {
	return d != nil && (d.State == metapb.DiskState_DISK_STATE_ACTIVE || d.State == metapb.DiskState_DISK_STATE_DRAINING)
}

// inventory lists the chunks of every reachable disk; a disk that cannot
// be listed is left out (its shards count as unreachable).
func (w *Worker) inventory(ctx context.Context, disks map[string]*metapb.Disk, live map[string]bool) map[string]*diskInv {
	inv := map[string]*diskInv{}
	for id := range disks {
		// Removed disks still attached are listed too: their garbage is
		// collected, and a shard a writer with stale groups put there can
		// be copied from them.
		if !live[id] {
			continue
		}
		di := &diskInv{chunks: map[string]chunkclient.ChunkInfo{}, refd: map[string]bool{}}
		after := ""
		var err error
		for {
			var page []chunkclient.ChunkInfo
			if page, err = w.deps.Shards.ListChunks(ctx, id, "", after, listPage); err != nil {
				break
			}
			for _, c := range page {
				di.chunks[c.ID] = c
			}
			if len(page) < listPage {
				break
			}
			after = page[len(page)-1].ID
		}
		if err != nil {
			w.log.Warn("repair cannot list disk", "disk", id, "err", err)
			continue
		}
		inv[id] = di
	}
	return inv
}

// plan scans every manifest, marks the chunks they expect on each disk,
// and returns the stripes to rebuild, those missing most shards first.
func (w *Worker) plan(ctx context.Context, groups map[uint64]*metapb.PlacementGroup, disks map[string]*metapb.Disk, inv map[string]*diskInv) (*plan, error) {
	p := &plan{groups: map[uint64]bool{}, groupBytes: map[uint64]int64{}, diskBytes: map[string]int64{}, drains: map[string]*DrainStatus{}, invOrder: sortedKeys(inv)}
	var after []byte
	for {
		resp, err := w.deps.Scanner.ScanStripes(ctx, &metapb.ScanStripesRequest{After: after, Limit: int32(w.cfg.ScanPage)})
		if err != nil {
			return nil, err
		}
		for _, ref := range resp.Stripes {
			p.stripes++
			if g := groups[ref.GetStripe().GetPlacementGroup()]; g != nil {
				size := ref.GetStripe().GetShardSize()
				p.groupBytes[g.Id] += size
				for _, d := range g.Disks {
					p.diskBytes[d] += size
				}
			}
			if t := w.check(ref, groups, disks, inv, p); t != nil {
				if len(t.missing) > 0 {
					p.tasks = append(p.tasks, t)
				}
				if t.unreach > 0 {
					p.unavailable++
				}
				p.groups[t.group.Id] = true
			}
		}
		if len(resp.Next) == 0 {
			break
		}
		after = resp.Next
	}
	slices.SortStableFunc(p.tasks, func(a, b *task) int {
		return (len(b.missing) + b.unreach) - (len(a.missing) + a.unreach)
	})
	return p, nil
}

// check returns the stripe's task when shards are missing or unreachable.
func (w *Worker) check(ref *metapb.StripeRef, groups map[uint64]*metapb.PlacementGroup, disks map[string]*metapb.Disk, inv map[string]*diskInv, p *plan) *task {
	st := ref.GetStripe()
	g := groups[st.GetPlacementGroup()]
	if g == nil || len(g.Disks) != int(g.EcData+g.EcParity) {
		w.log.Warn("stripe names an unknown placement group", "bucket", ref.Bucket, "key", ref.Key, "group", st.GetPlacementGroup())
		return nil
	}
	t := &task{ref: ref, group: g}
	for i, disk := range g.Disks {
		id := core.ChunkID(st.Id, i)
		di := inv[disk]
		if di == nil || !usable(disks[disk]) {
			t.unreach++
			continue
		}
		di.refd[id] = true
		c, ok := di.chunks[id]
		good := ok && c.Length == st.ShardSize && (len(st.ShardCrc32C) != len(g.Disks) || c.CRC32C == st.ShardCrc32C[i])
		if good && disks[disk].State == metapb.DiskState_DISK_STATE_DRAINING {
			p.drainLeft(disk, st.ShardSize) // still needed there: its group has no replacement yet
		}
		if !good {
			t.missing = append(t.missing, i)
			if src := findCopy(st, i, len(g.Disks), disk, p.invOrder, inv); src != "" {
				if t.from == nil {
					t.from = map[int]string{}
				}
				t.from[i] = src
				if disks[src].GetState() == metapb.DiskState_DISK_STATE_DRAINING {
					p.drainLeft(src, st.ShardSize)
				}
			}
		}
	}
	if len(t.missing) == 0 && t.unreach == 0 {
		return nil
	}
	return t
}
