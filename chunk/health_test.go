package chunk

import (
	"context"
	"testing"

	"github.com/wolke-cloud/wolke/chunk/disk"
)

// TestWatchedDiskFailsAfterErrorsInARow: device errors in a row mark the
// disk failed once; a success in between resets the count; errors that
// are the request's fault (a bad range) do not count.
func TestWatchedDiskFailsAfterErrorsInARow(t *testing.T) {
	ctx := context.Background()
	mem, err := disk.NewMemory(16 * disk.BlockSize)
	if err != nil {
		t.Fatal(err)
	}
	f := disk.NewFaulty(mem)
	calls := 0
	w := &watchedDisk{Disk: f, limit: 3, onFail: func(error) { calls++ }}
	buf := disk.AlignedBuffer(disk.BlockSize)
	bad := disk.Fault{Ops: disk.OpRead, Off: 0, Len: disk.BlockSize}
	f.Set(bad)
	for range 2 {
		_ = w.ReadAt(ctx, buf, 0)
	}
	if err := w.ReadAt(ctx, buf, disk.BlockSize); err != nil { // a good sector
		t.Fatal(err)
	}
	for range 2 {
		_ = w.ReadAt(ctx, buf, 0)
		_ = w.ReadAt(ctx, buf[:100], 0) // invalid: not counted
	}
	if w.failed.Load() || calls != 0 {
		t.Fatalf("failed after 2 errors in a row: %v, %d calls", w.failed.Load(), calls)
	}
	f.Set(disk.Fault{Ops: disk.OpAll})
	for range 5 {
		_ = w.Sync(ctx)
	}
	if !w.failed.Load() || calls != 1 {
		t.Fatalf("after 7 errors in a row: failed %v, %d calls, want true and 1", w.failed.Load(), calls)
	}
}

// TestWatchedDiskReadsDirect: the watch passes direct reads through to a
// disk that has them (so the store can read across gaps on it), and
// refuses them, without counting a device error, on one that has not.
func TestWatchedDiskReadsDirect(t *testing.T) {
	ctx := context.Background()
	dev, err := disk.CreateFile(t.TempDir()+"/d", 16*disk.BlockSize)
	if err != nil {
		t.Fatal(err)
	}
	defer dev.Close()
	want := disk.AlignedBuffer(2 * disk.BlockSize)
	for i := range want {
		want[i] = byte(i * 7)
	}
	if err := dev.WriteAt(ctx, want, disk.BlockSize); err != nil {
		t.Fatal(err)
	}
	got := disk.AlignedBuffer(len(want))
	if err := (&watchedDisk{Disk: dev, limit: 1}).ReadDirectAt(ctx, got, disk.BlockSize); err != nil || string(got) != string(want) {
		t.Fatalf("direct read through the watch: %v, equal %v", err, string(got) == string(want))
	}
	mem, err := disk.NewMemory(16 * disk.BlockSize)
	if err != nil {
		t.Fatal(err)
	}
	// Embedding the interface hides the memory disk's own direct reads.
	w := &watchedDisk{Disk: struct{ disk.Disk }{mem}, limit: 1}
	if err := w.ReadDirectAt(ctx, got, 0); err == nil || w.failed.Load() {
		t.Fatalf("direct read of a disk without them: %v, failed %v; want an error and the disk in service", err, w.failed.Load())
	}
}
