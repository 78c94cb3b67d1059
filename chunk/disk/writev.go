package disk

import (
	"context"

	"golang.org/x/sys/unix"

	"github.com/wolke-cloud/wolke/internal/errs"
)

// VectorWriter is a Disk that writes several buffers, one after the other,
// in one request.
type VectorWriter interface {
	WriteVAt(ctx context.Context, bufs [][]byte, off int64) error
}

// WriteV writes bufs one after the other from off, as WriteAt would write
// their concatenation: in one request when d is a VectorWriter, else by
// writing a copy of their concatenation. Like WriteAt, it is durable only
// after Sync.
func WriteV(ctx context.Context, d Disk, bufs [][]byte, off int64) error {
	if len(bufs) == 1 {
		return d.WriteAt(ctx, bufs[0], off)
	}
	if v, ok := d.(VectorWriter); ok {
		return v.WriteVAt(ctx, bufs, off)
	}
	return d.WriteAt(ctx, concat(bufs), off)
}

// concat returns the buffers joined, in an aligned buffer.
func concat(bufs [][]byte) []byte {
	n := 0
	for _, b := range bufs {
		n += len(b)
	}
	out := AlignedBuffer(n)
	pos := 0
	for _, b := range bufs {
		pos += copy(out[pos:], b)
	}
	return out
}

// maxIovecs is IOV_MAX on Linux: the most buffers one pwritev takes.
const maxIovecs = 1024

// WriteVAt implements VectorWriter with pwritev. Without a copy unless
// the device is O_DIRECT and a buffer is not block aligned, in memory or
// in length: then the concatenation is written.
func (d *Device) WriteVAt(ctx context.Context, bufs [][]byte, off int64) error {
	const op = "disk.WriteVAt"
	total := int64(0)
	aligned := true
	for _, b := range bufs {
		total += int64(len(b))
		aligned = aligned && IsAligned(b) && len(b)%BlockSize == 0
	}
	if d.direct && !aligned {
		return d.WriteAt(ctx, concat(bufs), off)
	}
	if err := d.begin(ctx, op, off, total); err != nil {
		return err
	}
	defer d.mu.RUnlock()
	// pending is what is left to write: a partial write leaves the rest of
	// one buffer, which is still aligned (O_DIRECT writes whole blocks).
	pending := make([][]byte, 0, len(bufs))
	for _, b := range bufs {
		if len(b) > 0 {
			pending = append(pending, b)
		}
	}
	for len(pending) > 0 {
		batch := pending[:min(len(pending), maxIovecs)]
		n, err := unix.Pwritev(d.fd, batch, off)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return errs.E(op, ioKind(err), d.path, err)
		}
		if n == 0 {
			return errs.E(op, errs.Unavailable, d.path, "pwritev wrote nothing")
		}
		off += int64(n)
		for n > 0 {
			if k := len(pending[0]); n >= k {
				pending, n = pending[1:], n-k
				continue
			}
			pending[0], n = pending[0][n:], 0
		}
	}
	return nil
}
