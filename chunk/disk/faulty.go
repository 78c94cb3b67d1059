package disk

import (
	"context"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/wolke-cloud/wolke/internal/errs"
)

// Op is a set of disk operations a Fault applies to.
type Op uint8

// The operations a fault can hit.
const (
	OpRead Op = 1 << iota
	OpWrite
	OpSync
	OpDiscard
	OpAll = OpRead | OpWrite | OpSync | OpDiscard
)

// Fault is one injected failure. A request is hit when its operation is in
// Ops and its byte range overlaps [Off, Off+Len); Len 0 means the whole
// disk (Sync, which has no range, is hit by any fault naming OpSync).
type Fault struct {
	Ops      Op
	Off, Len int64
	// Corrupt, instead of failing, lets a read succeed and flips the bytes
	// of the requested range that lie inside the fault's range (every
	// byte XOR 0xff): what bit rot under a disk without checksums looks
	// like. It applies to reads only.
	Corrupt bool
}

func (f Fault) overlaps(off, n int64) bool {
	if f.Len == 0 {
		return true
	}
	return off < f.Off+f.Len && f.Off < off+n
}

// Faulty wraps a Disk and injects failures, switchable at runtime: a hit
// request fails as the kernel would fail it on a dying disk, with EIO
// (errs.Unavailable, as Device reports EIO), and touches nothing; or, for a
// Corrupt fault, a read returns flipped bytes. For fault tests only.
type Faulty struct {
	inner  Disk
	mu     sync.RWMutex
	faults []Fault
	hits   atomic.Int64
}

// NewFaulty wraps d with no fault set.
func NewFaulty(d Disk) *Faulty { return &Faulty{inner: d} }

// Inner is the wrapped disk.
func (f *Faulty) Inner() Disk { return f.inner }

// Set replaces the faults in force (none: the disk is healthy again).
func (f *Faulty) Set(faults ...Fault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.faults = append([]Fault(nil), faults...)
}

// Hits counts the requests failed or corrupted so far.
func (f *Faulty) Hits() int64 { return f.hits.Load() }

// match returns the faults that hit the request. A request that is
// invalid in itself is never hit: the wrapped disk refuses it.
func (f *Faulty) match(op Op, off, n int64, ranged bool) (fail bool, corrupt []Fault) {
	if ranged && checkRange("", off, n, f.inner.Size(), f.inner.BlockSize()) != nil {
		return false, nil
	}
	f.mu.RLock()
	defer f.mu.RUnlock()
	for _, ft := range f.faults {
		if ft.Ops&op == 0 || ranged && !ft.overlaps(off, n) {
			continue
		}
		if ft.Corrupt {
			if op == OpRead {
				corrupt = append(corrupt, ft)
			}
			continue
		}
		fail = true
	}
	return fail, corrupt
}

func (f *Faulty) eio(op string) error {
	f.hits.Add(1)
	return errs.E(op, ioKind(unix.EIO), "injected fault", unix.EIO)
}

// ReadAt implements Disk.
func (f *Faulty) ReadAt(ctx context.Context, p []byte, off int64) error {
	return f.read(ctx, "disk.Faulty.ReadAt", p, off, f.inner.ReadAt)
}

// ReadDirectAt implements DirectReader with the wrapped disk's direct
// read (Invalid if it has none), hit by the same faults as ReadAt: a
// store reading across gaps meets the faults a plain read would.
func (f *Faulty) ReadDirectAt(ctx context.Context, p []byte, off int64) error {
	return f.read(ctx, "disk.Faulty.ReadDirectAt", p, off, func(ctx context.Context, p []byte, off int64) error {
		return ReadDirect(ctx, f.inner, p, off)
	})
}

// read is ReadAt and ReadDirectAt: the faults that hit [off, off+len(p)),
// around rd.
func (f *Faulty) read(ctx context.Context, op string, p []byte, off int64, rd func(context.Context, []byte, int64) error) error {
	fail, corrupt := f.match(OpRead, off, int64(len(p)), true)
	if fail {
		return f.eio(op)
	}
	if err := rd(ctx, p, off); err != nil {
		return err
	}
	if len(corrupt) > 0 {
		f.hits.Add(1)
	}
	for _, ft := range corrupt {
		lo, hi := off, off+int64(len(p))
		if ft.Len > 0 {
			lo, hi = max(lo, ft.Off), min(hi, ft.Off+ft.Len)
		}
		for i := lo; i < hi; i++ {
			p[i-off] ^= 0xff
		}
	}
	return nil
}

// DropCache implements Disk: the wrapped disk's.
func (f *Faulty) DropCache(off, n int64) error { return f.inner.DropCache(off, n) }

// WriteAt implements Disk.
func (f *Faulty) WriteAt(ctx context.Context, p []byte, off int64) error {
	if fail, _ := f.match(OpWrite, off, int64(len(p)), true); fail {
		return f.eio("disk.Faulty.WriteAt")
	}
	return f.inner.WriteAt(ctx, p, off)
}

// WriteCachedAt implements CachingWriter: hit as WriteAt is, then
// written through the wrapped disk's cache if it has one.
func (f *Faulty) WriteCachedAt(ctx context.Context, p []byte, off int64) error {
	if fail, _ := f.match(OpWrite, off, int64(len(p)), true); fail {
		return f.eio("disk.Faulty.WriteCachedAt")
	}
	return WriteCached(ctx, f.inner, p, off)
}

// Sync implements Disk.
func (f *Faulty) Sync(ctx context.Context) error {
	if fail, _ := f.match(OpSync, 0, 0, false); fail {
		return f.eio("disk.Faulty.Sync")
	}
	return f.inner.Sync(ctx)
}

// Discard implements Disk.
func (f *Faulty) Discard(ctx context.Context, off, n int64) error {
	if fail, _ := f.match(OpDiscard, off, n, true); fail {
		return f.eio("disk.Faulty.Discard")
	}
	return f.inner.Discard(ctx, off, n)
}

// Size implements Disk.
func (f *Faulty) Size() int64 { return f.inner.Size() }

// BlockSize implements Disk.
func (f *Faulty) BlockSize() int { return f.inner.BlockSize() }

// Close implements Disk; it is never failed.
func (f *Faulty) Close() error { return f.inner.Close() }

// WriteVAt implements VectorWriter: hit as one write of the buffers'
// total length.
func (f *Faulty) WriteVAt(ctx context.Context, bufs [][]byte, off int64) error {
	n := int64(0)
	for _, b := range bufs {
		n += int64(len(b))
	}
	if fail, _ := f.match(OpWrite, off, n, true); fail {
		return f.eio("disk.Faulty.WriteVAt")
	}
	return WriteV(ctx, f.inner, bufs, off)
}
