package disk

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/wolke-cloud/wolke/internal/errs"
)

// Device is a Disk on a file or a block device. Writes bypass the page
// cache (O_DIRECT) and are durable after Sync; reads go through it, on a
// second descriptor without readahead (WriteCachedAt writes through it
// too, for data about to be read again), so that data read again (a
// volume's hot blocks, an object read twice) comes from memory the kernel
// can take back, as MinIO's and SeaweedFS's reads do. The kernel keeps the
// two coherent: a direct write or a hole punch drops the cached pages of
// its range, and the store never reads a range while it is being written
// (new data goes to free space; freed space is reused only once no reader
// can still be on it).
type Device struct {
	path   string
	block  bool // a block device (ioctl discard) rather than a file (hole punch)
	direct bool // opened with O_DIRECT
	size   int64

	mu     sync.RWMutex // I/O holds it shared; Close exclusive
	f      *os.File
	fd     int
	rf     *os.File // reads; f itself when not direct
	rfd    int
	closed bool
}

// CreateFile creates a sparse file of size bytes (a positive multiple of
// BlockSize) standing in for a disk, and opens it. The file must not exist.
func CreateFile(path string, size int64) (*Device, error) {
	const op = "disk.CreateFile"
	if size <= 0 || size%BlockSize != 0 {
		return nil, errs.Errorf(op, errs.Invalid, "size %d is not a positive multiple of %d", size, BlockSize)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, errs.E(op, fileKind(err), err)
	}
	err = f.Truncate(size)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = syncDir(filepath.Dir(path))
	}
	if err != nil {
		_ = os.Remove(path)
		return nil, errs.E(op, errs.Internal, err)
	}
	return OpenFile(path)
}

// OpenFile opens an existing regular file as a disk. A size that is not a
// multiple of BlockSize is rounded down.
func OpenFile(path string) (*Device, error) {
	return openDevice("disk.OpenFile", path, false)
}

// OpenBlock opens a block device as a disk.
func OpenBlock(path string) (*Device, error) {
	return openDevice("disk.OpenBlock", path, true)
}

// Open opens a block device or an existing regular file, whichever path is.
// A missing path fails with errs.NotFound.
func Open(path string) (*Device, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, errs.E("disk.Open", fileKind(err), err)
	}
	isDev := st.Mode()&fs.ModeDevice != 0 && st.Mode()&fs.ModeCharDevice == 0
	if !isDev && !st.Mode().IsRegular() {
		return nil, errs.Errorf("disk.Open", errs.Invalid, "%s is neither a regular file nor a block device", path)
	}
	return openDevice("disk.Open", path, isDev)
}

func openDevice(op, path string, block bool) (*Device, error) {
	direct := true
	f, err := os.OpenFile(path, os.O_RDWR|unix.O_DIRECT, 0)
	if errors.Is(err, unix.EINVAL) && !block {
		// The file system has no O_DIRECT (tmpfs before Linux 6.6): go
		// through the page cache; Sync still makes writes durable.
		direct = false
		f, err = os.OpenFile(path, os.O_RDWR, 0)
	}
	if err != nil {
		return nil, errs.E(op, fileKind(err), err)
	}
	d := &Device{path: path, block: block, direct: direct, f: f, fd: int(f.Fd()), rf: f, rfd: int(f.Fd())}
	st, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, errs.E(op, errs.Internal, err)
	}
	isDev := st.Mode()&fs.ModeDevice != 0 && st.Mode()&fs.ModeCharDevice == 0
	switch {
	case block && !isDev:
		_ = f.Close()
		return nil, errs.Errorf(op, errs.Invalid, "%s is not a block device", path)
	case !block && !st.Mode().IsRegular():
		_ = f.Close()
		return nil, errs.Errorf(op, errs.Invalid, "%s is not a regular file", path)
	case block:
		var sz uint64
		if _, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(d.fd), unix.BLKGETSIZE64, uintptr(unsafe.Pointer(&sz))); e != 0 {
			_ = f.Close()
			return nil, errs.E(op, errs.Internal, path+": BLKGETSIZE64", e)
		}
		d.size = int64(sz)
	default:
		d.size = st.Size()
	}
	d.size -= d.size % BlockSize
	if d.size <= 0 {
		_ = f.Close()
		return nil, errs.Errorf(op, errs.Invalid, "%s is smaller than one block", path)
	}
	if direct {
		rf, err := os.OpenFile(path, os.O_RDWR, 0)
		if err != nil {
			_ = f.Close()
			return nil, errs.E(op, fileKind(err), err)
		}
		// Reads are exact: readahead would fill the cache with blocks
		// no one asked for.
		_ = unix.Fadvise(int(rf.Fd()), 0, 0, unix.FADV_RANDOM)
		d.rf, d.rfd = rf, int(rf.Fd())
	}
	return d, nil
}

// Path is the file or device path.
func (d *Device) Path() string { return d.path }

// Direct reports whether writes bypass the page cache (O_DIRECT). Only a
// file on a file system without O_DIRECT support is opened without it.
func (d *Device) Direct() bool { return d.direct }

