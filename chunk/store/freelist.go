package store

import (
	"fmt"
	"sort"

	"github.com/wolke-cloud/wolke/chunk/disk"
)

// extent is a byte range on the disk, block-aligned.
type extent struct {
	off, n int64
}

func (e extent) end() int64 { return e.off + e.n }

// freelist is a set of free extents: non-overlapping and never adjacent
// (neighbours are merged).
//
// The extents are kept in offset order in an extIndex, so add and remove
// cost one search however fragmented the disk is (block volumes patch
// chunks in place and leave tens of thousands of small holes). A
// sizeIndex serves alloc's best fit; it is built on the first alloc, so a
// list that is never allocated from (the committed copy, which only sees
// add and remove) does not pay for it.
// The zero value is an empty set.
type freelist struct {
	offs  *extIndex
	sizes *sizeIndex // nil until the first alloc
	free  int64
	// unit is the block size; 0 means disk.BlockSize. Extents of a few
	// units have buckets in sizes.
	unit int64
}

// newFreelist returns the set of exts, which must be sorted by offset,
// non-overlapping and non-adjacent.
func newFreelist(exts []extent) *freelist {
	kept := make([]extent, 0, len(exts))
	f := &freelist{}
	for _, e := range exts {
		if e.n > 0 {
			kept = append(kept, e)
			f.free += e.n
		}
	}
	f.offs = newExtIndex(kept)
	return f
}

func (f *freelist) index() *extIndex {
	if f.offs == nil {
		f.offs = &extIndex{}
	}
	return f.offs
}

// extents returns the set in offset order.
func (f *freelist) extents() []extent {
	x := f.index()
	out := make([]extent, 0, x.n)
	x.ascend(func(e extent) bool {
		out = append(out, e)
		return true
	})
	return out
}

// clone copies the set.
func (f *freelist) clone() *freelist {
	return &freelist{offs: f.index().clone(), free: f.free, unit: f.unit}
}

// set replaces old, the extent at p, with e, in both orders.
func (f *freelist) set(p pos, old, e extent) {
	f.offs.set(p, e)
	if f.sizes != nil {
		f.sizes.remove(old)
		f.sizes.add(e)
	}
}

// insert puts e at p in both orders.
func (f *freelist) insert(p pos, e extent) {
	f.offs.insert(p, e)
	if f.sizes != nil {
		f.sizes.add(e)
	}
}

// drop deletes e, the extent at p, from both orders.
func (f *freelist) drop(p pos, e extent) {
	f.offs.remove(p)
	if f.sizes != nil {
		f.sizes.remove(e)
	}
}

// alloc takes n bytes (a block multiple), in one extent when one fits, else
// in pieces from the lowest offsets. It reports false, changing nothing,
// when less than n bytes are free.
//
// The one extent is the best fit: the smallest that holds n, the lowest
// offset among equals (first fit would need a scan or an augmented
// tree), and it fills the small holes that patches leave before it cuts
// into the large extents whole chunks need.
func (f *freelist) alloc(n int64) ([]extent, bool) {
	if n == 0 {
		return nil, true
	}
	if n > f.free {
		return nil, false
	}
	x := f.index()
	if f.sizes == nil {
		unit := f.unit
		if unit == 0 {
			unit = disk.BlockSize
		}
		f.sizes = newSizeIndex(unit)
		x.ascend(func(e extent) bool {
			f.sizes.add(e)
			return true
		})
	}
	if fit, found := f.sizes.fit(n); found {
		f.takeFront(x.lowerBound(fit.off), fit, n)
		return []extent{{fit.off, n}}, true
	}
	var got []extent
	for n > 0 {
		e, _ := x.at(pos{})
		take := min(e.n, n)
		f.takeFront(pos{}, e, take)
		got = append(got, extent{e.off, take})
		n -= take
	}
	return got, true
}

// takeFront removes n bytes from the start of e, the extent at p.
func (f *freelist) takeFront(p pos, e extent, n int64) {
	f.free -= n
	if e.n == n {
		f.drop(p, e)
		return
	}
	f.set(p, e, extent{e.off + n, e.n - n})
}

// remove carves e, which must be entirely free, out of the set.
func (f *freelist) remove(e extent) error {
	if e.n == 0 {
		return nil
	}
	x := f.index()
	p, ok := x.before(x.lowerBound(e.off + 1)) // the last extent at or before e.off
	var c extent
	if ok {
		c, _ = x.at(p)
	}
	if !ok || c.end() < e.end() {
		return fmt.Errorf("extent [%d,+%d) is not free", e.off, e.n)
	}
	f.free -= e.n
	left, right := e.off-c.off, c.end()-e.end()
	if left > 0 {
		f.set(p, c, extent{c.off, left})
		if right > 0 {
			f.insert(pos{p.l, p.i + 1}, extent{e.end(), right})
		}
		return nil
	}
	if right > 0 {
		f.set(p, c, extent{e.end(), right})
		return nil
	}
	f.drop(p, c)
	return nil
}

// add returns e to the set, merging it with its neighbours. It fails,
// changing nothing, if any part of e is free already.
func (f *freelist) add(e extent) error {
	if e.n == 0 {
		return nil
	}
	x := f.index()
	pn := x.lowerBound(e.off)
	next, hasNext := x.at(pn)
	pp, hasPrev := x.before(pn)
	var prev extent
	if hasPrev {
		prev, _ = x.at(pp)
	}
	if (hasPrev && prev.end() > e.off) || (hasNext && next.off < e.end()) {
		return fmt.Errorf("extent [%d,+%d) is free already", e.off, e.n)
	}
	f.free += e.n
	mergePrev := hasPrev && prev.end() == e.off
	mergeNext := hasNext && next.off == e.end()
	switch {
	case mergePrev && mergeNext:
		// prev first: it comes before next, whose removal may take a
		// leaf away but never moves prev.
		f.set(pp, prev, extent{prev.off, prev.n + e.n + next.n})
		f.drop(pn, next)
	case mergePrev:
		f.set(pp, prev, extent{prev.off, prev.n + e.n})
	case mergeNext:
		f.set(pn, next, extent{e.off, next.n + e.n})
	default:
		f.insert(pn, e)
	}
	return nil
}

func sortExtents(es []extent) {
	sort.Slice(es, func(i, j int) bool { return es[i].off < es[j].off })
}
