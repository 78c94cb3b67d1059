package store

import (
	"context"
	"hash/fnv"
	"slices"

	"github.com/wolke-cloud/wolke/chunk/disk"
	"github.com/wolke-cloud/wolke/internal/errs"
)

// patchStripes is how many locks serialize Patches by chunk id.
const patchStripes = 1024

// maxFragments: a Patch of a chunk in this many disk extents or more
// rewrites it whole, so that reads of the chunk stay few and large. High
// enough that random 4 KiB writes to a volume's 1 MiB extents rewrite
// them rarely (a rewrite reads and writes all of the chunk).
const maxFragments = 128

// Patch replaces [off, off+len(data)) of chunk id with data and returns the
// chunk's new generation, base+1. off and len(data) must be multiples of
// disk.BlockSize and the chunk's length too; the chunk's generation must be
// base, else errs.Precondition (a replica that missed a write, or a chunk
// replaced or deleted meanwhile).
//
// The new blocks go to freshly allocated space, never over the blocks they
// replace, and become part of the chunk in one index commit together with
// their CRC32Cs and the new generation: a crash before that commit leaves
// the chunk exactly as it was (old bytes, old generation), after it the
// chunk is the patched one. Like Put, Patch returns once the data is synced
// and the index committed; concurrent Patches and Puts share one sync.
func (s *Store) Patch(ctx context.Context, id string, off int64, data []byte, base uint64) (uint64, error) {
	return s.patch(ctx, id, off, data, base, true)
}

// PatchNoSync is Patch without waiting for stability: it returns once the
// new blocks are written and the index change is committed but not yet
// synced; Sync makes it stable. A crash before that Sync may lose it (the
// chunk is then back at an earlier generation, its blocks intact): the
// blocks it replaces are not reused before the Sync, and its data is
// journaled with its index change (journal.go; a patch larger than
// maxJournal has the disk synced before its index change instead), so a
// chunk never reads a block that fails its checksum.
func (s *Store) PatchNoSync(ctx context.Context, id string, off int64, data []byte, base uint64) (uint64, error) {
	return s.patch(ctx, id, off, data, base, false)
}

func (s *Store) patch(ctx context.Context, id string, off int64, data []byte, base uint64, sync bool) (uint64, error) {
	const op = "store.Patch"
	if err := checkID(op, id); err != nil {
		return 0, err
	}
	n := int64(len(data))
	if off < 0 || n == 0 || off%disk.BlockSize != 0 || n%disk.BlockSize != 0 {
		return 0, errs.Errorf(op, errs.Invalid, "patch %d+%d is not block aligned", off, n)
	}
	if err := ctx.Err(); err != nil {
		return 0, errs.E(op, errs.Canceled, err)
	}
	if err := s.enter(op); err != nil {
		return 0, err
	}
	defer s.closeMu.RUnlock()
	mu := &s.patchMu[stripeOf(id)]
	mu.Lock()
	defer mu.Unlock()

	cur, err := s.lookupCached(id)
	if err != nil {
		return 0, errs.E(op, errs.KindOf(err), err)
	}
	switch {
	case cur.gen != base:
		return 0, errs.Errorf(op, errs.Precondition, "chunk %s is at generation %d, not %d", id, cur.gen, base)
	case cur.length%disk.BlockSize != 0:
		return 0, errs.Errorf(op, errs.Invalid, "chunk %s of %d bytes is not whole blocks", id, cur.length)
	case off+n > cur.length:
		return 0, errs.Errorf(op, errs.Invalid, "patch %d+%d outside chunk %s of %d bytes", off, n, id, cur.length)
	}
	if len(cur.exts) >= maxFragments && n < cur.length {
		// Too scattered for fast whole-extent reads: rewrite the chunk
		// contiguously, with the patch applied.
		return s.patchWhole(ctx, id, cur, off, data, sync)
	}
	fresh, err := s.reserveSyncing(ctx, n)
	if err != nil {
		return 0, err
	}
	// data is not referenced once Patch returns, even canceled: a change
	// the commit loop journals later carries its own copy.
	buf := data
	if !disk.IsAligned(data) || (!sync && n <= maxJournal) {
		buf = disk.AlignedBuffer(len(data))
		copy(buf, data)
	}
	pos := int64(0)
	for _, e := range fresh {
		if err := s.d.WriteAt(ctx, buf[pos:pos+e.n], e.off); err != nil {
			s.release(fresh)
			return 0, errs.E(op, errs.KindOf(err), err)
		}
		pos += e.n
	}
	rec, drop := patched(cur, off/disk.BlockSize, fresh)
	for i := range n / disk.BlockSize {
		rec.blocks[off/disk.BlockSize+i] = crc32c(buf[i*disk.BlockSize : (i+1)*disk.BlockSize])
	}
	rec.crc = s.combineBlocks(rec.blocks)
	rec.gen = base + 1
	return s.commitPatch(ctx, &change{kind: opPatch, id: id, rec: rec, base: cur, fresh: fresh, drop: drop, nosync: !sync, data: buf, done: make(chan error, 1)})
}

