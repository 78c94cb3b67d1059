package store

import (
	"bytes"
	"context"
	"sync/atomic"
	"testing"

	"github.com/wolke-cloud/wolke/chunk/disk"
	"github.com/wolke-cloud/wolke/internal/errs"
)

func TestGather(t *testing.T) {
	b := func(n int) []byte { return make([]byte, n*disk.BlockSize) }
	const B = disk.BlockSize
	pieces := []piece{
		{b(1), 10 * B}, {b(2), 0}, {b(1), 2 * B}, // 0..3 follow each other
		{b(1), 11 * B}, // after 10
		{b(1), 20 * B}, // alone
	}
	got := gather(pieces, 0)
	want := []struct{ off, n int64 }{{0, 3 * B}, {10 * B, 2 * B}, {20 * B, B}}
	if len(got) != len(want) {
		t.Fatalf("%d spans, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		if got[i].off != w.off || got[i].n != w.n {
			t.Errorf("span %d: [%d,+%d), want [%d,+%d)", i, got[i].off, got[i].n, w.off, w.n)
		}
	}
	// A span stops at maxSpan.
	var many []piece
	for i := range int64(maxSpan/B + 1) {
		many = append(many, piece{b(1), i * B})
	}
	if got := gather(many, 0); len(got) != 2 || got[0].n != maxSpan {
		t.Fatalf("%d spans over maxSpan, first %d bytes", len(got), got[0].n)
	}
}

// TestReadInterleavedRuns: four multi-range patches, each of every fourth
// block, leave a chunk in a piece per block, but in four runs on the disk:
// a whole read costs a read per run (in each part the read is checked
// in), not per piece, and returns the bytes.
func TestReadInterleavedRuns(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	s := f.format(t, 64<<20, "d1")
	want := randBytes(1<<20, 3)
	if err := s.Put(ctx, "c", want); err != nil {
		t.Fatal(err)
	}
	want = bytes.Clone(want)
	gen := uint64(0)
	for k := range int64(4) {
		var ranges []Range
		for blk := k; blk < 256; blk += 4 {
			ranges = append(ranges, Range{Off: blk * disk.BlockSize, Data: randBytes(disk.BlockSize, uint64(100*k+blk))})
		}
		g, err := s.PatchRangesNoSync(ctx, "c", ranges, gen)
		if err != nil {
			t.Fatal(err)
		}
		gen = g
		for _, r := range ranges {
			copy(want[r.Off:], r.Data)
		}
	}
	rec, err := s.lookup("c")
	if err != nil || len(rec.exts) < 200 {
		t.Fatalf("chunk in %d extents, want a piece per block: %v", len(rec.exts), err)
	}
	cr := &countIO{Disk: s.d}
	s.d = cr
	got, err := s.Get(ctx, "c")
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("whole read: equal %v, %v", bytes.Equal(got, want), err)
	}
	// readVerified reads verifyPiece blocks at a time: 4 runs in each.
	if n, most := cr.reads.Load(), int32(4*256/verifyPiece); n > most {
		t.Errorf("whole read of a chunk in 4 runs took %d disk reads, want at most %d", n, most)
	}
	for _, rg := range [][2]int64{{4096, 8192}, {100 * 4096, 37 * 4096}, {0, 1 << 20}} {
		got, err := s.GetRange(ctx, "c", rg[0], rg[1])
		if err != nil || !bytes.Equal(got, want[rg[0]:rg[0]+rg[1]]) {
			t.Fatalf("range %v: equal %v, %v", rg, bytes.Equal(got, want[rg[0]:rg[0]+rg[1]]), err)
		}
	}
}

