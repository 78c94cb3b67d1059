// Package disktest is the one test suite every disk.Disk implementation
// passes.
package disktest

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/wolke-cloud/wolke/chunk/disk"
	"github.com/wolke-cloud/wolke/internal/errs"
)

// Size is the disk size the suite asks for.
const Size = 1 << 20

// Opener returns a fresh, zeroed disk of size bytes; the suite closes it.
type Opener func(t *testing.T, size int64) disk.Disk

// Reopener closes d and opens the same device again.
type Reopener func(t *testing.T, d disk.Disk) disk.Disk

// Run runs the suite against the disks open returns.
func Run(t *testing.T, open Opener) {
	tests := []struct {
		name string
		fn   func(t *testing.T, d disk.Disk)
	}{
		{"Geometry", testGeometry},
		{"RoundTrip", testRoundTrip},
		{"Unaligned", testUnaligned},
		{"OutOfRange", testOutOfRange},
		{"UnalignedMemory", testUnalignedMemory},
		{"WriteV", testWriteV},
		{"Discard", testDiscard},
		{"Rewrite", testRewrite},
		{"Concurrent", testConcurrent},
		{"Canceled", testCanceled},
		{"Closed", testClosed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := open(t, Size)
			t.Cleanup(func() { _ = d.Close() })
			tc.fn(t, d)
		})
	}
}

// RunPersistent runs the suite and also checks that written data survives
// closing and reopening the device.
func RunPersistent(t *testing.T, open Opener, reopen Reopener) {
	Run(t, open)
	t.Run("Persistence", func(t *testing.T) {
		ctx := context.Background()
		d := open(t, Size)
		want := pattern(3*disk.BlockSize, 7)
		mustWrite(t, d, want, 5*disk.BlockSize)
		if err := d.Sync(ctx); err != nil {
			t.Fatalf("Sync: %v", err)
		}
		d = reopen(t, d)
		t.Cleanup(func() { _ = d.Close() })
		if d.Size() != Size {
			t.Fatalf("Size after reopen = %d, want %d", d.Size(), Size)
		}
		if got := mustRead(t, d, len(want), 5*disk.BlockSize); !bytes.Equal(got, want) {
			t.Fatal("data changed across close/reopen")
		}
	})
}

func pattern(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	p := disk.AlignedBuffer(n)
	for i := range p {
		p[i] = byte(r.Uint32())
	}
	return p
}

func mustWrite(t *testing.T, d disk.Disk, p []byte, off int64) {
	t.Helper()
	if err := d.WriteAt(context.Background(), p, off); err != nil {
		t.Fatalf("WriteAt(%d bytes, %d): %v", len(p), off, err)
	}
}

func mustRead(t *testing.T, d disk.Disk, n int, off int64) []byte {
	t.Helper()
	p := disk.AlignedBuffer(n)
	if err := d.ReadAt(context.Background(), p, off); err != nil {
		t.Fatalf("ReadAt(%d bytes, %d): %v", n, off, err)
	}
	return p
}

func testGeometry(t *testing.T, d disk.Disk) {
	if d.Size() != Size {
		t.Fatalf("Size = %d, want %d", d.Size(), Size)
	}
	if bs := d.BlockSize(); bs <= 0 || disk.BlockSize%bs != 0 {
		t.Fatalf("BlockSize = %d, want a divisor of %d", bs, disk.BlockSize)
	}
	if got := mustRead(t, d, disk.BlockSize, Size-disk.BlockSize); !bytes.Equal(got, make([]byte, disk.BlockSize)) {
		t.Fatal("a fresh disk does not read back zeros")
	}
}

func testRoundTrip(t *testing.T, d disk.Disk) {
	cases := []struct {
		off int64
		n   int
	}{
		{0, disk.BlockSize},
		{disk.BlockSize, 2 * disk.BlockSize},
		{64 * disk.BlockSize, 16 * disk.BlockSize},
		{Size - disk.BlockSize, disk.BlockSize},
		{0, 0},
	}
	for i, c := range cases {
		want := pattern(c.n, uint64(i))
		mustWrite(t, d, want, c.off)
		if got := mustRead(t, d, c.n, c.off); !bytes.Equal(got, want) {
			t.Fatalf("case %d: read back differs from write at %d", i, c.off)
		}
	}
	if err := d.Sync(context.Background()); err != nil {
		t.Fatalf("Sync: %v", err)
	}
	// The neighbours of a write are untouched.
	mustWrite(t, d, pattern(disk.BlockSize, 99), 200*disk.BlockSize)
	for _, off := range []int64{199 * disk.BlockSize, 201 * disk.BlockSize} {
		if got := mustRead(t, d, disk.BlockSize, off); !bytes.Equal(got, make([]byte, disk.BlockSize)) {
			t.Fatalf("block at %d changed by a neighbouring write", off)
		}
	}
}