// patchWhole is Patch by rewriting all of the chunk to fresh space: the
// current blocks are read (and checked against their CRC32Cs, so damage is
// reported, not laundered into new checksums), patched and written out.
func (s *Store) patchWhole(ctx context.Context, id string, cur *record, off int64, data []byte, sync bool) (uint64, error) {
	const op = "store.Patch"
	s.gate.RLock()
	buf, err := s.readBlocks(ctx, cur, 0, int64(len(cur.blocks)))
	s.gate.RUnlock()
	if err != nil {
		return 0, errs.E(op, errs.KindOf(err), err)
	}
	for i, want := range cur.blocks {
		if crc32c(buf[i*disk.BlockSize:(i+1)*disk.BlockSize]) != want {
			s.badSum.Inc()
			return 0, errs.Errorf(op, errs.Corrupt, "chunk %s block %d on disk %s failed its checksum", id, i, s.sb.diskID)
		}
	}
	copy(buf[off:], data)
	fresh, err := s.reserveSyncing(ctx, int64(len(buf)))
	if err != nil {
		return 0, err
	}
	pos := int64(0)
	for _, e := range fresh {
		if err := s.d.WriteAt(ctx, buf[pos:pos+e.n], e.off); err != nil {
			s.release(fresh)
			return 0, errs.E(op, errs.KindOf(err), err)
		}
		pos += e.n
	}
	rec := &record{length: cur.length, created: cur.created, gen: cur.gen + 1, exts: fresh, blocks: slices.Clone(cur.blocks)}
	first := off / disk.BlockSize
	for i := range int64(len(data)) / disk.BlockSize {
		rec.blocks[first+i] = crc32c(buf[(first+i)*disk.BlockSize : (first+i+1)*disk.BlockSize])
	}
	rec.crc = s.combineBlocks(rec.blocks)
	return s.commitPatch(ctx, &change{kind: opPatch, id: id, rec: rec, base: cur, fresh: fresh, drop: slices.Clone(cur.exts), nosync: !sync, data: buf, done: make(chan error, 1)})
}

// commitPatch hands a Patch's index change to the committer and waits.
func (s *Store) commitPatch(ctx context.Context, o *change) (uint64, error) {
	const op = "store.Patch"
	rec, fresh := o.rec, o.fresh
	select {
	case s.ops <- o:
	case <-ctx.Done():
		s.release(fresh)
		return 0, errs.E(op, errs.Canceled, ctx.Err())
	}
	select {
	case err := <-o.done:
		if err != nil {
			return 0, err
		}
		return rec.gen, nil
	case <-ctx.Done():
		return 0, errs.E(op, errs.Canceled, ctx.Err())
	}
}

func stripeOf(id string) int {
	h := fnv.New32a()
	_, _ = h.Write([]byte(id))
	return int(h.Sum32() % patchStripes)
}

// patched returns a copy of cur whose blocks from block first on live in
// fresh, and the extents those blocks leave.
func patched(cur *record, first int64, fresh []extent) (*record, []extent) {
	offs := make([]int64, 0, len(cur.blocks))
	for _, e := range cur.exts {
		for o := e.off; o < e.end(); o += disk.BlockSize {
			offs = append(offs, o)
		}
	}
	var drop []extent
	i := first
	for _, e := range fresh {
		for o := e.off; o < e.end(); o += disk.BlockSize {
			drop = appendBlock(drop, offs[i])
			offs[i] = o
			i++
		}
	}
	var exts []extent
	for _, o := range offs {
		exts = appendBlock(exts, o)
	}
	rec := &record{length: cur.length, created: cur.created, gen: cur.gen, exts: exts, blocks: slices.Clone(cur.blocks)}
	return rec, drop
}

// appendBlock appends the block at off to exts, merging it into the last
// extent when it follows it.
func appendBlock(exts []extent, off int64) []extent {
	if k := len(exts) - 1; k >= 0 && exts[k].end() == off {
		exts[k].n += disk.BlockSize
		return exts
	}
	return append(exts, extent{off, disk.BlockSize})
}

// Sync makes every change committed before it stable: once it returns, the
// Patches (PatchNoSync included) that returned before it was called survive
// a crash. Concurrent Syncs share one index sync.
func (s *Store) Sync(ctx context.Context) error {
	const op = "store.Sync"
	if err := s.enter(op); err != nil {
		return err
	}
	defer s.closeMu.RUnlock()
	return s.sync(ctx)
}

// sync is Sync for a caller inside enter.
func (s *Store) sync(ctx context.Context) error {
	const op = "store.Sync"
	o := &change{kind: opSync, done: make(chan error, 1)}
	select {
	case s.ops <- o:
	case <-ctx.Done():
		return errs.E(op, errs.Canceled, ctx.Err())
	}
	select {
	case err := <-o.done:
		return err
	case <-ctx.Done():
		return errs.E(op, errs.Canceled, ctx.Err())
	}
}

// reserveSyncing is reserve that, when the disk is full, syncs once and
// tries again: blocks replaced by unsynced patches are freed by a sync.
func (s *Store) reserveSyncing(ctx context.Context, n int64) ([]extent, error) {
	fresh, err := s.reserve(n)
	if errs.Is(err, errs.NoSpace) {
		if serr := s.sync(ctx); serr == nil {
			fresh, err = s.reserve(n)
		}
	}
	return fresh, err
}
