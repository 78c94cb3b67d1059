package store

import (
	"fmt"
	"sort"
)

// extent is a byte range on the disk, block-aligned.
type extent struct {
	off, n int64
}

func (e extent) end() int64 { return e.off + e.n }

// freelist is a set of free extents: sorted, non-overlapping and never
// adjacent (neighbours are merged). When dirty is non-nil, every change is
// recorded there (offset → length, 0 = removed) so that the committed copy
// can be written to the index as a delta.
type freelist struct {
	exts  []extent
	free  int64
	dirty map[int64]int64
}

func (f *freelist) note(off, n int64) {
	if f.dirty != nil {
		f.dirty[off] = n
	}
}

func (f *freelist) clone() *freelist {
	return &freelist{exts: append([]extent(nil), f.exts...), free: f.free}
}

// alloc takes n bytes (a block multiple), in one extent when one fits (first
// fit), else in pieces from the lowest offsets. It reports false, changing
// nothing, when less than n bytes are free.
func (f *freelist) alloc(n int64) ([]extent, bool) {
	if n == 0 {
		return nil, true
	}
	if n > f.free {
		return nil, false
	}
	for i, e := range f.exts {
		if e.n >= n {
			f.takeFront(i, n)
			return []extent{{e.off, n}}, true
		}
	}
	var got []extent
	for n > 0 {
		e := f.exts[0]
		take := min(e.n, n)
		f.takeFront(0, take)
		got = append(got, extent{e.off, take})
		n -= take
	}
	return got, true
}

// takeFront removes n bytes from the start of f.exts[i].
func (f *freelist) takeFront(i int, n int64) {
	e := f.exts[i]
	f.free -= n
	f.note(e.off, 0)
	if e.n == n {
		f.del(i)
		return
	}
	f.exts[i] = extent{e.off + n, e.n - n}
	f.note(e.off+n, e.n-n)
}

// remove carves e, which must be entirely free, out of the set.
func (f *freelist) remove(e extent) error {
	if e.n == 0 {
		return nil
	}
	i := sort.Search(len(f.exts), func(i int) bool { return f.exts[i].end() > e.off })
	if i == len(f.exts) || f.exts[i].off > e.off || f.exts[i].end() < e.end() {
		return fmt.Errorf("extent [%d,+%d) is not free", e.off, e.n)
	}
	c := f.exts[i]
	f.free -= e.n
	f.note(c.off, 0)
	var repl [2]extent
	k := 0
	if left := e.off - c.off; left > 0 {
		repl[k] = extent{c.off, left}
		f.note(c.off, left)
		k++
	}
	if right := c.end() - e.end(); right > 0 {
		repl[k] = extent{e.end(), right}
		f.note(e.end(), right)
		k++
	}
	// In place: the list can be long (a disk of patched chunks).
	switch k {
	case 0:
		f.del(i)
	case 1:
		f.exts[i] = repl[0]
	case 2:
		f.exts = append(f.exts, extent{})
		copy(f.exts[i+2:], f.exts[i+1:])
		f.exts[i], f.exts[i+1] = repl[0], repl[1]
	}
	return nil
}

// del removes f.exts[i], moving the shorter side of the list: blocks are
// taken from the low end, and a long list (a disk of patched chunks) must
// not be shifted whole for each.
func (f *freelist) del(i int) {
	if i < len(f.exts)/2 {
		copy(f.exts[1:i+1], f.exts[:i])
		f.exts = f.exts[1:]
		return
	}
	f.exts = append(f.exts[:i], f.exts[i+1:]...)
}

// add returns e to the set, merging it with its neighbours. It fails,
// changing nothing, if any part of e is free already.
func (f *freelist) add(e extent) error {
	if e.n == 0 {
		return nil
	}
	i := sort.Search(len(f.exts), func(i int) bool { return f.exts[i].off >= e.off })
	if (i > 0 && f.exts[i-1].end() > e.off) || (i < len(f.exts) && f.exts[i].off < e.end()) {
		return fmt.Errorf("extent [%d,+%d) is free already", e.off, e.n)
	}
	f.free += e.n
	mergePrev := i > 0 && f.exts[i-1].end() == e.off
	mergeNext := i < len(f.exts) && f.exts[i].off == e.end()
	switch {
	case mergePrev && mergeNext:
		p := &f.exts[i-1]
		f.note(f.exts[i].off, 0)
		p.n += e.n + f.exts[i].n
		f.note(p.off, p.n)
		f.del(i)
	case mergePrev:
		p := &f.exts[i-1]
		p.n += e.n
		f.note(p.off, p.n)
	case mergeNext:
		nx := &f.exts[i]
		f.note(nx.off, 0)
		nx.off, nx.n = e.off, nx.n+e.n
		f.note(nx.off, nx.n)
	default:
		f.exts = append(f.exts, extent{})
		copy(f.exts[i+1:], f.exts[i:])
		f.exts[i] = e
		f.note(e.off, e.n)
	}
	return nil
}

func sortExtents(es []extent) {
	sort.Slice(es, func(i, j int) bool { return es[i].off < es[j].off })
}
