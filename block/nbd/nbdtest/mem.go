// Package nbdtest holds test exports for the NBD server: a sparse memory
// export, a file export, an export registry, and the suite every
// nbd.Export implementation passes.
package nbdtest

import (
	"context"
	"sync"

	"github.com/wolke-cloud/wolke/block/nbd"
	"github.com/wolke-cloud/wolke/internal/errs"
)

const pageSize = 4096

// Mem is a sparse in-memory export made of 4 KiB pages; a page never
// written is a hole.
type Mem struct {
	size int64

	mu    sync.RWMutex
	pages map[int64][]byte // page index → pageSize bytes
}

// NewMem returns an empty export of size bytes.
func NewMem(size int64) *Mem {
	return &Mem{size: size, pages: make(map[int64][]byte)}
}

func (m *Mem) Size() int64 { return m.size }

func (m *Mem) check(op string, off, n int64) error {
	if off < 0 || n < 0 || off > m.size || n > m.size-off {
		return errs.Errorf(op, errs.Invalid, "range %d+%d outside %d bytes", off, n, m.size)
	}
	return nil
}

// span calls fn for each page piece of [off, off+n): page index, offset
// within the page, and length.
func span(off, n int64, fn func(pg, po, l int64)) {
	for n > 0 {
		pg, po := off/pageSize, off%pageSize
		l := min(pageSize-po, n)
		fn(pg, po, l)
		off, n = off+l, n-l
	}
}

func (m *Mem) ReadAt(_ context.Context, p []byte, off int64) error {
	if err := m.check("nbdtest.Mem.ReadAt", off, int64(len(p))); err != nil {
		return err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	var i int64
	span(off, int64(len(p)), func(pg, po, l int64) {
		dst := p[i : i+l]
		if page, ok := m.pages[pg]; ok {
			copy(dst, page[po:])
		} else {
			clear(dst)
		}
		i += l
	})
	return nil
}

func (m *Mem) WriteAt(_ context.Context, p []byte, off int64, _ bool) error {
	if err := m.check("nbdtest.Mem.WriteAt", off, int64(len(p))); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var i int64
	span(off, int64(len(p)), func(pg, po, l int64) {
		copy(m.page(pg)[po:], p[i:i+l])
		i += l
	})
	return nil
}

// page returns page pg, allocating it; m.mu must be held for writing.
func (m *Mem) page(pg int64) []byte {
	page, ok := m.pages[pg]
	if !ok {
		page = make([]byte, pageSize)
		m.pages[pg] = page
	}
	return page
}

func (m *Mem) Flush(context.Context) error { return nil }

// Trim drops the whole pages in the range and zeroes partial ones.
func (m *Mem) Trim(ctx context.Context, off, n int64) error {
	return m.Zero(ctx, off, n, false)
}

func (m *Mem) Zero(_ context.Context, off, n int64, noHole bool) error {
	if err := m.check("nbdtest.Mem.Zero", off, n); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	span(off, n, func(pg, po, l int64) {
		switch {
		case l == pageSize && !noHole:
			delete(m.pages, pg)
		case noHole:
			clear(m.page(pg)[po : po+l])
		default:
			if page, ok := m.pages[pg]; ok {
				clear(page[po : po+l])
			}
		}
	})
	return nil
}

// BlockStatus reports missing pages as holes and zero-filled pages as
// allocated zeroes.
func (m *Mem) BlockStatus(_ context.Context, off, n int64) ([]nbd.Extent, error) {
	if err := m.check("nbdtest.Mem.BlockStatus", off, n); err != nil {
		return nil, err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	var out []nbd.Extent
	span(off, n, func(pg, po, l int64) {
		page, ok := m.pages[pg]
		e := nbd.Extent{Length: l, Hole: !ok, Zero: !ok || allZero(page[po:po+l])}
		if k := len(out) - 1; k >= 0 && out[k].Hole == e.Hole && out[k].Zero == e.Zero {
			out[k].Length += l
			return
		}
		out = append(out, e)
	})
	return out, nil
}

func allZero(p []byte) bool {
	for _, b := range p {
		if b != 0 {
			return false
		}
	}
	return true
}

func (m *Mem) Close() error { return nil }
