package store

import (
	"bytes"
	"context"
	"testing"

	"github.com/wolke-cloud/wolke/chunk/disk"
	"github.com/wolke-cloud/wolke/internal/errs"
)

// TestRestore gives back a copy of a patched chunk at its generation: it
// takes patches from there, survives a reopen, and never replaces a chunk
// that exists.
func TestRestore(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	s := f.format(t, 64<<20, "d1")
	data := bytes.Repeat([]byte("restored"), 2*disk.BlockSize/8)
	if err := s.Restore(ctx, "c", data, 7); err != nil {
		t.Fatal(err)
	}
	if info, err := s.Stat(ctx, "c"); err != nil || info.Gen != 7 || info.Length != int64(len(data)) {
		t.Fatalf("stat after restore: %+v, %v; want gen 7, length %d", info, err, len(data))
	}
	if _, err := s.Patch(ctx, "c", 0, make([]byte, disk.BlockSize), 6); !errs.Is(err, errs.Precondition) {
		t.Fatalf("patch from generation 6: %v, want Precondition", err)
	}
	if g, err := s.Patch(ctx, "c", 0, make([]byte, disk.BlockSize), 7); err != nil || g != 8 {
		t.Fatalf("patch from generation 7: gen %d, %v; want 8", g, err)
	}
	copy(data, make([]byte, disk.BlockSize))
	// An existing chunk is never replaced, whatever the generation.
	_, used := s.Usage()
	if err := s.Restore(ctx, "c", bytes.Repeat([]byte{9}, 3*disk.BlockSize), 0); !errs.Is(err, errs.Exists) {
		t.Fatalf("restore over an existing chunk: %v, want Exists", err)
	}
	if _, after := s.Usage(); after != used {
		t.Fatalf("refused restore kept space: used %d, was %d", after, used)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = f.mustOpen(t)
	got, g, err := s.GetRangeGen(ctx, "c", 0, -1)
	if err != nil || g != 8 || !bytes.Equal(got, data) {
		t.Fatalf("after reopen: gen %d (want 8), equal %v, err %v", g, bytes.Equal(got, data), err)
	}
	// A deleted chunk may be restored again.
	if err := s.Delete(ctx, "c"); err != nil {
		t.Fatal(err)
	}
	if err := s.Restore(ctx, "c", data, 8); err != nil {
		t.Fatalf("restore after delete: %v", err)
	}
}
