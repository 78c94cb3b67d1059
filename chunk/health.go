package chunk

import (
	"context"
	"errors"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/wolke-cloud/wolke/chunk/disk"
)

// defaultFailAfterIOErrors is Config.FailAfterIOErrors when zero.
const defaultFailAfterIOErrors = 16

// watchedDisk counts the device errors of one disk (EIO, ENXIO, ENODEV:
// the disk, not the request, is at fault). A run of limit of them with no
// successful I/O in between marks the disk failed, once: a few bad
// sectors leave it in service (reads around them reconstruct, the
// scrubber and repair rewrite them), a dead disk does not stay in.
type watchedDisk struct {
	disk.Disk
	limit  int64
	run    atomic.Int64
	failed atomic.Bool
	onFail func(last error) // called once, when the disk is marked failed
}

func (w *watchedDisk) note(err error) error {
	switch {
	case err == nil:
		w.run.Store(0)
	case isDeviceError(err):
		if w.limit > 0 && w.run.Add(1) >= w.limit && w.failed.CompareAndSwap(false, true) && w.onFail != nil {
			w.onFail(err)
		}
	}
	return err
}

// isDeviceError reports whether err is the device's fault, not the
// request's.
func isDeviceError(err error) bool {
	return errors.Is(err, unix.EIO) || errors.Is(err, unix.ENXIO) || errors.Is(err, unix.ENODEV)
}

func (w *watchedDisk) ReadAt(ctx context.Context, p []byte, off int64) error {
	return w.note(w.Disk.ReadAt(ctx, p, off))
}

func (w *watchedDisk) WriteAt(ctx context.Context, p []byte, off int64) error {
	return w.note(w.Disk.WriteAt(ctx, p, off))
}

// WriteVAt implements disk.VectorWriter: the wrapped disk's, if it is one.
func (w *watchedDisk) WriteVAt(ctx context.Context, bufs [][]byte, off int64) error {
	return w.note(disk.WriteV(ctx, w.Disk, bufs, off))
}

// WriteCachedAt implements disk.CachingWriter: the wrapped disk's, if it
// is one.
func (w *watchedDisk) WriteCachedAt(ctx context.Context, p []byte, off int64) error {
	return w.note(disk.WriteCached(ctx, w.Disk, p, off))
}

// ReadDirectAt implements disk.DirectReader: the wrapped disk's, or an
// error if it is none (the store then reads piece by piece).
func (w *watchedDisk) ReadDirectAt(ctx context.Context, p []byte, off int64) error {
	return w.note(disk.ReadDirect(ctx, w.Disk, p, off))
}

func (w *watchedDisk) Sync(ctx context.Context) error { return w.note(w.Disk.Sync(ctx)) }

func (w *watchedDisk) Discard(ctx context.Context, off, n int64) error {
	return w.note(w.Disk.Discard(ctx, off, n))
}

// watch wraps d so that its device errors are counted; path names it until
// its id is known.
func (s *Server) watch(path string, d disk.Disk) *watchedDisk {
	w := &watchedDisk{Disk: d, limit: int64(s.cfg.FailAfterIOErrors)}
	w.onFail = func(last error) {
		id := ""
		for _, ds := range s.disks { // set in New, before any request
			if ds.info.Path == path {
				id = ds.info.ID
			}
		}
		s.log.Error("disk failed: too many I/O errors in a row; it should be replaced",
			"disk", id, "path", path, "errors_in_a_row", w.limit, "err", last)
		if id != "" {
			s.m.failed.WithLabelValues(id).Set(1)
		}
	}
	return w
}
