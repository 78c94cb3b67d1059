package disk_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/wolke-cloud/wolke/chunk/disk"
	"github.com/wolke-cloud/wolke/chunk/disk/disktest"
	"github.com/wolke-cloud/wolke/internal/errs"
)

func TestMemory(t *testing.T) {
	disktest.Run(t, func(t *testing.T, size int64) disk.Disk {
		d, err := disk.NewMemory(size)
		if err != nil {
			t.Fatal(err)
		}
		return d
	})
}

func TestFile(t *testing.T) {
	disktest.RunPersistent(t,
		func(t *testing.T, size int64) disk.Disk {
			d, err := disk.CreateFile(filepath.Join(t.TempDir(), "disk"), size)
			if err != nil {
				t.Fatal(err)
			}
			return d
		},
		func(t *testing.T, d disk.Disk) disk.Disk {
			path := d.(*disk.Device).Path()
			if err := d.Close(); err != nil {
				t.Fatal(err)
			}
			d2, err := disk.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			return d2
		})
}

// TestBlock runs the suite on a loop device over a sparse file; tests run as
// root, and a missing losetup is a failure, not a skip.
func TestBlock(t *testing.T) {
	disktest.RunPersistent(t,
		func(t *testing.T, size int64) disk.Disk {
			dev := loopDevice(t, size)
			d, err := disk.OpenBlock(dev)
			if err != nil {
				t.Fatal(err)
			}
			if !d.Direct() {
				t.Fatal("a block device was opened without O_DIRECT")
			}
			return d
		},
		func(t *testing.T, d disk.Disk) disk.Disk {
			path := d.(*disk.Device).Path()
			if err := d.Close(); err != nil {
				t.Fatal(err)
			}
			d2, err := disk.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			return d2
		})
}

func loopDevice(t *testing.T, size int64) string {
	t.Helper()
	backing := filepath.Join(t.TempDir(), "backing")
	if err := os.WriteFile(backing, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(backing, size); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("losetup", "-f", "--show", backing).CombinedOutput()
	if err != nil {
		t.Fatalf("losetup: %v: %s", err, out)
	}
	dev := strings.TrimSpace(string(out))
	t.Cleanup(func() {
		if out, err := exec.Command("losetup", "-d", dev).CombinedOutput(); err != nil {
			t.Errorf("losetup -d %s: %v: %s", dev, err, out)
		}
	})
	return dev
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	existing := filepath.Join(dir, "existing")
	if err := os.WriteFile(existing, make([]byte, disk.BlockSize), 0o600); err != nil {
		t.Fatal(err)
	}
	tiny := filepath.Join(dir, "tiny")
	if err := os.WriteFile(tiny, make([]byte, 100), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		open func() (*disk.Device, error)
		kind errs.Kind
	}{
		{"missing", func() (*disk.Device, error) { return disk.Open(filepath.Join(dir, "nope")) }, errs.NotFound},
		{"create existing", func() (*disk.Device, error) { return disk.CreateFile(existing, 1<<20) }, errs.Exists},
		{"unaligned size", func() (*disk.Device, error) { return disk.CreateFile(filepath.Join(dir, "x"), 1000) }, errs.Invalid},
		{"smaller than a block", func() (*disk.Device, error) { return disk.OpenFile(tiny) }, errs.Invalid},
		{"file as block device", func() (*disk.Device, error) { return disk.OpenBlock(existing) }, errs.Invalid},
		{"directory", func() (*disk.Device, error) { return disk.Open(dir) }, errs.Invalid},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, err := c.open()
			if err == nil {
				_ = d.Close()
			}
			if !errs.Is(err, c.kind) {
				t.Fatalf("err = %v, want kind %v", err, c.kind)
			}
		})
	}
}

// TestFileWriteVMany: a vector write of more buffers than one pwritev
// takes (IOV_MAX) goes out in several and reads back whole.
func TestFileWriteVMany(t *testing.T) {
	const blocks = 2500
	d, err := disk.CreateFile(filepath.Join(t.TempDir(), "disk"), 2*blocks*disk.BlockSize)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	src := disk.AlignedBuffer(blocks * disk.BlockSize)
	for i := range src {
		src[i] = byte(i*7 + i/disk.BlockSize)
	}
	bufs := make([][]byte, blocks)
	for i := range bufs {
		bufs[i] = src[i*disk.BlockSize : (i+1)*disk.BlockSize]
	}
	ctx := context.Background()
	if err := disk.WriteV(ctx, d, bufs, disk.BlockSize); err != nil {
		t.Fatal(err)
	}
	got := disk.AlignedBuffer(len(src))
	if err := d.ReadAt(ctx, got, disk.BlockSize); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, src) {
		t.Fatal("a vector write of 2500 buffers reads back different")
	}
}

