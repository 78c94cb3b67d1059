package disk

import (
	"context"

	"github.com/wolke-cloud/wolke/internal/errs"
)

// CachingWriter is a Disk that can also write through the page cache, so
// that what it writes is read back from memory. Like WriteAt, the data is
// durable only after Sync.
type CachingWriter interface {
	WriteCachedAt(ctx context.Context, p []byte, off int64) error
}

// WriteCached writes p at off through the page cache when d is a
// CachingWriter, else as WriteAt does.
func WriteCached(ctx context.Context, d Disk, p []byte, off int64) error {
	if c, ok := d.(CachingWriter); ok {
		return c.WriteCachedAt(ctx, p, off)
	}
	return d.WriteAt(ctx, p, off)
}

// DirectReader is a Disk that can also read from the medium past its page
// cache, leaving nothing in the cache: for a read across blocks the caller
// does not own, which a concurrent direct write may be filling. Read
// through the cache, such blocks could stay there stale.
type DirectReader interface {
	ReadDirectAt(ctx context.Context, p []byte, off int64) error
}

// ReadDirect reads p at off past the page cache when d is a DirectReader;
// else it fails (Invalid) and reads nothing: there is no safe fallback,
// the caller reads only what it owns instead.
func ReadDirect(ctx context.Context, d Disk, p []byte, off int64) error {
	if r, ok := d.(DirectReader); ok {
		return r.ReadDirectAt(ctx, p, off)
	}
	return errs.Errorf("disk.ReadDirect", errs.Invalid, "the disk cannot read past its cache")
}

// WriteCachedAt implements CachingWriter with a write on the read
// descriptor, which is not O_DIRECT. Sync (fdatasync) writes the inode's
// dirty pages, whichever descriptor made them. The kernel keeps cached and
// direct I/O coherent: a later direct write to the range writes the dirty
// pages back and drops them first.
func (d *Device) WriteCachedAt(ctx context.Context, p []byte, off int64) error {
	const op = "disk.WriteAt"
	if err := d.begin(ctx, op, off, int64(len(p))); err != nil {
		return err
	}
	defer d.mu.RUnlock()
	return d.pwriteAll(op, d.rfd, p, off)
}

// ReadDirectAt implements DirectReader on the O_DIRECT descriptor; p's
// address must be BlockSize aligned. The kernel writes back any dirty
// cached pages of the range before it reads (WriteCachedAt's), so what
// the caller owns is current. On a file system without O_DIRECT that
// descriptor goes through the cache, but so do all writes: nothing there
// can go stale.
func (d *Device) ReadDirectAt(ctx context.Context, p []byte, off int64) error {
	const op = "disk.ReadAt"
	if err := d.begin(ctx, op, off, int64(len(p))); err != nil {
		return err
	}
	defer d.mu.RUnlock()
	if !IsAligned(p) {
		return errs.Errorf(op, errs.Invalid, "buffer not aligned for a direct read")
	}
	return d.preadAll(op, d.fd, p, off)
}
