package disk

import (
	"context"
	"sync"

	"github.com/wolke-cloud/wolke/internal/errs"
)

// Memory is a Disk held in memory; its contents die with it.
type Memory struct {
	mu     sync.RWMutex
	data   []byte
	closed bool
}

// NewMemory returns a zeroed in-memory disk of size bytes (a multiple of
// BlockSize).
func NewMemory(size int64) (*Memory, error) {
	if size <= 0 || size%BlockSize != 0 {
		return nil, errs.Errorf("disk.NewMemory", errs.Invalid, "size %d is not a positive multiple of %d", size, BlockSize)
	}
	return &Memory{data: make([]byte, size)}, nil
}

func (m *Memory) io(ctx context.Context, op string, p []byte, off int64, write bool) error {
	if err := ctxErr(ctx, op); err != nil {
		return err
	}
	if err := checkRange(op, off, int64(len(p)), int64(len(m.data)), BlockSize); err != nil {
		return err
	}
	if write {
		m.mu.Lock()
		defer m.mu.Unlock()
	} else {
		m.mu.RLock()
		defer m.mu.RUnlock()
	}
	if m.closed {
		return errs.E(op, errs.Unavailable, "disk closed")
	}
	if write {
		copy(m.data[off:], p)
	} else {
		copy(p, m.data[off:])
	}
	return nil
}

// ReadAt implements Disk.
func (m *Memory) ReadAt(ctx context.Context, p []byte, off int64) error {
	return m.io(ctx, "disk.Memory.ReadAt", p, off, false)
}

// ReadDirectAt is ReadAt: memory has no cache to bypass. (The chunk
// store reads across blocks it does not want with it, and tests on memory
// take that path too.)
func (m *Memory) ReadDirectAt(ctx context.Context, p []byte, off int64) error {
	return m.io(ctx, "disk.Memory.ReadAt", p, off, false)
}

// WriteAt implements Disk.
func (m *Memory) WriteAt(ctx context.Context, p []byte, off int64) error {
	return m.io(ctx, "disk.Memory.WriteAt", p, off, true)
}

// Sync implements Disk; memory needs none.
func (m *Memory) Sync(ctx context.Context) error {
	const op = "disk.Memory.Sync"
	if err := ctxErr(ctx, op); err != nil {
		return err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return errs.E(op, errs.Unavailable, "disk closed")
	}
	return nil
}

// DropCache implements Disk: memory is the medium, there is no cache.
func (m *Memory) DropCache(off, n int64) error { return nil }

// Discard implements Disk by zeroing the range.
func (m *Memory) Discard(ctx context.Context, off, n int64) error {
	const op = "disk.Memory.Discard"
	if err := ctxErr(ctx, op); err != nil {
		return err
	}
	if err := checkRange(op, off, n, int64(len(m.data)), BlockSize); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return errs.E(op, errs.Unavailable, "disk closed")
	}
	clear(m.data[off : off+n])
	return nil
}

// Size implements Disk.
func (m *Memory) Size() int64 { return int64(len(m.data)) }

// BlockSize implements Disk.
func (m *Memory) BlockSize() int { return BlockSize }

// Close implements Disk.
func (m *Memory) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	return nil
}
