package store

import (
	"context"
	"slices"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/wolke-cloud/wolke/internal/errs"
)

type opKind int

const (
	opPut opKind = iota
	opDelete
	opPatch
	opSync // no index change: makes every earlier change stable
)

// autoSyncEvery and autoSyncBytes bound what unsynced Patches may leave
// unstable: the committer syncs on its own this often, or once the blocks
// they replaced (kept from reuse until a sync) reach this many bytes.
// Each sync costs a disk sync and an index write of every record patched
// since: at 16 MiB instead of 4, block volume random writes ran 4-9%
// faster (bench/results, round 8).
const (
	autoSyncEvery = 2 * time.Second
	autoSyncBytes = 16 << 20
)

// change is one index change waiting for the committer.
type change struct {
	kind opKind
	id   string
	rec  *record // opPut, opPatch: the new record; its extents are written already
	done chan error

	// opPut: rec.exts; opPatch: the blocks written for it. Released if the
	// change fails.
	fresh []extent
	base  *record  // opPatch: the record it was made from
	drop  []extent // opPatch: the blocks it replaces
	// nosync: an opPatch that does not wait for a sync: it is committed
	// in memory and reaches the index with the next synced commit
	// (unsynced.go).
	nosync bool
	// create: an opPut that fails if the chunk exists (Restore).
	create bool
}

// durable reports whether the change needs a synced index commit.
func (o *change) durable() bool { return o.kind != opPatch || !o.nosync }

// commitLoop collects waiting operations into groups. A group of only
// unsynced Patches is committed in memory (unsynced.go); any other group
// costs one disk sync and one synced index commit, which takes the
// unsynced records with it. Unsynced changes are synced within
// autoSyncEvery, once autoSyncBytes of blocks wait for it, and when the
// store closes.
func (s *Store) commitLoop() {
	defer close(s.done)
	tick := time.NewTicker(autoSyncEvery)
	defer tick.Stop()
	for {
		var first *change
		select {
		case o, ok := <-s.ops:
			if !ok {
				s.syncNow()
				return
			}
			first = o
		case <-tick.C:
			s.syncNow()
			continue
		}
		group := []*change{first}
	collect:
		for len(group) < maxGroup {
			select {
			case o, ok := <-s.ops:
				if !ok {
					break collect
				}
				group = append(group, o)
			default:
				break collect
			}
		}
		s.commitGroup(group)
		if s.deferredBytes >= autoSyncBytes {
			s.syncNow()
		}
	}
}

// syncNow makes the unsynced changes stable, if there are any.
func (s *Store) syncNow() {
	if s.unsynced {
		s.commitGroup([]*change{{kind: opSync, done: make(chan error, 1)}})
	}
}

