package disk

import (
	"context"
	"os"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/wolke-cloud/wolke/internal/errs"
)

// preallocChunk is what one writer of CreateFullFile writes at a time;
// preallocWriters write at once.
const (
	preallocChunk   = 4 << 20
	preallocWriters = 4
)

// CreateFullFile creates a file of size bytes standing in for a disk, as
// CreateFile does, and writes every block of it (zeros) before it returns
// the disk: a preallocated file. It holds its space from the start (a
// sparse file can meet a full file system in the middle of a write), and
// every later write is an overwrite, which a file system takes faster
// than a first write into a hole (no block allocation, no journalled
// conversion of unwritten extents, which fallocate would leave). The
// store keeps such a file's freed blocks (store.Options.KeepFreed).
// progress, if not nil, is called with the bytes written so far, from
// several goroutines.
func CreateFullFile(ctx context.Context, path string, size int64, progress func(done int64)) (*Device, error) {
	const op = "disk.CreateFullFile"
	d, err := CreateFile(path, size)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*Device, error) {
		_ = d.Close()
		_ = os.Remove(path)
		return nil, errs.E(op, errs.KindOf(err), err)
	}
	var next, done atomic.Int64
	errl := make([]error, preallocWriters)
	var wg sync.WaitGroup
	for w := range preallocWriters {
		wg.Go(func() {
			zero := AlignedBuffer(preallocChunk)
			for {
				off := next.Add(preallocChunk) - preallocChunk
				if off >= size {
					return
				}
				n := min(int64(preallocChunk), size-off)
				if err := d.WriteAt(ctx, zero[:n], off); err != nil {
					errl[w] = err
					next.Store(size) // the others stop too
					return
				}
				if progress != nil {
					progress(done.Add(n))
				}
			}
		})
	}
	wg.Wait()
	for _, err := range errl {
		if err != nil {
			return fail(err)
		}
	}
	if err := d.Sync(ctx); err != nil {
		return fail(err)
	}
	return d, nil
}

// FullyAllocated reports whether path is a regular file whose every byte
// has a block of the file system behind it (CreateFullFile made it, or it
// was written in full): hole punching would make it sparse again.
func FullyAllocated(path string) bool {
	fi, err := os.Stat(path)
	if err != nil || !fi.Mode().IsRegular() {
		return false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && st.Blocks*512 >= fi.Size()
}
