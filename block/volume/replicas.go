package volume

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"sort"
	"time"

	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/meta/metapb"
)

// Replica healing by the writer. The repair worker re-replicates the
// chunks of detached volumes and of snapshots, but leaves those of a
// volume with a live writer lease to its writer: only the writer knows
// the current generation of chunks it patches in place, and it alone may
// move its extents without racing itself. So while a handle holds the
// lease, every Config.HealInterval (and on HealReplicas) it asks meta for
// the disks, and each extent with a replica on a disk that is no longer
// active (lost, draining, removed) is copied under its lock, from a
// replica at the generation the writer serves, to a new chunk on active
// disks of distinct servers, committed in meta like any copy on write.
// A snapshot sharing the old chunk keeps it; the worker then moves that.
//
// Writes never wait for this: an in-place write whose patch fails on a
// replica already copies the extent to healthy disks before it is
// acknowledged, and FLUSH keeps its rules (every replica stable, or the
// extent copied to synced chunks).

// healLoop heals the handle's replicas every HealInterval until Close.
func (v *Volume) healLoop() {
	defer close(v.healDone)
	every := v.s.cfg.HealInterval
	if every <= 0 {
		return
	}
	// Handles opened together spread their rounds.
	t := time.NewTimer(every/2 + rand.N(every))
	defer t.Stop()
	for {
		select {
		case <-v.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			select {
			case <-v.stop:
				cancel()
			case <-ctx.Done():
			}
		}()
		if n, err := v.HealReplicas(ctx); err != nil && ctx.Err() == nil {
			v.s.log.Warn("volume replica healing failed", "volume", v.spec.id, "moved", n, "err", err)
		}
		cancel()
		t.Reset(every)
	}
}

// HealReplicas moves every extent of a writer's handle that has a replica
// on a disk that is not active to a new chunk on active disks, and
// returns how many it moved. A handle that does not hold the writer lease
// (a reader, a snapshot, a multi-attach writer: repair moves their
// chunks) does nothing.
func (v *Volume) HealReplicas(ctx context.Context) (int, error) {
	const op = "volume.HealReplicas"
	if !v.inPlace() || v.lost.Load() {
		return 0, nil
	}
	active, err := v.s.place.refreshActive(ctx)
	if err != nil {
		return 0, err
	}
	if len(active) == 0 {
		return 0, nil // no disk to move to: surely a meta hiccup
	}
	ok := make(map[string]bool, len(active))
	for _, d := range active {
		ok[d.Id] = true
	}
	type move struct {
		idx  uint64
		disk string
	}
	var todo []move
	v.mu.Lock()
	for idx, e := range v.extents {
		for _, d := range e.Disks {
			if !ok[d] {
				todo = append(todo, move{idx, d})
				break
			}
		}
	}
	v.mu.Unlock()
	sort.Slice(todo, func(i, j int) bool { return todo[i].idx < todo[j].idx })
	moved := 0
	var errl []error
	for _, m := range todo {
		if ctx.Err() != nil {
			break
		}
		before := v.extent(m.idx)
		if err := v.repair(ctx, m.idx, m.disk); err != nil {
			errl = append(errl, err)
			if errs.Is(err, errs.Precondition) {
				break // the lease is gone (or a replica went back): the next round
			}
			continue
		}
		if after := v.extent(m.idx); before != nil && (after == nil || after.ChunkId != before.ChunkId) {
			moved++
			v.s.count("heal", nil)
		}
	}
	if len(todo) > 0 {
		v.s.log.Info("volume writer moved extents off disks that are not active", "volume", v.spec.id, "extents", len(todo), "moved", moved)
	}
	if len(errl) > 0 {
		v.s.count("heal", errl[0])
		return moved, errs.E(op, errs.Unavailable, errors.Join(errl...))
	}
	if err := ctx.Err(); err != nil {
		return moved, errs.E(op, errs.Canceled, err)
	}
	return moved, nil
}

// refreshActive reads the active disks from meta now (not from the cache)
// and caches them, so that the copies heal places go only to disks that
// are active now.
func (p *placer) refreshActive(ctx context.Context) ([]*metapb.Disk, error) {
	resp, err := p.disks.ListDisks(ctx, &metapb.ListDisksRequest{})
	if err != nil {
		return nil, errs.E("volume.disks", errs.Other, err)
	}
	var out []*metapb.Disk
	for _, d := range resp.Disks {
		if d.State == metapb.DiskState_DISK_STATE_ACTIVE {
			out = append(out, d)
		}
	}
	p.mu.Lock()
	p.cached, p.fetched = slices.Clone(out), time.Now()
	p.mu.Unlock()
	return out, nil
}
