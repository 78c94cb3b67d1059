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
