package store

import (
	"bytes"
	"context"
	"testing"

	"github.com/wolke-cloud/wolke/chunk/disk"
)

func TestGather(t *testing.T) {
	b := func(n int) []byte { return make([]byte, n*disk.BlockSize) }
	const B = disk.BlockSize
	pieces := []piece{
		{b(1), 10 * B}, {b(2), 0}, {b(1), 2 * B}, // 0..3 follow each other
		{b(1), 11 * B}, // after 10
		{b(1), 20 * B}, // alone
	}
	got := gather(pieces)
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
	if got := gather(many); len(got) != 2 || got[0].n != maxSpan {
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