// TestCreateFullFile: a preallocated disk file is written in full, reads
// zeros, reports its progress up to its size, and passes the suite.
func TestCreateFullFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "disk")
	var done atomic.Int64
	d, err := disk.CreateFullFile(context.Background(), path, 9<<20, func(n int64) { done.Store(max(done.Load(), n)) })
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if !disk.FullyAllocated(path) || done.Load() != 9<<20 || d.Size() != 9<<20 {
		t.Fatalf("written in full %v, progress %d, size %d", disk.FullyAllocated(path), done.Load(), d.Size())
	}
	buf := disk.AlignedBuffer(1 << 20)
	if err := d.ReadAt(context.Background(), buf, 8<<20); err != nil || !bytes.Equal(buf, make([]byte, len(buf))) {
		t.Fatalf("last MiB: %v, zeros %v", err, bytes.Equal(buf, make([]byte, len(buf))))
	}
	if _, err := disk.CreateFullFile(context.Background(), path, 1<<20, nil); err == nil {
		t.Fatal("CreateFullFile over an existing file")
	}
	disktest.Run(t, func(t *testing.T, size int64) disk.Disk {
		d, err := disk.CreateFullFile(context.Background(), filepath.Join(t.TempDir(), "disk"), size, nil)
		if err != nil {
			t.Fatal(err)
		}
		return d
	})
}

// TestFileWriteCached: a write through the page cache reads back, is
// durable after Sync and a reopen, and a later direct write over the same
// range wins, in memory and on the file, over the cached pages.
func TestFileWriteCached(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "disk")
	d, err := disk.CreateFile(path, 64*disk.BlockSize)
	if err != nil {
		t.Fatal(err)
	}
	fill := func(b byte) []byte {
		p := disk.AlignedBuffer(4 * disk.BlockSize)
		for i := range p {
			p[i] = b + byte(i/disk.BlockSize)
		}
		return p
	}
	read := func(d disk.Disk, off int64) []byte {
		got := disk.AlignedBuffer(4 * disk.BlockSize)
		if err := d.ReadAt(ctx, got, off); err != nil {
			t.Fatal(err)
		}
		return got
	}
	cached, direct := fill(1), fill(100)
	if err := disk.WriteCached(ctx, d, cached, 8*disk.BlockSize); err != nil {
		t.Fatal(err)
	}
	if err := disk.WriteCached(ctx, d, cached, 16*disk.BlockSize); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(read(d, 8*disk.BlockSize), cached) {
		t.Fatal("a cached write reads back different")
	}
	// Over dirty cached pages, then over clean ones after a sync.
	if err := d.WriteAt(ctx, direct, 8*disk.BlockSize); err != nil {
		t.Fatal(err)
	}
	if err := d.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(read(d, 8*disk.BlockSize), direct) {
		t.Fatal("a direct write over cached dirty pages reads back the cached bytes")
	}
	if err := d.WriteAt(ctx, direct, 16*disk.BlockSize); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(read(d, 16*disk.BlockSize), direct) {
		t.Fatal("a direct write over cached clean pages reads back the cached bytes")
	}
	if err := disk.WriteCached(ctx, d, cached, 32*disk.BlockSize); err != nil {
		t.Fatal(err)
	}
	if err := d.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	d2, err := disk.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer d2.Close()
	if err := d2.DropCache(0, d2.Size()); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		off  int64
		want []byte
	}{{8, direct}, {16, direct}, {32, cached}} {
		if !bytes.Equal(read(d2, c.off*disk.BlockSize), c.want) {
			t.Fatalf("after reopen, block %d reads back different", c.off)
		}
	}
	mem, err := disk.NewMemory(16 * disk.BlockSize)
	if err != nil {
		t.Fatal(err)
	}
	if err := disk.WriteCached(ctx, mem, cached, 0); err != nil || !bytes.Equal(read(mem, 0), cached) {
		t.Fatalf("WriteCached on a disk without a page cache: %v", err)
	}
}
