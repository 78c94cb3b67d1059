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
// rewrites it whole, so that reads of the chunk stay few and large. A
// rewrite reads and writes all of the chunk inside the Patch: for 4 KiB
// writes to a volume's 1 MiB extents, 256 times the bytes asked for. At
// 128 that came every 64 writes to an extent and cost durable random
// writes (fio, FLUSH every 32) half their rate and more; a 1 MiB extent
// (256 blocks) now never comes to this, at the price of slower large
// reads of extents that random writes scattered (bench/results, round 4).
// Rewriting scattered chunks in the background instead was tried and
// made reads slower still: each rewrite moves blocks out of the page
// cache, and the syncs that free the old blocks hold readers back. A
// chunk read whole is moved instead (compact.go), from the bytes the read
// brought, without a sync.
const maxFragments = 512

// Range is one piece of a multi-range patch: Data replaces [Off,
// Off+len(Data)) of the chunk. Off and len(Data) are multiples of
// disk.BlockSize.
type Range struct {
	Off  int64
	Data []byte
	// Sums, if not nil, holds the CRC32C of each block of Data, which
	// the store records instead of computing them: for an in-process
	// caller that writes the same data to several stores and computes
	// them once. Sums that do not match Data make the blocks fail their
	// checksum on every read, as damage would.
	Sums []uint32
}

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
	return s.patch(ctx, id, []Range{{Off: off, Data: data}}, base, true)
}

// PatchNoSync is Patch without waiting for stability: it returns once the
// new blocks are written and the change is committed in memory, where
// reads and later patches see it; Sync makes it stable. A crash before
// that Sync loses it (the chunk is then back at an earlier generation, its
// blocks intact): the index gets the change only after a disk sync
// (unsynced.go), and the blocks it replaces are not reused before then.
func (s *Store) PatchNoSync(ctx context.Context, id string, off int64, data []byte, base uint64) (uint64, error) {
	return s.patch(ctx, id, []Range{{Off: off, Data: data}}, base, false)
}

// PatchRanges is Patch of several ranges at once, all or nothing: the
// ranges (sorted by offset, not overlapping, block aligned, inside the
// chunk; else errs.Invalid) are written together to fresh space and
// become part of the chunk in one index commit, as one generation,
// base+1.
func (s *Store) PatchRanges(ctx context.Context, id string, ranges []Range, base uint64) (uint64, error) {
	return s.patch(ctx, id, ranges, base, true)
}

// PatchRangesNoSync is PatchRanges with the contract of PatchNoSync: the
// patch is answered before it is stable, and a crash before the next
// Sync leaves the chunk at an earlier generation with its blocks intact.
func (s *Store) PatchRangesNoSync(ctx context.Context, id string, ranges []Range, base uint64) (uint64, error) {
	return s.patch(ctx, id, ranges, base, false)
}

// checkRanges validates the ranges of a patch and returns their total size.
func checkRanges(op string, ranges []Range) (int64, error) {
	if len(ranges) == 0 {
		return 0, errs.E(op, errs.Invalid, "patch without ranges")
	}
	var n, end int64
	for i, r := range ranges {
		k := int64(len(r.Data))
		switch {
		case r.Off < 0 || k == 0 || r.Off%disk.BlockSize != 0 || k%disk.BlockSize != 0:
			return 0, errs.Errorf(op, errs.Invalid, "patch %d+%d is not block aligned", r.Off, k)
		case i > 0 && r.Off < end:
			return 0, errs.Errorf(op, errs.Invalid, "patch range %d+%d overlaps or precedes the one before", r.Off, k)
		}
		end = r.Off + k
		n += k
	}
	return n, nil
}