func testUnaligned(t *testing.T, d disk.Disk) {
	ctx := context.Background()
	cases := []struct {
		off int64
		n   int
	}{
		{1, disk.BlockSize},
		{disk.BlockSize / 2, disk.BlockSize},
		{0, 100},
		{0, disk.BlockSize + 1},
		{-disk.BlockSize, disk.BlockSize},
	}
	for _, c := range cases {
		p := disk.AlignedBuffer(c.n)
		if err := d.WriteAt(ctx, p, c.off); !errs.Is(err, errs.Invalid) {
			t.Errorf("WriteAt(%d bytes, %d) = %v, want Invalid", c.n, c.off, err)
		}
		if err := d.ReadAt(ctx, p, c.off); !errs.Is(err, errs.Invalid) {
			t.Errorf("ReadAt(%d bytes, %d) = %v, want Invalid", c.n, c.off, err)
		}
		if err := d.Discard(ctx, c.off, int64(c.n)); !errs.Is(err, errs.Invalid) {
			t.Errorf("Discard(%d, %d) = %v, want Invalid", c.off, c.n, err)
		}
	}
}

func testOutOfRange(t *testing.T, d disk.Disk) {
	ctx := context.Background()
	cases := []struct {
		off int64
		n   int
	}{
		{Size, disk.BlockSize},
		{Size - disk.BlockSize, 2 * disk.BlockSize},
		{2 * Size, disk.BlockSize},
	}
	for _, c := range cases {
		p := pattern(c.n, 1)
		if err := d.WriteAt(ctx, p, c.off); !errs.Is(err, errs.Invalid) {
			t.Errorf("WriteAt(%d bytes, %d) = %v, want Invalid", c.n, c.off, err)
		}
		if err := d.ReadAt(ctx, p, c.off); !errs.Is(err, errs.Invalid) {
			t.Errorf("ReadAt(%d bytes, %d) = %v, want Invalid", c.n, c.off, err)
		}
		if err := d.Discard(ctx, c.off, int64(c.n)); !errs.Is(err, errs.Invalid) {
			t.Errorf("Discard(%d, %d) = %v, want Invalid", c.off, c.n, err)
		}
	}
	// A refused write that overlapped the end left the last block alone.
	if got := mustRead(t, d, disk.BlockSize, Size-disk.BlockSize); !bytes.Equal(got, make([]byte, disk.BlockSize)) {
		t.Fatal("an out-of-range write changed the last block")
	}
}

// testUnalignedMemory: buffers at any address work (implementations that
// need aligned memory bounce through their own buffer).
func testUnalignedMemory(t *testing.T, d disk.Disk) {
	raw := make([]byte, 2*disk.BlockSize+1)
	p := raw[1:]
	copy(p, pattern(2*disk.BlockSize, 5))
	want := bytes.Clone(p)
	mustWrite(t, d, p, 8*disk.BlockSize)
	raw2 := make([]byte, 2*disk.BlockSize+3)
	q := raw2[3:]
	if err := d.ReadAt(context.Background(), q, 8*disk.BlockSize); err != nil {
		t.Fatalf("ReadAt into unaligned memory: %v", err)
	}
	if !bytes.Equal(q, want) {
		t.Fatal("unaligned memory round trip differs")
	}
}

// testWriteV: disk.WriteV writes its buffers back to back, aligned or
// not, and refuses a range past the end
// without writing any of it.
func testWriteV(t *testing.T, d disk.Disk) {
	ctx := context.Background()
	src := pattern(200*disk.BlockSize, 9)
	var bufs [][]byte
	for i := 0; i < 200; i++ {
		bufs = append(bufs, src[i*disk.BlockSize:(i+1)*disk.BlockSize])
	}
	if err := disk.WriteV(ctx, d, bufs, 4*disk.BlockSize); err != nil {
		t.Fatalf("WriteV of %d aligned blocks: %v", len(bufs), err)
	}
	if got := mustRead(t, d, len(src), 4*disk.BlockSize); !bytes.Equal(got, src) {
		t.Fatal("WriteV of aligned blocks reads back different")
	}
	raw := make([]byte, 2*disk.BlockSize+1)
	odd := raw[1:]
	copy(odd, pattern(2*disk.BlockSize, 10))
	three := [][]byte{bytes.Clone(src[:disk.BlockSize]), odd, src[disk.BlockSize : 2*disk.BlockSize]}
	if err := disk.WriteV(ctx, d, three, 220*disk.BlockSize); err != nil {
		t.Fatalf("WriteV with an unaligned buffer: %v", err)
	}
	want := bytes.Join(three, nil)
	if got := mustRead(t, d, len(want), 220*disk.BlockSize); !bytes.Equal(got, want) {
		t.Fatal("WriteV with an unaligned buffer reads back different")
	}
	end := [][]byte{src[:disk.BlockSize], src[disk.BlockSize : 2*disk.BlockSize]}
	if err := disk.WriteV(ctx, d, end, Size-disk.BlockSize); !errs.Is(err, errs.Invalid) {
		t.Fatalf("WriteV past the end = %v, want Invalid", err)
	}
	if got := mustRead(t, d, disk.BlockSize, Size-disk.BlockSize); !bytes.Equal(got, make([]byte, disk.BlockSize)) {
		t.Fatal("a refused WriteV changed the last block")
	}
}