// TestReadIntoCaller: ReadInto fills the caller's buffer with what
// GetRange returns, for whole-block ranges of a chunk scattered by
// patches, refuses ranges that are not whole blocks or leave the chunk,
// and reports a block that fails its checksum as Corrupt.
func TestReadIntoCaller(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	s := f.format(t, 64<<20, "d1")
	want := randBytes(1<<20, 5)
	if err := s.Put(ctx, "c", want); err != nil {
		t.Fatal(err)
	}
	gen := uint64(0)
	for k := range int64(40) {
		off := (k * 37 % 256) * disk.BlockSize
		data := randBytes(disk.BlockSize, uint64(k+1))
		g, err := s.PatchNoSync(ctx, "c", off, data, gen)
		if err != nil {
			t.Fatal(err)
		}
		gen = g
		copy(want[off:], data)
	}
	for _, r := range []struct{ off, n int64 }{{0, 1 << 20}, {4096, 4096}, {37 * 4096, 300 * 1024}, {1<<20 - 8192, 8192}} {
		p := make([]byte, r.n)
		g, err := s.ReadInto(ctx, "c", r.off, p)
		if err != nil || g != gen || !bytes.Equal(p, want[r.off:r.off+r.n]) {
			t.Fatalf("ReadInto %d+%d: gen %d (want %d), %v, equal %v", r.off, r.n, g, gen, err, bytes.Equal(p, want[r.off:r.off+r.n]))
		}
	}
	for _, r := range []struct{ off, n int64 }{{100, 4096}, {0, 4000}, {1 << 20, 4096}, {-4096, 4096}} {
		if _, err := s.ReadInto(ctx, "c", r.off, make([]byte, r.n)); !errs.Is(err, errs.Invalid) {
			t.Errorf("ReadInto %d+%d: %v, want Invalid", r.off, r.n, err)
		}
	}
	if _, err := s.ReadInto(ctx, "nope", 0, make([]byte, 4096)); !errs.Is(err, errs.NotFound) {
		t.Errorf("ReadInto of a missing chunk: %v, want NotFound", err)
	}

	// Rot one block of the chunk on the disk, where it is once the move
	// the whole read started (compact.go) is done.
	waitCompactions(t, s)
	rec, err := s.lookup("c")
	if err != nil {
		t.Fatal(err)
	}
	smash(t, f.path, rec.exts[0].off+10)
	if _, err := s.ReadInto(ctx, "c", 0, make([]byte, 8192)); !errs.Is(err, errs.Corrupt) {
		t.Fatalf("ReadInto over a rotten block: %v, want Corrupt", err)
	}
}

// directIO counts reads, direct ones apart, and can fail the direct ones.
type directIO struct {
	countIO
	direct atomic.Int32
	fail   bool
}

func (d *directIO) ReadDirectAt(ctx context.Context, p []byte, off int64) error {
	d.direct.Add(1)
	if d.fail {
		return errs.Errorf("test", errs.Internal, "no direct reads today")
	}
	return disk.ReadDirect(ctx, d.Disk, p, off)
}

// TestReadAcrossGaps: a patch of every other block leaves the chunk's
// first extent with a hole per block; a whole read takes that extent in
// one direct read, gaps and all, where the disk can read past its cache,
// and piece by piece where it cannot or the direct read fails.
func TestReadAcrossGaps(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	s := f.format(t, 64<<20, "d1")
	want := randBytes(1<<20, 7)
	if err := s.Put(ctx, "c", want); err != nil {
		t.Fatal(err)
	}
	want = bytes.Clone(want)
	var ranges []Range
	for blk := int64(1); blk < 256; blk += 2 {
		ranges = append(ranges, Range{Off: blk * disk.BlockSize, Data: randBytes(disk.BlockSize, uint64(blk))})
		copy(want[blk*disk.BlockSize:], ranges[len(ranges)-1].Data)
	}
	if _, err := s.PatchRangesNoSync(ctx, "c", ranges, 0); err != nil {
		t.Fatal(err)
	}
	rec, err := s.lookup("c")
	if err != nil || len(rec.exts) < 200 {
		t.Fatalf("chunk in %d extents, want a piece per block: %v", len(rec.exts), err)
	}
	inner := s.d
	for _, fail := range []bool{false, true} {
		d := &directIO{countIO: countIO{Disk: inner}, fail: fail}
		s.d = d
		got := disk.AlignedBuffer(1 << 20)
		if err := s.readInto(ctx, rec, got, 0, 256); err != nil || !bytes.Equal(got, want) {
			t.Fatalf("direct reads failing %v: equal %v, %v", fail, bytes.Equal(got, want), err)
		}
		if d.direct.Load() != 1 {
			t.Errorf("direct reads failing %v: %d direct reads, want the gapped extent in one", fail, d.direct.Load())
		}
		// Without failures: the patch's run is one plain read; with: also
		// the 128 blocks of the gapped extent one by one.
		if most := map[bool]int32{false: 1, true: 129}[fail]; d.reads.Load() > most {
			t.Errorf("direct reads failing %v: %d plain reads, want at most %d", fail, d.reads.Load(), most)
		}
	}
	s.d = &countIO{Disk: inner} // no direct reads: a read per piece of the gapped extent
	got := disk.AlignedBuffer(1 << 20)
	if err := s.readInto(ctx, rec, got, 0, 256); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("plain reads: equal %v, %v", bytes.Equal(got, want), err)
	}
	if n := s.d.(*countIO).reads.Load(); n != 129 {
		t.Errorf("plain reads: %d, want 129 (128 pieces apart and one run)", n)
	}
}
