package store

import (
	"bytes"
	"context"
	"log/slog"
	"math/rand/v2"
	"os"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/wolke-cloud/wolke/chunk/disk"
	"github.com/wolke-cloud/wolke/internal/errs"
)

// randRanges returns up to maxRanges sorted, disjoint, block-aligned
// random ranges inside a chunk of size bytes.
func randRanges(r *rand.Rand, size int64, maxRanges int) []Range {
	blocks := size / disk.BlockSize
	var out []Range
	for b := int64(r.IntN(8)); b < blocks && len(out) < maxRanges; {
		n := min(int64(1+r.IntN(4)), blocks-b)
		p := make([]byte, n*disk.BlockSize)
		for i := range p {
			p[i] = byte(r.Uint32())
		}
		out = append(out, Range{Off: b * disk.BlockSize, Data: p})
		b += n + int64(r.IntN(int(blocks/int64(maxRanges))+1))
	}
	return out
}

// TestPatchRanges: multi-range patches, synced and not, apply all their
// ranges with one generation bump each, keep the chunk in a bounded
// number of extents, leak no space and survive a restart; a stale base
// or malformed ranges change nothing.
func TestPatchRanges(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	s := f.format(t, 64<<20, "d1")
	want := randBytes(1<<20, 5)
	if err := s.Put(ctx, "c", want); err != nil {
		t.Fatal(err)
	}
	want = bytes.Clone(want)
	_, usedBefore := s.Usage()
	r := rand.New(rand.NewPCG(5, 6))
	gen := uint64(0)
	for i := range 60 {
		ranges := randRanges(r, int64(len(want)), 16)
		patch := s.PatchRangesNoSync
		if i%3 == 0 {
			patch = s.PatchRanges
		}
		g, err := patch(ctx, "c", ranges, gen)
		if err != nil || g != gen+1 {
			t.Fatalf("patch %d of %d ranges: gen %d want %d: %v", i, len(ranges), g, gen+1, err)
		}
		gen = g
		for _, rg := range ranges {
			copy(want[rg.Off:], rg.Data)
		}
		if got, g, err := s.GetRangeGen(ctx, "c", 0, -1); err != nil || g != gen || !bytes.Equal(got, want) {
			t.Fatalf("after patch %d: gen %d want %d, equal %v, %v", i, g, gen, bytes.Equal(got, want), err)
		}
	}
	if rec, err := s.lookup("c"); err != nil || len(rec.exts) > int(rec.length/disk.BlockSize) {
		t.Fatalf("chunk in %d extents after patches: %v", len(rec.exts), err)
	}
	// Every other block: the chunk ends up in one extent per block, and
	// patches go on (TestRewriteScattered: a larger chunk so scattered is
	// rewritten whole).
	var every []Range
	for b := int64(0); b < int64(len(want))/disk.BlockSize; b += 2 {
		every = append(every, Range{Off: b * disk.BlockSize, Data: randBytes(disk.BlockSize, uint64(b))})
	}
	for _, ranges := range [][]Range{every, randRanges(r, int64(len(want)), 16)} {
		g, err := s.PatchRangesNoSync(ctx, "c", ranges, gen)
		if err != nil || g != gen+1 {
			t.Fatalf("patch of %d ranges: gen %d want %d: %v", len(ranges), g, gen+1, err)
		}
		gen = g
		for _, rg := range ranges {
			copy(want[rg.Off:], rg.Data)
		}
	}
	if got, g, err := s.GetRangeGen(ctx, "c", 0, -1); err != nil || g != gen || !bytes.Equal(got, want) {
		t.Fatalf("after scattering patches: gen %d want %d, equal %v, %v", g, gen, bytes.Equal(got, want), err)
	}
	if err := s.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if _, used := s.Usage(); used != usedBefore {
		t.Fatalf("used %d after patches and Sync, want %d", used, usedBefore)
	}

	block := func(b int64) []byte { return bytes.Repeat([]byte{byte(b)}, disk.BlockSize) }
	ok := []Range{{Off: 0, Data: block(1)}, {Off: 8 * disk.BlockSize, Data: block(2)}}
	if _, err := s.PatchRangesNoSync(ctx, "c", ok, gen+1); !errs.Is(err, errs.Precondition) {
		t.Fatalf("wrong base: %v, want Precondition", err)
	}
	for name, bad := range map[string][]Range{
		"none":        nil,
		"unsorted":    {{Off: 8 * disk.BlockSize, Data: block(1)}, {Off: 0, Data: block(2)}},
		"overlapping": {{Off: 0, Data: append(block(1), block(1)...)}, {Off: disk.BlockSize, Data: block(2)}},
		"unaligned":   {{Off: 0, Data: block(1)}, {Off: 100, Data: block(2)}},
		"short":       {{Off: 0, Data: block(1)}, {Off: disk.BlockSize, Data: []byte("x")}},
		"empty":       {{Off: 0, Data: block(1)}, {Off: disk.BlockSize, Data: nil}},
		"outside":     {{Off: 0, Data: block(1)}, {Off: 1 << 20, Data: block(2)}},
		"negative":    {{Off: -disk.BlockSize, Data: block(1)}},
	} {
		if _, err := s.PatchRangesNoSync(ctx, "c", bad, gen); !errs.Is(err, errs.Invalid) {
			t.Errorf("%s ranges: %v, want Invalid", name, err)
		}
	}
	if _, err := s.PatchRanges(ctx, "nope", ok, 0); !errs.Is(err, errs.NotFound) {
		t.Fatalf("missing chunk: %v, want NotFound", err)
	}
	if got, g, err := s.GetRangeGen(ctx, "c", 0, -1); err != nil || g != gen || !bytes.Equal(got, want) {
		t.Fatalf("refused patches changed the chunk: gen %d want %d, equal %v, %v", g, gen, bytes.Equal(got, want), err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = f.mustOpen(t)
	if got, g, err := s.GetRangeGen(ctx, "c", 0, -1); err != nil || g != gen || !bytes.Equal(got, want) {
		t.Fatalf("after restart: gen %d want %d, equal %v, %v", g, gen, bytes.Equal(got, want), err)
	}
}

// countIO counts the ReadAt and WriteAt calls to a disk.
type countIO struct {
	disk.Disk
	reads, writes atomic.Int32
}

func (c *countIO) ReadAt(ctx context.Context, p []byte, off int64) error {
	c.reads.Add(1)
	return c.Disk.ReadAt(ctx, p, off)
}

func (c *countIO) WriteAt(ctx context.Context, p []byte, off int64) error {
	c.writes.Add(1)
	return c.Disk.WriteAt(ctx, p, off)
}

// TestPatchRangesOneWrite: the ranges of a patch go to the disk in one
// write when the free space they take is contiguous.
func TestPatchRangesOneWrite(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	s := f.format(t, 16<<20, "d1")
	if err := s.Put(ctx, "c", randBytes(1<<20, 1)); err != nil {
		t.Fatal(err)
	}
	cw := &countIO{Disk: s.d}
	s.d = cw
	ranges := make([]Range, 16)
	for i := range ranges {
		ranges[i] = Range{Off: int64(i) * 16 * disk.BlockSize, Data: randBytes(disk.BlockSize, uint64(i))}
	}
	if _, err := s.PatchRangesNoSync(ctx, "c", ranges, 0); err != nil {
		t.Fatal(err)
	}
	if n := cw.writes.Load(); n != 1 {
		t.Fatalf("%d disk writes for 16 ranges in contiguous free space, want 1", n)
	}
}

// copyDir copies the files of an index directory (the store is closed).
func copyDir(t *testing.T, dst, src string) {
	t.Helper()
	if err := os.RemoveAll(dst); err != nil {
		t.Fatal(err)
	}
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
}

// TestPatchRangesCrash: an unsynced multi-range patch and a crash. The
// index holds none of the patch before a Sync, so after the crash the
// chunk is back at the old generation with the old bytes, whose blocks
// the patch and later writes left alone. After a Sync the patch survives
// whole.
func TestPatchRangesCrash(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	s := f.format(t, 16<<20, "d1")
	orig := randBytes(1<<20, 11)
	if err := s.Put(ctx, "c", orig); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	saved := f.index + ".saved"
	copyDir(t, saved, f.index)
	s = f.mustOpen(t)
	_, used0 := s.Usage()
	ranges := randRanges(rand.New(rand.NewPCG(7, 8)), 1<<20, 16)
	want := bytes.Clone(orig)
	for _, r := range ranges {
		copy(want[r.Off:], r.Data)
	}
	if g, err := s.PatchRangesNoSync(ctx, "c", ranges, 0); err != nil || g != 1 {
		t.Fatalf("PatchRangesNoSync: gen %d, %v", g, err)
	}
	// Until the Sync, writes that take all the free space leave the old
	// blocks alone.
	rec0, err := lookupRecord(t, saved)
	if err != nil {
		t.Fatal(err)
	}
	s.allocMu.Lock()
	avail := s.avail.free
	s.allocMu.Unlock()
	if err := s.Put(ctx, "filler", randBytes(int(avail), 12)); err != nil {
		t.Fatal(err)
	}
	if buf, bad, err := s.readVerified(ctx, rec0, 0, int64(len(rec0.blocks))); err != nil || bad >= 0 || !bytes.Equal(buf, orig) {
		t.Fatalf("old blocks after an unsynced patch: bad block %d, equal %v, %v", bad, bytes.Equal(buf, orig), err)
	}
	if err := s.Delete(ctx, "filler"); err != nil {
		t.Fatal(err)
	}

	// Crash, the index rolled back to before the patch.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	copyDir(t, f.index, saved)
	s = f.mustOpen(t)
	if got, g, err := s.GetRangeGen(ctx, "c", 0, -1); err != nil || g != 0 || !bytes.Equal(got, orig) {
		t.Fatalf("index rolled back: gen %d want 0, equal %v, %v", g, bytes.Equal(got, orig), err)
	}
	if _, used := s.Usage(); used != used0 {
		t.Fatalf("used %d after the rolled back patch, want %d", used, used0)
	}

	// Unsynced, the patch is read back, but the index does not have it.
	if _, err := s.PatchRangesNoSync(ctx, "c", ranges, 0); err != nil {
		t.Fatal(err)
	}
	if got, g, err := s.GetRangeGen(ctx, "c", 0, -1); err != nil || g != 1 || !bytes.Equal(got, want) {
		t.Fatalf("read of the unsynced patch: gen %d want 1, equal %v, %v", g, bytes.Equal(got, want), err)
	}
	if info, err := s.Stat(ctx, "c"); err != nil || info.Gen != 1 {
		t.Fatalf("Stat of the unsynced patch: %+v, %v; want gen 1", info, err)
	}
	if rec, err := s.lookupIndex("c"); err != nil || rec.gen != 0 {
		t.Fatalf("the index has the unsynced patch: %+v, %v", rec, err)
	}

	// Synced, the patch survives a restart.
	if err := s.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = f.mustOpen(t)
	if got, g, err := s.GetRangeGen(ctx, "c", 0, -1); err != nil || g != 1 || !bytes.Equal(got, want) {
		t.Fatalf("after Sync and restart: gen %d want 1, equal %v, %v", g, bytes.Equal(got, want), err)
	}
}

// physBlocks lists the disk offset of every block of a record.
func physBlocks(rec *record) []int64 {
	var offs []int64
	for _, e := range rec.exts {
		for o := e.off; o < e.end(); o += disk.BlockSize {
			offs = append(offs, o)
		}
	}
	return offs
}

// lookupRecord reads chunk "c"'s record from a copy of an index.
func lookupRecord(t *testing.T, dir string) (*record, error) {
	t.Helper()
	tmp := t.TempDir() + "/idx"
	copyDir(t, tmp, dir)
	db, err := openIndex(tmp, slog.New(slog.DiscardHandler))
	if err != nil {
		return nil, err
	}
	defer db.Close()
	v, closer, err := db.Get(chunkKey("c"))
	if err != nil {
		return nil, err
	}
	defer closer.Close()
	return decodeRecord(slices.Clone(v))
}

func total(ranges []Range) int {
	n := 0
	for _, r := range ranges {
		n += len(r.Data)
	}
	return n
}

// TestRewriteScattered: a Patch of a chunk in maxFragments extents or
// more rewrites it whole first, its ranges applied, as one generation.
func TestRewriteScattered(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	s := f.format(t, 64<<20, "d1")
	want := randBytes(4<<20, 8) // 1024 blocks: every other one patched is 512 extents
	if err := s.Put(ctx, "big", want); err != nil {
		t.Fatal(err)
	}
	want = bytes.Clone(want)
	var every []Range
	for b := int64(0); b < int64(len(want))/disk.BlockSize; b += 2 {
		every = append(every, Range{Off: b * disk.BlockSize, Data: randBytes(disk.BlockSize, uint64(b))})
	}
	gen := uint64(0)
	for _, ranges := range [][]Range{every, {{Off: disk.BlockSize, Data: randBytes(2*disk.BlockSize, 9)}}} {
		g, err := s.PatchRangesNoSync(ctx, "big", ranges, gen)
		if err != nil || g != gen+1 {
			t.Fatalf("patch of %d ranges: gen %d want %d: %v", len(ranges), g, gen+1, err)
		}
		gen = g
		for _, rg := range ranges {
			copy(want[rg.Off:], rg.Data)
		}
		if rec, err := s.lookup("big"); err != nil || gen == 1 && len(rec.exts) < maxFragments {
			t.Fatalf("after patch %d: %d extents, want at least %d: %v", gen, len(rec.exts), maxFragments, err)
		}
	}
	if rec, err := s.lookup("big"); err != nil || len(rec.exts) > 4 {
		t.Fatalf("chunk in %d extents after a whole rewrite: %v", len(rec.exts), err)
	}
	if got, g, err := s.GetRangeGen(ctx, "big", 0, -1); err != nil || g != gen || !bytes.Equal(got, want) {
		t.Fatalf("after a whole rewrite: gen %d want %d, equal %v, %v", g, gen, bytes.Equal(got, want), err)
	}
}
