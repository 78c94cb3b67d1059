package store

import (
	"bytes"
	"context"
	"math/rand/v2"
	"testing"

	"github.com/wolke-cloud/wolke/chunk/disk"
	"github.com/wolke-cloud/wolke/internal/errs"
)

func TestPatch(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	s := f.format(t, 64<<20, "d1")
	want := make([]byte, 1<<20)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range want {
		want[i] = byte(r.Uint32())
	}
	if err := s.Put(ctx, "c", want); err != nil {
		t.Fatal(err)
	}
	_, capBefore := s.Usage()
	gen := uint64(0)
	for i := range 200 {
		off := int64(r.IntN(256)) * disk.BlockSize
		n := int64(1+r.IntN(8)) * disk.BlockSize
		n = min(n, int64(len(want))-off)
		p := make([]byte, n)
		for j := range p {
			p[j] = byte(r.Uint32())
		}
		g, err := s.Patch(ctx, "c", off, p, gen)
		if err != nil {
			t.Fatalf("patch %d: %v", i, err)
		}
		if g != gen+1 {
			t.Fatalf("patch %d: generation %d, want %d", i, g, gen+1)
		}
		gen = g
		copy(want[off:], p)
	}
	if rec, err := s.lookup("c"); err != nil || len(rec.exts) > maxFragments {
		t.Fatalf("chunk in %d extents after patches (at most %d): %v", len(rec.exts), maxFragments, err)
	}
	got, g, err := s.GetRangeGen(ctx, "c", 0, -1)
	if err != nil || g != gen || !bytes.Equal(got, want) {
		t.Fatalf("after patches: gen %d (want %d), equal %v, err %v", g, gen, bytes.Equal(got, want), err)
	}
	info, err := s.Stat(ctx, "c")
	if err != nil || info.Gen != gen || info.CRC32C != crc32c(want) {
		t.Fatalf("stat: %+v, want gen %d crc %08x: %v", info, gen, crc32c(want), err)
	}
	if _, capAfter := s.Usage(); capAfter != capBefore {
		t.Fatalf("patches leaked space: used %d, was %d", capAfter, capBefore)
	}
	// A stale base generation is refused and changes nothing.
	if _, err := s.Patch(ctx, "c", 0, make([]byte, disk.BlockSize), gen-1); !errs.Is(err, errs.Precondition) {
		t.Fatalf("stale base: %v, want Precondition", err)
	}
	for _, bad := range []struct{ off, n int64 }{{100, disk.BlockSize}, {0, 100}, {1 << 20, disk.BlockSize}} {
		if _, err := s.Patch(ctx, "c", bad.off, make([]byte, bad.n), gen); !errs.Is(err, errs.Invalid) {
			t.Fatalf("patch %d+%d: %v, want Invalid", bad.off, bad.n, err)
		}
	}
	if _, err := s.Patch(ctx, "nope", 0, make([]byte, disk.BlockSize), 0); !errs.Is(err, errs.NotFound) {
		t.Fatalf("missing chunk: %v", err)
	}
	// Survives a restart.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2, err := f.open(t, testCluster)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	got, g, err = s2.GetRangeGen(ctx, "c", 0, -1)
	if err != nil || g != gen || !bytes.Equal(got, want) {
		t.Fatalf("after restart: gen %d, equal %v, err %v", g, bytes.Equal(got, want), err)
	}
}

// TestPatchCrashBeforeCommit: the new blocks of a Patch are on disk but
// its index commit never happened; the chunk must read as before, with
// its old generation, and its space must not leak.
func TestPatchCrashBeforeCommit(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	s := f.format(t, 64<<20, "d1")
	old := bytes.Repeat([]byte{0xaa}, 1<<20)
	if err := s.Put(ctx, "c", old); err != nil {
		t.Fatal(err)
	}
	_, usedBefore := s.Usage()
	// What Patch does up to the commit: reserve and write the new blocks.
	fresh, err := s.reserve(disk.BlockSize)
	if err != nil {
		t.Fatal(err)
	}
	nb := disk.AlignedBuffer(disk.BlockSize)
	for i := range nb {
		nb[i] = 0x55
	}
	if err := s.d.WriteAt(ctx, nb, fresh[0].off); err != nil {
		t.Fatal(err)
	}
	if err := s.d.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	// Crash: the store goes away without committing.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2, err := f.open(t, testCluster)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	got, g, err := s2.GetRangeGen(ctx, "c", 0, -1)
	if err != nil || g != 0 || !bytes.Equal(got, old) {
		t.Fatalf("after crash: gen %d, equal %v, err %v", g, bytes.Equal(got, old), err)
	}
	if _, used := s2.Usage(); used != usedBefore {
		t.Fatalf("used %d after restart, want %d", used, usedBefore)
	}
	if g, err := s2.Patch(ctx, "c", 0, nb, 0); err != nil || g != 1 {
		t.Fatalf("patch after restart: %d %v", g, err)
	}
}

func TestCRCShift(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	b := make([]byte, 5*disk.BlockSize)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	blocks := make([]uint32, 5)
	for i := range blocks {
		blocks[i] = crc32c(b[i*disk.BlockSize : (i+1)*disk.BlockSize])
	}
	s := &Store{blockShift: newBlockShift()}
	if got, want := s.combineBlocks(blocks), crc32c(b); got != want {
		t.Fatalf("combined %08x, want %08x", got, want)
	}
}