// ReadAt implements Disk.
func (d *Device) ReadAt(ctx context.Context, p []byte, off int64) error {
	const op = "disk.ReadAt"
	if err := d.begin(ctx, op, off, int64(len(p))); err != nil {
		return err
	}
	defer d.mu.RUnlock()
	if len(p) == 0 {
		return nil
	}
	// The read descriptor is not O_DIRECT: any buffer will do.
	return d.preadAll(op, d.rfd, p, off)
}

// preadAll fills p from off on fd.
func (d *Device) preadAll(op string, fd int, p []byte, off int64) error {
	for done := 0; done < len(p); {
		n, err := unix.Pread(fd, p[done:], off+int64(done))
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return errs.E(op, ioKind(err), d.path, err)
		}
		if n == 0 {
			return errs.Errorf(op, errs.Internal, "%s: short read at %d", d.path, off+int64(done))
		}
		done += n
	}
	return nil
}

// DropCache implements Disk: it drops the page cache's copy of the range.
func (d *Device) DropCache(off, n int64) error {
	if err := d.begin(context.Background(), "disk.DropCache", off, n); err != nil {
		return err
	}
	defer d.mu.RUnlock()
	if err := unix.Fadvise(d.rfd, off, n, unix.FADV_DONTNEED); err != nil {
		return errs.E("disk.DropCache", errs.Internal, d.path, err)
	}
	return nil
}

// WriteAt implements Disk.
func (d *Device) WriteAt(ctx context.Context, p []byte, off int64) error {
	const op = "disk.WriteAt"
	if err := d.begin(ctx, op, off, int64(len(p))); err != nil {
		return err
	}
	defer d.mu.RUnlock()
	if len(p) == 0 {
		return nil
	}
	buf := p
	if !IsAligned(p) {
		buf = AlignedBuffer(len(p))
		copy(buf, p)
	}
	return d.pwriteAll(op, d.fd, buf, off)
}

// pwriteAll writes all of p at off on fd.
func (d *Device) pwriteAll(op string, fd int, p []byte, off int64) error {
	for done := 0; done < len(p); {
		n, err := unix.Pwrite(fd, p[done:], off+int64(done))
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return errs.E(op, ioKind(err), d.path, err)
		}
		done += n
	}
	return nil
}

// Sync implements Disk with fdatasync.
func (d *Device) Sync(ctx context.Context) error {
	const op = "disk.Sync"
	if err := d.begin(ctx, op, 0, 0); err != nil {
		return err
	}
	defer d.mu.RUnlock()
	for {
		err := unix.Fdatasync(d.fd)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return errs.E(op, ioKind(err), d.path, err)
		}
		return nil
	}
}

// Discard implements Disk: a hole punch on a file, BLKDISCARD on a device.
// Files and loop devices then read back zeros; a real device that does not
// promise zeros after TRIM may return anything until the range is written.
func (d *Device) Discard(ctx context.Context, off, n int64) error {
	const op = "disk.Discard"
	if err := d.begin(ctx, op, off, n); err != nil {
		return err
	}
	defer d.mu.RUnlock()
	if n == 0 {
		return nil
	}
	if !d.block {
		if err := unix.Fallocate(d.fd, unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, off, n); err != nil {
			return errs.E(op, errs.Internal, d.path, err)
		}
		return nil
	}
	r := [2]uint64{uint64(off), uint64(n)}
	if _, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(d.fd), unix.BLKDISCARD, uintptr(unsafe.Pointer(&r[0]))); e != 0 {
		return errs.E(op, errs.Internal, d.path+": BLKDISCARD", e)
	}
	return nil
}

// Size implements Disk.
func (d *Device) Size() int64 { return d.size }

// BlockSize implements Disk.
func (d *Device) BlockSize() int { return BlockSize }

// Close implements Disk.
func (d *Device) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil
	}
	d.closed = true
	if d.rf != d.f {
		_ = d.rf.Close()
	}
	if err := d.f.Close(); err != nil {
		return errs.E("disk.Close", errs.Internal, d.path, err)
	}
	return nil
}

// begin validates a request and takes the shared lock; the caller releases it.
func (d *Device) begin(ctx context.Context, op string, off, n int64) error {
	if err := ctxErr(ctx, op); err != nil {
		return err
	}
	if err := checkRange(op, off, n, d.size, BlockSize); err != nil {
		return err
	}
	d.mu.RLock()
	if d.closed {
		d.mu.RUnlock()
		return errs.E(op, errs.Unavailable, "disk closed")
	}
	return nil
}

// ioKind classifies an I/O error: a device that fails I/O is down
// (Unavailable), a full file system is NoSpace.
func ioKind(err error) errs.Kind {
	switch err {
	case unix.EIO, unix.ENXIO, unix.ENODEV:
		return errs.Unavailable
	case unix.ENOSPC, unix.EDQUOT:
		return errs.NoSpace
	}
	return errs.Internal
}

func fileKind(err error) errs.Kind {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return errs.NotFound
	case errors.Is(err, fs.ErrExist):
		return errs.Exists
	case errors.Is(err, fs.ErrPermission):
		return errs.Permission
	}
	return errs.Internal
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}
