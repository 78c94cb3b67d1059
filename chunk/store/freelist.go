package store

import (
	"fmt"
	"math"
	"sort"

	"github.com/google/btree"
)

// extent is a byte range on the disk, block-aligned.
type extent struct {
	off, n int64
}

func (e extent) end() int64 { return e.off + e.n }

// btreeDegree suits 16-byte items: nodes of up to 63 items, a few cache
// lines each.
const btreeDegree = 32

func byOffset(a, b extent) bool { return a.off < b.off }

func bySize(a, b extent) bool { return a.n < b.n || (a.n == b.n && a.off < b.off) }

// freelist is a set of free extents: non-overlapping and never adjacent
// (neighbours are merged).
//
// The extents are kept in offset order in an extIndex, so add and remove
// cost one search however fragmented the disk is (block volumes patch
// chunks in place and leave tens of thousands of small holes). A B-tree
// ordered by (size, offset) serves alloc's best fit in O(log n); it is
// built on the first alloc, so a list that is never allocated from (the
// committed copy, which only sees add and remove) does not pay for it.
// The zero value is an empty set.
type freelist struct {
	offs  *extIndex
	sizes *btree.BTreeG[extent] // nil until the first alloc
	free  int64
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
	return &freelist{offs: f.index().clone(), free: f.free}
}

// set replaces old, the extent at p, with e, in both orders.
func (f *freelist) set(p pos, old, e extent) {
	f.offs.set(p, e)
	if f.sizes != nil {
		f.sizes.Delete(old)
		f.sizes.ReplaceOrInsert(e)
	}
}

// insert puts e at p in both orders.
func (f *freelist) insert(p pos, e extent) {
	f.offs.insert(p, e)
	if f.sizes != nil {
		f.sizes.ReplaceOrInsert(e)
	}
}

// drop deletes e, the extent at p, from both orders.
func (f *freelist) drop(p pos, e extent) {
	f.offs.remove(p)
	if f.sizes != nil {
		f.sizes.Delete(e)
	}
}

// alloc takes n bytes (a block multiple), in one extent when one fits, else
// in pieces from the lowest offsets. It reports false, changing nothing,
// when less than n bytes are free.
//
// The one extent is the best fit: the smallest that holds n, the lowest
// offset among equals. It is found in O(log n) in the size tree (first fit
// needs a scan or an augmented tree), and it fills the small holes that
// patches leave before it cuts into the large extents whole chunks need.
func (f *freelist) alloc(n int64) ([]extent, bool) {
	if n == 0 {
		return nil, true
	}
	if n > f.free {
		return nil, false
	}
	x := f.index()
	if f.sizes == nil {
		f.sizes = btree.NewG(btreeDegree, bySize)
		x.ascend(func(e extent) bool {
			f.sizes.ReplaceOrInsert(e)
			return true
		})
	}
	var fit extent
	found := false
	f.sizes.AscendGreaterOrEqual(extent{off: math.MinInt64, n: n}, func(e extent) bool {
		fit, found = e, true
		return false
	})
	if found {
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
