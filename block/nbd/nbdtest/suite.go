package nbdtest

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/wolke-cloud/wolke/block/nbd"
)

// TestExport is the suite every nbd.Export implementation passes. open
// returns a fresh, zero-filled export of size bytes (a multiple of 1 MiB);
// the suite closes it.
func TestExport(t *testing.T, open func(t *testing.T, size int64) nbd.Export) {
	const size = 4 << 20
	ctx := context.Background()
	fresh := func(t *testing.T) nbd.Export {
		t.Helper()
		x := open(t, size)
		t.Cleanup(func() {
			if err := x.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
		if x.Size() != size {
			t.Fatalf("Size = %d, want %d", x.Size(), size)
		}
		return x
	}
	read := func(t *testing.T, x nbd.Export, off, n int64) []byte {
		t.Helper()
		// The server reuses READ buffers: an export must overwrite all of
		// p, holes too, so p starts out holding garbage.
		p := bytes.Repeat([]byte{0xa5}, int(n))
		if err := x.ReadAt(ctx, p, off); err != nil {
			t.Fatalf("ReadAt(%d, %d): %v", off, n, err)
		}
		return p
	}
	fill := func(n int, b byte) []byte { return bytes.Repeat([]byte{b}, n) }

	t.Run("ReadWrite", func(t *testing.T) {
		x := fresh(t)
		cases := []struct {
			off  int64
			n    int
			fua  bool
			fill byte
		}{
			{0, 512, false, 1},
			{512, 4096, true, 2},
			{3 << 20, 1 << 20, false, 3},
			{6000 * 512, 7 * 512, false, 4}, // crosses page boundaries unaligned
		}
		for _, c := range cases {
			if err := x.WriteAt(ctx, fill(c.n, c.fill), c.off, c.fua); err != nil {
				t.Fatalf("WriteAt(%d): %v", c.off, err)
			}
		}
		for _, c := range cases {
			if got := read(t, x, c.off, int64(c.n)); !bytes.Equal(got, fill(c.n, c.fill)) {
				t.Errorf("read at %d: data differs", c.off)
			}
		}
		if got := read(t, x, 1<<20, 4096); !bytes.Equal(got, make([]byte, 4096)) {
			t.Error("never written range does not read as zeroes")
		}
		if err := x.Flush(ctx); err != nil {
			t.Fatalf("Flush: %v", err)
		}
	})

	t.Run("ZeroAndTrim", func(t *testing.T) {
		cases := []struct {
			name string
			do   func(x nbd.Export, off, n int64) error
			zero bool // the range must read as zeroes afterwards
		}{
			{"zero", func(x nbd.Export, off, n int64) error { return x.Zero(ctx, off, n, false) }, true},
			{"zero-nohole", func(x nbd.Export, off, n int64) error { return x.Zero(ctx, off, n, true) }, true},
			{"trim", func(x nbd.Export, off, n int64) error { return x.Trim(ctx, off, n) }, false},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				x := fresh(t)
				if err := x.WriteAt(ctx, fill(2<<20, 0xab), 0, false); err != nil {
					t.Fatal(err)
				}
				// An aligned megabyte and an unaligned piece.
				for _, r := range [][2]int64{{1 << 20, 1 << 20}, {512, 1024}} {
					if err := c.do(x, r[0], r[1]); err != nil {
						t.Fatalf("%s(%d, %d): %v", c.name, r[0], r[1], err)
					}
					if c.zero && !bytes.Equal(read(t, x, r[0], r[1]), make([]byte, r[1])) {
						t.Errorf("%s(%d, %d): range does not read as zeroes", c.name, r[0], r[1])
					}
				}
				if !bytes.Equal(read(t, x, 1536, 4096), fill(4096, 0xab)) {
					t.Errorf("%s touched data outside its range", c.name)
				}
				checkStatus(t, x, 0, size)
			})
		}
	})

	t.Run("BlockStatus", func(t *testing.T) {
		x := fresh(t)
		if err := x.WriteAt(ctx, fill(64<<10, 7), 1<<20, false); err != nil {
			t.Fatal(err)
		}
		for _, r := range [][2]int64{{0, size}, {1 << 20, 4096}, {512, 512}, {(1 << 20) - 4096, 8192}} {
			checkStatus(t, x, r[0], r[1])
		}
		ext, err := x.BlockStatus(ctx, 1<<20, 4096)
		if err != nil {
			t.Fatal(err)
		}
		if ext[0].Hole || ext[0].Zero {
			t.Errorf("written data reported as %+v", ext[0])
		}
	})

	t.Run("Concurrent", func(t *testing.T) {
		x := fresh(t)
		var wg sync.WaitGroup
		errc := make(chan error, 16)
		for i := range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				off := int64(i) * 64 << 10
				if err := x.WriteAt(ctx, fill(64<<10, byte(i+1)), off, false); err != nil {
					errc <- err
					return
				}
				p := make([]byte, 64<<10)
				if err := x.ReadAt(ctx, p, off); err != nil {
					errc <- err
					return
				}
				if !bytes.Equal(p, fill(64<<10, byte(i+1))) {
					errc <- fmt.Errorf("writer %d: read back other data", i)
				}
			}()
		}
		wg.Wait()
		close(errc)
		for err := range errc {
			t.Error(err)
		}
	})
}

// checkStatus checks that BlockStatus(off, n) starts at off, covers at
// most n bytes with positive lengths, and that ranges flagged Zero read
// as zeroes.
func checkStatus(t *testing.T, x nbd.Export, off, n int64) {
	t.Helper()
	ctx := context.Background()
	ext, err := x.BlockStatus(ctx, off, n)
	if err != nil {
		t.Fatalf("BlockStatus(%d, %d): %v", off, n, err)
	}
	if len(ext) == 0 {
		t.Fatalf("BlockStatus(%d, %d): no extent", off, n)
	}
	pos := off
	for _, e := range ext {
		if e.Length <= 0 {
			t.Fatalf("BlockStatus(%d, %d): extent length %d", off, n, e.Length)
		}
		l := min(e.Length, off+n-pos)
		if l <= 0 {
			break
		}
		if e.Zero {
			p := make([]byte, l)
			if err := x.ReadAt(ctx, p, pos); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(p, make([]byte, l)) {
				t.Errorf("BlockStatus: [%d, %d) flagged zero but holds data", pos, pos+l)
			}
		}
		pos += l
	}
}