func (s *Store) commitGroup(group []*change) {
	const opName = "store.commit"
	ctx := context.Background()
	results := make([]error, len(group))
	fail := func(err error) {
		for i, o := range group {
			results[i] = err
			s.release(o.fresh)
			o.done <- err
		}
	}
	if err := s.brokenErr(); err != nil {
		fail(err)
		return
	}
	durable := false
	for _, o := range group {
		durable = durable || o.durable()
	}
	if durable && !s.unsynced && !slices.ContainsFunc(group, func(o *change) bool { return o.kind != opSync }) {
		for _, o := range group {
			o.done <- nil // nothing to sync
		}
		return
	}
	for _, o := range group {
		// A synced commit syncs the data it makes part of chunks first:
		// its own, and that of the unsynced commits before it, whose
		// records it writes to the index.
		if durable && (o.kind == opPut || o.kind == opPatch || s.unsynced) {
			if err := s.d.Sync(ctx); err != nil {
				s.log.Error("disk sync failed", "disk", s.sb.diskID, "err", err)
				fail(errs.E(opName, errs.Unavailable, err))
				return
			}
			break
		}
	}

	// Only a synced commit writes to the index: first the records of the
	// unsynced commits before it, then its own changes.
	var b *pebble.Batch
	if durable {
		b = s.db.NewBatch()
		defer b.Close()
		s.unsyncedRecs.each(func(id string, r *record) { _ = b.Set(chunkKey(id), r.encode(), nil) })
	}
	pending := map[string]*record{} // this group's view: nil = deleted
	patched := map[string]bool{}    // ids whose last change here is a Patch
	var freed []extent
	// kept: how many extents at the end of freed were left by Patches:
	// they are reused without a hole punch (small, soon overwritten, and
	// a punch would make the next sync commit file system metadata).
	var kept []bool
	for i, o := range group {
		if o.kind == opSync {
			continue
		}
		cur, seen := pending[o.id]
		if !seen {
			var err error
			if cur, err = s.lookupCached(o.id); err != nil && !errs.Is(err, errs.NotFound) {
				results[i] = err
				continue
			}
		}
		if o.kind == opDelete && cur == nil {
			results[i] = errs.Errorf("store.Delete", errs.NotFound, "chunk %s", o.id)
			continue
		}
		if o.create && cur != nil {
			results[i] = errs.Errorf("store.Restore", errs.Exists, "chunk %s exists", o.id)
			continue
		}
		if o.kind == opPatch && (cur == nil || cur.gen != o.base.gen || !slices.Equal(cur.exts, o.base.exts)) {
			results[i] = errs.Errorf("store.Patch", errs.Precondition, "chunk %s changed under the patch", o.id)
			continue
		}
		if o.kind != opDelete {
			if err := s.takeCommitted(o.fresh); err != nil {
				results[i] = err
				continue
			}
		}
		if o.kind == opPatch {
			cur = &record{exts: o.drop} // only the replaced blocks are freed
		}
		if cur != nil {
			for _, e := range cur.exts {
				if err := s.committed.add(e); err != nil {
					s.setBroken(errs.E(opName, errs.Internal, err))
					fail(s.brokenErr())
					return
				}
			}
			freed = append(freed, cur.exts...)
			for range cur.exts {
				kept = append(kept, o.kind == opPatch)
			}
		}
		if o.kind != opDelete {
			if durable {
				_ = b.Set(chunkKey(o.id), o.rec.encode(), nil)
			}
			pending[o.id] = o.rec
			patched[o.id] = o.kind == opPatch
		} else { // a Delete is durable: b is there
			_ = b.Delete(chunkKey(o.id), nil)
			pending[o.id], patched[o.id] = nil, false
		}
	}
	if durable {
		if err := b.Commit(pebble.Sync); err != nil {
			// The in-memory committed map is now ahead of the index; the
			// store cannot go on. A restart reloads the truth from the
			// index.
			s.recs.reset()
			s.setBroken(errs.E(opName, errs.Unavailable, "index commit failed", err))
			s.log.Error("index commit failed", "disk", s.sb.diskID, "err", err)
			fail(s.brokenErr())
			return
		}
		s.unsyncedRecs.clear()
	} else {
		for id, rec := range pending {
			s.unsyncedRecs.set(id, rec)
		}
	}
	for id, rec := range pending {
		s.recs.committed(id, rec, patched[id])
	}
	s.allocMu.Lock()
	for _, e := range freed {
		s.recycling += e.n
	}
	s.allocMu.Unlock()
	if durable {
		// Every earlier unsynced commit is stable now: the blocks they
		// replaced may be reused.
		freed, kept = append(s.deferred, freed...), append(s.deferredKept, kept...)
		s.deferred, s.deferredKept, s.deferredBytes, s.unsynced = nil, nil, 0, false
	} else {
		// Until the commit is stable a crash may bring back the blocks it
		// replaced: they are not reused before the next sync.
		s.deferred, s.deferredKept = append(s.deferred, freed...), append(s.deferredKept, kept...)
		for _, e := range freed {
			s.deferredBytes += e.n
		}
		freed, kept, s.unsynced = nil, nil, true
	}
	// Puts and Patches return at once; Deletes and Syncs once the space
	// they free is punched and reusable.
	for i, o := range group {
		if o.kind != opDelete && o.kind != opSync {
			if results[i] != nil {
				s.release(o.fresh)
			}
			o.done <- results[i]
		}
	}
	if len(freed) > 0 {
		s.recycle(ctx, freed, kept)
	}
	for i, o := range group {
		if o.kind == opDelete || o.kind == opSync {
			o.done <- results[i]
		}
	}
}

// takeCommitted removes a Put's extents from the committed free map, all or
// nothing.
func (s *Store) takeCommitted(exts []extent) error {
	for i, e := range exts {
		if err := s.committed.remove(e); err != nil {
			for _, u := range exts[:i] {
				_ = s.committed.add(u)
			}
			return errs.E("store.commit", errs.Internal, err)
		}
	}
	return nil
}

// recycle waits until no reader can still be reading extents that a commit
// freed, punches holes in them (but those marked kept, and all on a store
// that keeps freed space) and makes them available again.
func (s *Store) recycle(ctx context.Context, freed []extent, kept []bool) {
	s.gate.Lock()
	s.gate.Unlock() //nolint:staticcheck // an empty critical section is the point: a barrier
	for i, e := range freed {
		if kept[i] || s.keepFreed {
			continue
		}
		if err := s.d.Discard(ctx, e.off, e.n); err != nil {
			s.log.Warn("discard failed", "disk", s.sb.diskID, "off", e.off, "len", e.n, "err", err)
		}
	}
	s.allocMu.Lock()
	for _, e := range freed {
		s.recycling -= e.n
	}
	s.allocMu.Unlock()
	s.release(freed)
}

// reserve takes n bytes from the available space for a Put.
func (s *Store) reserve(n int64) ([]extent, error) {
	s.allocMu.Lock()
	defer s.allocMu.Unlock()
	if s.failed != nil {
		return nil, s.failed
	}
	exts, ok := s.avail.alloc(n)
	if !ok {
		return nil, errs.Errorf("store.Put", errs.NoSpace, "disk %s: %d bytes wanted, %d free", s.sb.diskID, n, s.avail.free)
	}
	return exts, nil
}

// release returns extents to the available space.
func (s *Store) release(exts []extent) {
	s.allocMu.Lock()
	defer s.allocMu.Unlock()
	for _, e := range exts {
		if err := s.avail.add(e); err != nil {
			s.log.Error("double free", "disk", s.sb.diskID, "off", e.off, "len", e.n, "err", err)
		}
	}
}

func (s *Store) setBroken(err error) {
	s.allocMu.Lock()
	defer s.allocMu.Unlock()
	if s.failed == nil {
		s.failed = err
	}
}

func (s *Store) brokenErr() error {
	s.allocMu.Lock()
	defer s.allocMu.Unlock()
	return s.failed
}
