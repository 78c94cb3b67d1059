package store

import (
	"context"
	"slices"

	"github.com/cockroachdb/pebble/v2"

	"github.com/wolke-cloud/wolke/internal/errs"
)

type opKind int

const (
	opPut opKind = iota
	opDelete
	opPatch
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
}

// commitLoop collects waiting operations into groups: each group costs one
// disk sync and one synced index commit.
func (s *Store) commitLoop() {
	defer close(s.done)
	for first := range s.ops {
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
	for _, o := range group {
		if o.kind != opDelete {
			if err := s.d.Sync(ctx); err != nil {
				s.log.Error("disk sync failed", "disk", s.sb.diskID, "err", err)
				fail(errs.E(opName, errs.Unavailable, err))
				return
			}
			break
		}
	}

	b := s.db.NewBatch()
	defer b.Close()
	pending := map[string]*record{} // this group's view: nil = deleted
	var freed []extent
	// kept: how many extents at the end of freed were left by Patches:
	// they are reused without a hole punch (small, soon overwritten, and
	// a punch would make the next sync commit file system metadata).
	var kept []bool
	for i, o := range group {
		cur, seen := pending[o.id]
		if !seen {
			var err error
			if cur, err = s.lookup(o.id); err != nil && !errs.Is(err, errs.NotFound) {
				results[i] = err
				continue
			}
		}
		if o.kind == opDelete && cur == nil {
			results[i] = errs.Errorf("store.Delete", errs.NotFound, "chunk %s", o.id)
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
			_ = b.Set(chunkKey(o.id), o.rec.encode(), nil)
			pending[o.id] = o.rec
		} else {
			_ = b.Delete(chunkKey(o.id), nil)
			pending[o.id] = nil
		}
	}
	for off, n := range s.committed.dirty {
		if n == 0 {
			_ = b.Delete(freeKey(off), nil)
		} else {
			_ = b.Set(freeKey(off), beUint64(n), nil)
		}
	}
	clear(s.committed.dirty)
	if err := b.Commit(pebble.Sync); err != nil {
		// The in-memory committed map is now ahead of the index; the store
		// cannot go on. A restart reloads the truth from the index.
		s.setBroken(errs.E(opName, errs.Unavailable, "index commit failed", err))
		s.log.Error("index commit failed", "disk", s.sb.diskID, "err", err)
		fail(s.brokenErr())
		return
	}
	s.allocMu.Lock()
	for _, e := range freed {
		s.recycling += e.n
	}
	s.allocMu.Unlock()
	// Puts return at once; Deletes once their space is punched and reusable.
	for i, o := range group {
		if o.kind != opDelete {
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
		if o.kind == opDelete {
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
// freed, punches holes in them (but those marked kept) and makes them
// available again.
func (s *Store) recycle(ctx context.Context, freed []extent, kept []bool) {
	s.gate.Lock()
	s.gate.Unlock() //nolint:staticcheck // an empty critical section is the point: a barrier
	for i, e := range freed {
		if kept[i] {
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
