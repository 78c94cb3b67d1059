package store

import "sort"

// leafMax is the most extents one leaf of an extIndex holds; a full leaf
// splits in two. 256 extents are 4 KiB: an insert or a delete moves at
// most that, and a search is one binary search over the leaves' first
// offsets and one inside a leaf.
const leafMax = 256

// extIndex is a set of non-overlapping extents in offset order: a list of
// sorted leaves, found by their first offsets. Next to a B-tree it finds
// a position in one search, and the neighbours of a position are next to
// it in memory, so a change that merges or splits extents (most changes
// to a free list) is one search and an update in place.
type extIndex struct {
	leaves [][]extent // none empty
	firsts []int64    // firsts[i] = leaves[i][0].off
	n      int
}

// pos is a place in an extIndex: extent i of leaf l. The end of the set is
// l == len(leaves).
type pos struct{ l, i int }

// newExtIndex returns the index of exts, sorted and non-overlapping.
func newExtIndex(exts []extent) *extIndex {
	x := &extIndex{}
	for len(exts) > 0 {
		k := min(len(exts), leafMax/2)
		x.leaves = append(x.leaves, append(make([]extent, 0, leafMax), exts[:k]...))
		x.firsts = append(x.firsts, exts[0].off)
		x.n += k
		exts = exts[k:]
	}
	return x
}

func (x *extIndex) clone() *extIndex {
	c := &extIndex{leaves: make([][]extent, len(x.leaves)), firsts: append([]int64(nil), x.firsts...), n: x.n}
	for i, l := range x.leaves {
		c.leaves[i] = append(make([]extent, 0, leafMax), l...)
	}
	return c
}

// lowerBound returns the position of the first extent at off or after.
func (x *extIndex) lowerBound(off int64) pos {
	// The last leaf whose first extent is at or before off holds it, or
	// it is the first extent of the leaf after.
	l := sort.Search(len(x.firsts), func(i int) bool { return x.firsts[i] > off }) - 1
	if l < 0 {
		return pos{0, 0}
	}
	leaf := x.leaves[l]
	lo, hi := 0, len(leaf)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if leaf[m].off < off {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo == len(leaf) {
		return pos{l + 1, 0}
	}
	return pos{l, lo}
}

// at returns the extent at p, if p is not the end.
func (x *extIndex) at(p pos) (extent, bool) {
	if p.l >= len(x.leaves) {
		return extent{}, false
	}
	return x.leaves[p.l][p.i], true
}

// before returns the position before p, if there is one.
func (x *extIndex) before(p pos) (pos, bool) {
	switch {
	case p.i > 0:
		return pos{p.l, p.i - 1}, true
	case p.l > 0:
		return pos{p.l - 1, len(x.leaves[p.l-1]) - 1}, true
	}
	return pos{}, false
}

// set replaces the extent at p (not the end) with e, which must keep the
// order.
func (x *extIndex) set(p pos, e extent) {
	x.leaves[p.l][p.i] = e
	if p.i == 0 {
		x.firsts[p.l] = e.off
	}
}

// insert puts e at p, before the extent there; e must keep the order.
func (x *extIndex) insert(p pos, e extent) {
	x.n++
	if len(x.leaves) == 0 {
		x.leaves = [][]extent{append(make([]extent, 0, leafMax), e)}
		x.firsts = []int64{e.off}
		return
	}
	if p.l == len(x.leaves) { // the end: append to the last leaf
		p = pos{p.l - 1, len(x.leaves[p.l-1])}
	}
	leaf := x.leaves[p.l]
	if len(leaf) == leafMax {
		half := append(make([]extent, 0, leafMax), leaf[leafMax/2:]...)
		x.leaves[p.l] = leaf[:leafMax/2]
		x.leaves = insertAt(x.leaves, p.l+1, half)
		x.firsts = insertAt(x.firsts, p.l+1, half[0].off)
		if p.i > leafMax/2 {
			p = pos{p.l + 1, p.i - leafMax/2}
		}
		leaf = x.leaves[p.l]
	}
	leaf = append(leaf, extent{})
	copy(leaf[p.i+1:], leaf[p.i:])
	leaf[p.i] = e
	x.leaves[p.l] = leaf
	x.firsts[p.l] = leaf[0].off
}

// remove deletes the extent at p (not the end).
func (x *extIndex) remove(p pos) {
	x.n--
	leaf := x.leaves[p.l]
	copy(leaf[p.i:], leaf[p.i+1:])
	leaf = leaf[:len(leaf)-1]
	if len(leaf) == 0 {
		x.leaves = append(x.leaves[:p.l], x.leaves[p.l+1:]...)
		x.firsts = append(x.firsts[:p.l], x.firsts[p.l+1:]...)
		return
	}
	x.leaves[p.l] = leaf
	x.firsts[p.l] = leaf[0].off
}

// ascend calls fn for each extent in offset order until it returns false.
func (x *extIndex) ascend(fn func(extent) bool) {
	for _, l := range x.leaves {
		for _, e := range l {
			if !fn(e) {
				return
			}
		}
	}
}

func insertAt[T any](s []T, i int, v T) []T {
	var zero T
	s = append(s, zero)
	copy(s[i+1:], s[i:])
	s[i] = v
	return s
}
