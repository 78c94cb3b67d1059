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
// (neighbours are merged). When dirty is non-nil, every change is recorded
// there (offset → length, 0 = removed) so that the committed copy can be
// written to the index as a delta.
//
// The extents are kept in a B-tree ordered by offset, so add and remove
// cost O(log n) however fragmented the disk is (block volumes patch chunks
// in place and leave tens of thousands of small holes). A second tree,
// ordered by (size, offset), serves alloc's best fit in O(log n); it is
// built on the first alloc, so a list that is never allocated from (the
// committed copy, which only sees add and remove) does not pay for it.
// The zero value is an empty set.
type freelist struct {
	offs  *btree.BTreeG[extent]
	sizes *btree.BTreeG[extent] // nil until the first alloc
	free  int64
	dirty map[int64]int64
}

// newFreelist returns the set of exts, which must be sorted by offset,
// non-overlapping and non-adjacent.
func newFreelist(exts []extent) *freelist {
	f := &freelist{}
	for _, e := range exts {
		if e.n > 0 {
			f.tree().ReplaceOrInsert(e)
			f.free += e.n
		}
	}
	return f
}

func (f *freelist) tree() *btree.BTreeG[extent] {
	if f.offs == nil {
		f.offs = btree.NewG(btreeDegree, byOffset)
	}
	return f.offs
}

// extents returns the set in offset order.
func (f *freelist) extents() []extent {
	if f.offs == nil {
		return nil
	}
	out := make([]extent, 0, f.offs.Len())
	f.offs.Ascend(func(e extent) bool {
		out = append(out, e)
		return true
	})
	return out
}

func (f *freelist) note(off, n int64) {
	if f.dirty != nil {
		f.dirty[off] = n
	}
}

// clone copies the set (not the delta). The B-tree copy is lazy: nodes are
// copied on first write in either list.
func (f *freelist) clone() *freelist {
	return &freelist{offs: f.tree().Clone(), free: f.free}
}

// put inserts e, replacing an extent at the same offset.
func (f *freelist) put(e extent) {
	old, replaced := f.tree().ReplaceOrInsert(e)
	if f.sizes != nil {
		if replaced {
			f.sizes.Delete(old)
		}
		f.sizes.ReplaceOrInsert(e)
	}
}

// drop deletes e, which is in the set.
func (f *freelist) drop(e extent) {
	f.offs.Delete(e)
	if f.sizes != nil {
		f.sizes.Delete(e)
	}
}

// floor returns the extent with the highest offset <= off.
func (f *freelist) floor(off int64) (c extent, ok bool) {
	f.tree().DescendLessOrEqual(extent{off: off}, func(e extent) bool {
		c, ok = e, true
		return false
	})
	return c, ok
}

// ceil returns the extent with the lowest offset >= off.
func (f *freelist) ceil(off int64) (c extent, ok bool) {
	f.tree().AscendGreaterOrEqual(extent{off: off}, func(e extent) bool {
		c, ok = e, true
		return false
	})
	return c, ok
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
	if f.sizes == nil {
		f.sizes = btree.NewG(btreeDegree, bySize)
		f.tree().Ascend(func(e extent) bool {
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
		f.takeFront(fit, n)
		return []extent{{fit.off, n}}, true
	}
	var got []extent
	for n > 0 {
		e, _ := f.offs.Min()
		take := min(e.n, n)
		f.takeFront(e, take)
		got = append(got, extent{e.off, take})
		n -= take
	}
	return got, true
}

// takeFront removes n bytes from the start of e, which is in the set.
func (f *freelist) takeFront(e extent, n int64) {
	f.free -= n
	f.note(e.off, 0)
	f.drop(e)
	if e.n == n {
		return
	}
	f.put(extent{e.off + n, e.n - n})
	f.note(e.off+n, e.n-n)
}

// remove carves e, which must be entirely free, out of the set.
func (f *freelist) remove(e extent) error {
	if e.n == 0 {
		return nil
	}
	c, ok := f.floor(e.off)
	if !ok || c.end() < e.end() {
		return fmt.Errorf("extent [%d,+%d) is not free", e.off, e.n)
	}
	f.free -= e.n
	f.note(c.off, 0)
	left, right := e.off-c.off, c.end()-e.end()
	if left > 0 {
		f.put(extent{c.off, left}) // replaces c
		f.note(c.off, left)
	} else {
		f.drop(c)
	}
	if right > 0 {
		f.put(extent{e.end(), right})
		f.note(e.end(), right)
	}
	return nil
}

// add returns e to the set, merging it with its neighbours. It fails,
// changing nothing, if any part of e is free already.
func (f *freelist) add(e extent) error {
	if e.n == 0 {
		return nil
	}
	prev, hasPrev := f.floor(e.off - 1)
	next, hasNext := f.ceil(e.off)
	if (hasPrev && prev.end() > e.off) || (hasNext && next.off < e.end()) {
		return fmt.Errorf("extent [%d,+%d) is free already", e.off, e.n)
	}
	f.free += e.n
	mergePrev := hasPrev && prev.end() == e.off
	mergeNext := hasNext && next.off == e.end()
	switch {
	case mergePrev && mergeNext:
		f.note(next.off, 0)
		f.drop(next)
		p := extent{prev.off, prev.n + e.n + next.n}
		f.put(p)
		f.note(p.off, p.n)
	case mergePrev:
		p := extent{prev.off, prev.n + e.n}
		f.put(p)
		f.note(p.off, p.n)
	case mergeNext:
		f.note(next.off, 0)
		f.drop(next)
		nx := extent{e.off, next.n + e.n}
		f.put(nx)
		f.note(nx.off, nx.n)
	default:
		f.put(e)
		f.note(e.off, e.n)
	}
	return nil
}

func sortExtents(es []extent) {
	sort.Slice(es, func(i, j int) bool { return es[i].off < es[j].off })
}
