package nbdtest

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/wolke-cloud/wolke/block/nbd"
	"github.com/wolke-cloud/wolke/internal/errs"
)

func TestMem(t *testing.T) {
	TestExport(t, func(t *testing.T, size int64) nbd.Export { return NewMem(size) })
}

func TestFile(t *testing.T) {
	TestExport(t, func(t *testing.T, size int64) nbd.Export {
		f, err := CreateFile(filepath.Join(t.TempDir(), "vol"), size)
		if err != nil {
			t.Fatal(err)
		}
		return f
	})
}

// TestHoles checks that both exports really deallocate trimmed space, so
// the base:allocation tests against them mean something.
func TestHoles(t *testing.T) {
	ctx := context.Background()
	f, err := CreateFile(filepath.Join(t.TempDir(), "vol"), 4<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, x := range []nbd.Export{NewMem(4 << 20), f} {
		if err := x.WriteAt(ctx, make([]byte, 2<<20), 0, false); err != nil {
			t.Fatal(err)
		}
		if err := x.Trim(ctx, 1<<20, 1<<20); err != nil {
			t.Fatal(err)
		}
		ext, err := x.BlockStatus(ctx, 0, 4<<20)
		if err != nil {
			t.Fatal(err)
		}
		want := []nbd.Extent{{Length: 1 << 20}, {Length: 3 << 20, Hole: true, Zero: true}}
		if len(ext) != 2 || ext[0].Hole || ext[1] != want[1] || ext[0].Length != want[0].Length {
			t.Errorf("%T: extents %+v, want %+v", x, ext, want)
		}
	}
}

func TestExportsWriters(t *testing.T) {
	ctx := context.Background()
	x := NewExports()
	x.Add(nbd.ExportInfo{Name: "a"}, NewMem(1<<20))
	x.Add(nbd.ExportInfo{Name: "multi", MultiConn: true}, NewMem(1<<20))
	steps := []struct {
		name     string
		readOnly bool
		kind     errs.Kind // Other: success
	}{
		{"a", false, errs.Other},
		{"a", false, errs.Precondition},
		{"a", true, errs.Other},
		{"multi", false, errs.Other},
		{"multi", false, errs.Other},
		{"nope", true, errs.NotFound},
	}
	var open []nbd.Export
	for i, s := range steps {
		h, info, err := x.Open(ctx, s.name, s.readOnly)
		if s.kind == errs.Other {
			if err != nil {
				t.Fatalf("step %d: %v", i, err)
			}
			if info.Size != 1<<20 {
				t.Errorf("step %d: size %d", i, info.Size)
			}
			open = append(open, h)
			continue
		}
		if !errs.Is(err, s.kind) {
			t.Fatalf("step %d: err %v, want kind %v", i, err, s.kind)
		}
	}
	for _, h := range open {
		_ = h.Close()
		_ = h.Close() // twice is harmless
	}
	if n := x.Handles("a") + x.Handles("multi"); n != 0 {
		t.Fatalf("%d handles left open", n)
	}
	if _, _, err := x.Open(ctx, "a", false); err != nil {
		t.Fatalf("writer after close: %v", err)
	}
}
