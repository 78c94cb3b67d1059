package nbdtest

import (
	"context"
	"errors"
	"os"

	"golang.org/x/sys/unix"

	"github.com/wolke-cloud/wolke/block/nbd"
	"github.com/wolke-cloud/wolke/internal/errs"
)

// File is an export on a sparse file: TRIM punches holes and
// BlockStatus reads the file's allocation with SEEK_DATA/SEEK_HOLE.
type File struct {
	f    *os.File
	size int64
}

// CreateFile creates (or truncates) a sparse file of size bytes.
func CreateFile(path string, size int64) (*File, error) {
	const op = "nbdtest.CreateFile"
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, errs.E(op, errs.Internal, err)
	}
	if err := f.Truncate(size); err != nil {
		_ = f.Close()
		return nil, errs.E(op, errs.Internal, err)
	}
	return &File{f: f, size: size}, nil
}

func (x *File) Size() int64 { return x.size }

func (x *File) ReadAt(_ context.Context, p []byte, off int64) error {
	if _, err := x.f.ReadAt(p, off); err != nil {
		return errs.E("nbdtest.File.ReadAt", errs.Internal, err)
	}
	return nil
}

func (x *File) WriteAt(ctx context.Context, p []byte, off int64, fua bool) error {
	if _, err := x.f.WriteAt(p, off); err != nil {
		return errs.E("nbdtest.File.WriteAt", errs.Internal, err)
	}
	if fua {
		return x.Flush(ctx)
	}
	return nil
}

func (x *File) Flush(context.Context) error {
	if err := unix.Fdatasync(int(x.f.Fd())); err != nil {
		return errs.E("nbdtest.File.Flush", errs.Internal, err)
	}
	return nil
}

func (x *File) Trim(_ context.Context, off, n int64) error {
	return x.fallocate("nbdtest.File.Trim", unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, off, n)
}

func (x *File) Zero(_ context.Context, off, n int64, noHole bool) error {
	const op = "nbdtest.File.Zero"
	if !noHole {
		return x.fallocate(op, unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, off, n)
	}
	err := unix.Fallocate(int(x.f.Fd()), unix.FALLOC_FL_ZERO_RANGE|unix.FALLOC_FL_KEEP_SIZE, off, n)
	if err == nil {
		return nil
	}
	// No ZERO_RANGE here: write the zeroes.
	buf := make([]byte, min(n, 1<<20))
	for n > 0 {
		l := min(n, int64(len(buf)))
		if _, err := x.f.WriteAt(buf[:l], off); err != nil {
			return errs.E(op, errs.Internal, err)
		}
		off, n = off+l, n-l
	}
	return nil
}

func (x *File) fallocate(op string, mode uint32, off, n int64) error {
	if err := unix.Fallocate(int(x.f.Fd()), mode, off, n); err != nil {
		return errs.E(op, errs.Internal, err)
	}
	return nil
}

// BlockStatus reports data as allocated and holes as zero holes.
func (x *File) BlockStatus(_ context.Context, off, n int64) ([]nbd.Extent, error) {
	const op = "nbdtest.File.BlockStatus"
	fd := int(x.f.Fd())
	end := off + n
	var out []nbd.Extent
	for off < end {
		data, err := unix.Seek(fd, off, unix.SEEK_DATA)
		if errors.Is(err, unix.ENXIO) {
			data = x.size // no data after off
		} else if err != nil {
			return nil, errs.E(op, errs.Internal, err)
		}
		if data > off { // a hole up to data
			l := min(data, end) - off
			out = append(out, nbd.Extent{Length: l, Hole: true, Zero: true})
			off += l
			continue
		}
		hole, err := unix.Seek(fd, off, unix.SEEK_HOLE)
		if err != nil {
			return nil, errs.E(op, errs.Internal, err)
		}
		l := min(hole, end) - off
		out = append(out, nbd.Extent{Length: l})
		off += l
	}
	return out, nil
}

func (x *File) Close() error { return x.f.Close() }