func testDiscard(t *testing.T, d disk.Disk) {
	ctx := context.Background()
	data := pattern(8*disk.BlockSize, 11)
	mustWrite(t, d, data, 16*disk.BlockSize)
	if err := d.Sync(ctx); err != nil {
		t.Fatalf("Sync: %v", err)
	}
	mustRead(t, d, len(data), 16*disk.BlockSize) // now cached, where reads are
	if err := d.Discard(ctx, 18*disk.BlockSize, 4*disk.BlockSize); err != nil {
		t.Fatalf("Discard: %v", err)
	}
	got := mustRead(t, d, 8*disk.BlockSize, 16*disk.BlockSize)
	want := bytes.Clone(data)
	clear(want[2*disk.BlockSize : 6*disk.BlockSize])
	if !bytes.Equal(got, want) {
		t.Fatal("after Discard: want zeros in the range and the neighbours intact")
	}
	if err := d.Discard(ctx, 0, 0); err != nil {
		t.Fatalf("empty Discard: %v", err)
	}
}

// testRewrite reads blocks, writes them again and reads the new data: a
// disk that caches reads must drop what a write replaces.
func testRewrite(t *testing.T, d disk.Disk) {
	off := int64(32 * disk.BlockSize)
	for i := range uint64(3) {
		want := pattern(4*disk.BlockSize, 40+i)
		mustWrite(t, d, want, off)
		if got := mustRead(t, d, len(want), off); !bytes.Equal(got, want) {
			t.Fatalf("round %d: read back the old data after a rewrite", i)
		}
		// A read of one block in the middle, then a write of it alone.
		one := pattern(disk.BlockSize, 50+i)
		mustRead(t, d, disk.BlockSize, off+disk.BlockSize)
		mustWrite(t, d, one, off+disk.BlockSize)
		if got := mustRead(t, d, disk.BlockSize, off+disk.BlockSize); !bytes.Equal(got, one) {
			t.Fatalf("round %d: a one-block rewrite read back old data", i)
		}
		// Dropping the cached copy leaves the data as it is.
		if err := d.DropCache(off, 4*disk.BlockSize); err != nil {
			t.Fatalf("round %d: DropCache: %v", i, err)
		}
		if got := mustRead(t, d, disk.BlockSize, off+disk.BlockSize); !bytes.Equal(got, one) {
			t.Fatalf("round %d: read after DropCache differs", i)
		}
	}
}

func testConcurrent(t *testing.T, d disk.Disk) {
	const workers, rounds = 8, 8
	ctx := context.Background()
	var wg sync.WaitGroup
	errc := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			off := int64(w) * 4 * disk.BlockSize
			for r := range rounds {
				want := pattern(4*disk.BlockSize, uint64(w*rounds+r))
				if err := d.WriteAt(ctx, want, off); err != nil {
					errc <- err
					return
				}
				got := disk.AlignedBuffer(len(want))
				if err := d.ReadAt(ctx, got, off); err != nil {
					errc <- err
					return
				}
				if !bytes.Equal(got, want) {
					errc <- fmt.Errorf("worker %d round %d: read back differs", w, r)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}
}

func testCanceled(t *testing.T, d disk.Disk) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	p := pattern(disk.BlockSize, 1)
	if err := d.WriteAt(ctx, p, 0); !errs.Is(err, errs.Canceled) {
		t.Fatalf("WriteAt with a canceled context = %v, want Canceled", err)
	}
	if got := mustRead(t, d, disk.BlockSize, 0); !bytes.Equal(got, make([]byte, disk.BlockSize)) {
		t.Fatal("a canceled write changed the disk")
	}
}

func testClosed(t *testing.T, d disk.Disk) {
	if err := d.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	p := disk.AlignedBuffer(disk.BlockSize)
	if err := d.ReadAt(context.Background(), p, 0); !errs.Is(err, errs.Unavailable) {
		t.Fatalf("ReadAt after Close = %v, want Unavailable", err)
	}
	if err := d.WriteAt(context.Background(), p, 0); !errs.Is(err, errs.Unavailable) {
		t.Fatalf("WriteAt after Close = %v, want Unavailable", err)
	}
}
