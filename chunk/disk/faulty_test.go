package disk_test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/wolke-cloud/wolke/chunk/disk"
	"github.com/wolke-cloud/wolke/chunk/disk/disktest"
	"github.com/wolke-cloud/wolke/internal/errs"
)

// TestFaultyHealthy: with no fault set the wrapper is a disk like any other.
func TestFaultyHealthy(t *testing.T) {
	disktest.Run(t, func(t *testing.T, size int64) disk.Disk {
		d, err := disk.NewMemory(size)
		if err != nil {
			t.Fatal(err)
		}
		return disk.NewFaulty(d)
	})
}

func TestFaultyFaults(t *testing.T) {
	const bs = disk.BlockSize
	ctx := context.Background()
	mem, err := disk.NewMemory(64 * bs)
	if err != nil {
		t.Fatal(err)
	}
	f := disk.NewFaulty(mem)
	data := bytes.Repeat([]byte{0x5a}, 4*bs)
	if err := f.WriteAt(ctx, data, 8*bs); err != nil {
		t.Fatal(err)
	}
	type call struct {
		name string
		do   func() error
	}
	read := func(off int64) call {
		return call{"read", func() error { return f.ReadAt(ctx, make([]byte, bs), off) }}
	}
	write := func(off int64) call {
		return call{"write", func() error { return f.WriteAt(ctx, make([]byte, bs), off) }}
	}
	dread := func(off int64) call {
		return call{"direct read", func() error { return f.ReadDirectAt(ctx, disk.AlignedBuffer(bs), off) }}
	}
	cwrite := func(off int64) call {
		return call{"cached write", func() error { return f.WriteCachedAt(ctx, make([]byte, bs), off) }}
	}
	sync := call{"sync", func() error { return f.Sync(ctx) }}
	discard := call{"discard", func() error { return f.Discard(ctx, 40*bs, bs) }}
	cases := []struct {
		name   string
		faults []disk.Fault
		fail   []call
		pass   []call
	}{
		{"none", nil, nil, []call{read(0), dread(0), write(0), cwrite(0), sync, discard}},
		{"all reads", []disk.Fault{{Ops: disk.OpRead}}, []call{read(0), read(63 * bs), dread(0)}, []call{write(0), cwrite(0), sync, discard}},
		{"reads of a range", []disk.Fault{{Ops: disk.OpRead, Off: 8 * bs, Len: 2 * bs}},
			[]call{read(8 * bs), read(9 * bs), dread(9 * bs)}, []call{read(7 * bs), dread(7 * bs), read(12 * bs), write(0)}},
		{"writes", []disk.Fault{{Ops: disk.OpWrite}}, []call{write(0), write(20 * bs), cwrite(0)}, []call{read(0), dread(0), sync}},
		{"sync", []disk.Fault{{Ops: disk.OpSync}}, []call{sync}, []call{read(0), write(0)}},
		{"everything", []disk.Fault{{Ops: disk.OpAll}}, []call{read(0), dread(0), write(0), cwrite(0), sync, discard}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f.Set(c.faults...)
			defer f.Set()
			before := f.Hits()
			for _, x := range c.fail {
				err := x.do()
				if !errs.Is(err, errs.Unavailable) || !errors.Is(err, unix.EIO) {
					t.Errorf("%s: err = %v, want an EIO of kind unavailable", x.name, err)
				}
			}
			for _, x := range c.pass {
				if err := x.do(); err != nil {
					t.Errorf("%s: %v, want success", x.name, err)
				}
			}
			if got := f.Hits() - before; got != int64(len(c.fail)) {
				t.Errorf("hits = %d, want %d", got, len(c.fail))
			}
		})
	}
	// A request that is wrong in itself is refused as such, fault or not.
	f.Set(disk.Fault{Ops: disk.OpAll})
	if err := f.ReadAt(ctx, make([]byte, 100), 0); !errs.Is(err, errs.Invalid) {
		t.Errorf("unaligned read under a fault: %v, want kind invalid", err)
	}
	// A failed write touches nothing.
	f.Set(disk.Fault{Ops: disk.OpWrite})
	if err := f.WriteAt(ctx, make([]byte, bs), 8*bs); err == nil {
		t.Fatal("write went through")
	}
	f.Set()
	got := make([]byte, 4*bs)
	if err := f.ReadAt(ctx, got, 8*bs); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("after a failed write: %v, data changed %v", err, !bytes.Equal(got, data))
	}
	// Corrupt flips exactly the bytes inside its range, on reads only, and
	// leaves the disk itself alone.
	f.Set(disk.Fault{Ops: disk.OpAll, Off: 9*bs + 10, Len: 3, Corrupt: true})
	if err := f.ReadAt(ctx, got, 8*bs); err != nil {
		t.Fatal(err)
	}
	for i, b := range got {
		want := byte(0x5a)
		if i >= bs+10 && i < bs+13 {
			want = 0x5a ^ 0xff
		}
		if b != want {
			t.Fatalf("byte %d = %#x, want %#x", i, b, want)
		}
	}
	direct := disk.AlignedBuffer(4 * bs)
	if err := f.ReadDirectAt(ctx, direct, 8*bs); err != nil || !bytes.Equal(direct, got) {
		t.Fatalf("a direct read under the corrupt fault: %v, same bytes as a plain read %v", err, bytes.Equal(direct, got))
	}
	if err := f.WriteAt(ctx, make([]byte, bs), 30*bs); err != nil {
		t.Fatalf("a corrupt fault failed a write: %v", err)
	}
	f.Set()
	if err := f.ReadAt(ctx, got, 8*bs); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("corruption reached the disk: %v", err)
	}
}
