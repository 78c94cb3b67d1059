package disk

import "context"

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
