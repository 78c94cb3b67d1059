package volume

import (
	"context"
	"errors"
	"slices"
	"sync"

	"github.com/wolke-cloud/wolke/internal/errs"
)

// dirtySet is what a writer patched in place without a sync since its
// last FLUSH: by disk, the store epoch the patches were answered with and
// the extents they went to.
type dirtySet struct {
	mu    sync.Mutex
	disks map[string]*dirtyDisk
}

type dirtyDisk struct {
	epoch   uint64
	mixed   bool // patches came back with different epochs: the store restarted
	extents map[uint64]struct{}
}

// note records an unsynced patch of extent idx on disk d, answered at epoch.
func (s *dirtySet) note(d string, epoch, idx uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.disks == nil {
		s.disks = map[string]*dirtyDisk{}
	}
	dd := s.disks[d]
	if dd == nil {
		dd = &dirtyDisk{epoch: epoch, extents: map[uint64]struct{}{}}
		s.disks[d] = dd
	}
	if dd.epoch != epoch {
		dd.mixed = true
	}
	dd.extents[idx] = struct{}{}
}

// take empties the set and returns what it held.
func (s *dirtySet) take() map[string]*dirtyDisk {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.disks
	s.disks = nil
	return m
}

// putBack returns disks a failed FLUSH could not make stable: the next
// FLUSH repairs them again.
func (s *dirtySet) putBack(m map[string]*dirtyDisk) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.disks == nil {
		s.disks = map[string]*dirtyDisk{}
	}
	for d, dd := range m {
		cur := s.disks[d]
		if cur == nil {
			cur = &dirtyDisk{epoch: dd.epoch, extents: map[uint64]struct{}{}}
			s.disks[d] = cur
		}
		cur.mixed = true // whatever the epoch is now, these must be repaired
		for idx := range dd.extents {
			cur.extents[idx] = struct{}{}
		}
	}
}

// Flush makes every write acknowledged before it stable on every replica.
// Concurrent calls share rounds (rounds.go): a call joins the next round,
// which starts after it and so covers its writes.
func (v *Volume) Flush(ctx context.Context) error {
	return v.flushes.join().wait(ctx, "volume.Flush")
}

// flushOnce is one round of Flush. Cached writes are written back first.
// Each disk patched in place since the last FLUSH syncs its store; a disk
// that cannot, or whose store restarted since it acknowledged a patch (its
// epoch changed: it may have lost the patch), has the extents patched on
// it copied to new chunks from the replicas that hold the writes (stored
// synced and committed in meta), so the FLUSH never claims stability a
// replica does not have. It fails when that copy fails, and reports a
// lost writer lease.
func (v *Volume) flushOnce(ctx context.Context) error {
	const op = "volume.Flush"
	if v.lost.Load() {
		return errs.E(op, errs.Precondition, "writer lease lost")
	}
	if v.cache != nil {
		idxs := v.cache.dirty()
		if err := v.writeBack(ctx, idxs); err != nil {
			err = errs.E(op, errs.KindOf(err), "cached writes could not be written back", err)
			v.s.count("flush", err)
			return err
		}
	}
	dirty := v.dirty.take()
	if len(dirty) == 0 {
		v.s.count("flush", nil)
		return nil
	}
	var (
		wg  sync.WaitGroup
		mu  sync.Mutex
		bad = map[string]*dirtyDisk{}
	)
	for d, dd := range dirty {
		wg.Go(func() {
			epoch, err := v.s.shards.SyncDisk(ctx, d)
			if err == nil && (dd.mixed || epoch != dd.epoch) {
				err = errs.Errorf(op, errs.Unavailable, "disk %s restarted since it took unsynced writes", d)
			}
			if err != nil {
				v.s.log.Warn("volume flush: disk not stable, copying its extents", "volume", v.spec.id, "disk", d, "err", err)
				mu.Lock()
				bad[d] = dd
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	var errl []error
	failed := map[string]*dirtyDisk{}
	for d, dd := range bad {
		idxs := make([]uint64, 0, len(dd.extents))
		for idx := range dd.extents {
			idxs = append(idxs, idx)
		}
		slices.Sort(idxs)
		for _, idx := range idxs {
			if err := v.repair(ctx, idx, d); err != nil {
				errl = append(errl, err)
				failed[d] = dd
			}
		}
	}
	var err error
	if len(errl) > 0 {
		v.dirty.putBack(failed)
		err = errs.E(op, errs.Unavailable, "writes could not be made stable", errors.Join(errl...))
	}
	v.s.count("flush", err)
	return err
}

// repair copies extent idx to a new chunk if it still lives on disk d: the
// copy is read from a replica at the generation the writer knows (so never
// from d if d lost writes) and stored synced on every replica.
func (v *Volume) repair(ctx context.Context, idx uint64, d string) error {
	mu := v.lock(idx)
	mu.Lock()
	defer mu.Unlock()
	e := v.extent(idx)
	if e == nil || !slices.Contains(e.Disks, d) {
		return nil // moved (stored synced) or deallocated since
	}
	if !v.state(idx).set {
		// A failed write made the writer forget the generation: learn it
		// again; replicas that disagree are copied from the newest.
		if err := v.reconcile(ctx, idx); err != nil {
			return err
		}
		if e = v.extent(idx); e == nil || !slices.Contains(e.Disks, d) {
			return nil
		}
	}
	err := v.writeLocked(ctx, idx, nil, false)
	if err != nil {
		v.forget(idx)
	}
	return err
}