func (s *Store) patch(ctx context.Context, id string, ranges []Range, base uint64, sync bool) (uint64, error) {
	const op = "store.Patch"
	n, err := checkRanges(op, ranges)
	if err != nil {
		return 0, err
	}
	if err := s.enterChunk(ctx, op, id); err != nil {
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
	last := ranges[len(ranges)-1]
	switch {
	case cur.gen != base:
		return 0, errs.Errorf(op, errs.Precondition, "chunk %s is at generation %d, not %d", id, cur.gen, base)
	case cur.length%disk.BlockSize != 0:
		return 0, errs.Errorf(op, errs.Invalid, "chunk %s of %d bytes is not whole blocks", id, cur.length)
	case last.Off+int64(len(last.Data)) > cur.length:
		return 0, errs.Errorf(op, errs.Invalid, "patch %d+%d outside chunk %s of %d bytes", last.Off, len(last.Data), id, cur.length)
	}
	if len(cur.exts) >= maxFragments && n < cur.length {
		// Too scattered for fast whole-extent reads: rewrite the chunk
		// contiguously, with the patch applied.
		return s.patchWhole(ctx, id, cur, ranges, sync)
	}
	fresh, err := s.reserveSyncing(ctx, n)
	if err != nil {
		return 0, err
	}
	// The ranges go out as they are, in as few writes as fresh has
	// extents; the caller's data is not referenced once Patch returns.
	bufs := make([][]byte, len(ranges))
	for i, r := range ranges {
		bufs[i] = r.Data
	}
	if err := s.writeOver(ctx, fresh, bufs); err != nil {
		return 0, err
	}
	rec, drop := patched(cur, ranges, fresh)
	for _, r := range ranges {
		first := r.Off / disk.BlockSize
		nb := int64(len(r.Data)) / disk.BlockSize
		if int64(len(r.Sums)) == nb {
			copy(rec.blocks[first:first+nb], r.Sums)
			continue
		}
		for i := range nb {
			rec.blocks[first+i] = crc32c(r.Data[i*disk.BlockSize : (i+1)*disk.BlockSize])
		}
	}
	rec.crc = s.combineBlocks(rec.blocks)
	rec.gen = base + 1
	return s.commitPatch(ctx, &change{kind: opPatch, id: id, rec: rec, base: cur, fresh: fresh, drop: drop, nosync: !sync, done: make(chan error, 1)})
}

// writeOver writes bufs, one after the other, to the extents of fresh,
// in order, and releases them if a write fails.
func (s *Store) writeOver(ctx context.Context, fresh []extent, bufs [][]byte) error {
	var pieces [][]byte
	for _, e := range fresh {
		pieces = pieces[:0]
		for left := e.n; left > 0; {
			b := bufs[0]
			k := min(int64(len(b)), left)
			pieces = append(pieces, b[:k])
			if bufs[0] = b[k:]; len(bufs[0]) == 0 {
				bufs = bufs[1:]
			}
			left -= k
		}
		if err := s.writeAt(ctx, pieces, e.off); err != nil {
			s.release(fresh)
			return errs.E("store.Patch", errs.KindOf(err), err)
		}
	}
	return nil
}

// writeAt writes pieces one after the other from off: as they are when
// each is block aligned in memory and length (O_DIRECT takes them so),
// else through a pooled buffer (a patch that came over the network
// starts wherever its frame put it).
func (s *Store) writeAt(ctx context.Context, pieces [][]byte, off int64) error {
	n := 0
	aligned := true
	for _, p := range pieces {
		n += len(p)
		aligned = aligned && disk.IsAligned(p) && len(p)%disk.BlockSize == 0
	}
	if aligned {
		return disk.WriteV(ctx, s.d, pieces, off)
	}
	buf := s.bufs.get(n)
	defer s.bufs.put(buf)
	pos := 0
	for _, p := range pieces {
		pos += copy(buf[pos:], p)
	}
	return s.d.WriteAt(ctx, buf, off)
}

// patchWhole is Patch by rewriting all of the chunk to fresh space: the
// current blocks are read (and checked against their CRC32Cs, so damage is
// reported, not laundered into new checksums), patched and written out.
func (s *Store) patchWhole(ctx context.Context, id string, cur *record, ranges []Range, sync bool) (uint64, error) {
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
	for _, r := range ranges {
		copy(buf[r.Off:], r.Data)
	}
	fresh, err := s.reserveSyncing(ctx, int64(len(buf)))
	if err != nil {
		return 0, err
	}
	if err := s.writeOver(ctx, fresh, [][]byte{buf}); err != nil {
		return 0, err
	}
	rec := &record{length: cur.length, created: cur.created, gen: cur.gen + 1, exts: fresh, blocks: slices.Clone(cur.blocks)}
	for _, r := range ranges {
		for b := r.Off / disk.BlockSize; b < (r.Off+int64(len(r.Data)))/disk.BlockSize; b++ {
			rec.blocks[b] = crc32c(buf[b*disk.BlockSize : (b+1)*disk.BlockSize])
		}
	}
	rec.crc = s.combineBlocks(rec.blocks)
	return s.commitPatch(ctx, &change{kind: opPatch, id: id, rec: rec, base: cur, fresh: fresh, drop: slices.Clone(cur.exts), nosync: !sync, done: make(chan error, 1)})
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

// patched returns a copy of cur whose blocks in ranges live in fresh (in
// order), and the extents those blocks leave. It walks the extents and
// the ranges once: its cost does not grow with the blocks of the chunk.
func patched(cur *record, ranges []Range, fresh []extent) (*record, []extent) {
	exts := make([]extent, 0, len(cur.exts)+2*len(ranges)+len(fresh))
	drop := make([]extent, 0, len(ranges))
	fi, fo := 0, int64(0) // the next fresh byte: fresh[fi].off+fo
	takeFresh := func(n int64) {
		for n > 0 {
			k := min(n, fresh[fi].n-fo)
			exts = appendExtent(exts, fresh[fi].off+fo, k)
			if fo += k; fo == fresh[fi].n {
				fi, fo = fi+1, 0
			}
			n -= k
		}
	}
	ri, pos := 0, int64(0) // pos: the chunk offset where e starts
	for _, e := range cur.exts {
		end := pos + e.n
		for x := pos; x < end; {
			for ri < len(ranges) && ranges[ri].Off+int64(len(ranges[ri].Data)) <= x {
				ri++
			}
			if ri == len(ranges) || ranges[ri].Off >= end {
				exts = appendExtent(exts, e.off+x-pos, end-x)
				break
			}
			if r0 := ranges[ri].Off; r0 > x {
				exts = appendExtent(exts, e.off+x-pos, r0-x)
				x = r0
			}
			y := min(ranges[ri].Off+int64(len(ranges[ri].Data)), end)
			drop = appendExtent(drop, e.off+x-pos, y-x)
			takeFresh(y - x)
			x = y
		}
		pos = end
	}
	rec := &record{length: cur.length, created: cur.created, gen: cur.gen, exts: exts, blocks: slices.Clone(cur.blocks)}
	return rec, drop
}

// appendExtent appends n bytes at off to exts, merging them into the last
// extent when they follow it.
func appendExtent(exts []extent, off, n int64) []extent {
	if k := len(exts) - 1; k >= 0 && exts[k].end() == off {
		exts[k].n += n
		return exts
	}
	return append(exts, extent{off, n})
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
