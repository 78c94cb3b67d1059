package store

import (
	"math"
	"math/bits"

	"github.com/google/btree"
)

// btreeDegree suits 16-byte items: nodes of up to 63 items, a few cache
// lines each.
const btreeDegree = 32

func bySize(a, b extent) bool { return a.n < b.n || (a.n == b.n && a.off < b.off) }

// smallUnits: free extents of up to this many units (blocks) are kept in
// a bucket per size; larger ones in a B-tree.
const smallUnits = 64

// sizeIndex orders free extents by (size, offset) for alloc's best fit:
// the smallest extent that holds n, the lowest offset among equals.
//
// Block volumes leave tens of thousands of small holes, and each patch
// changes several: a B-tree pays a descent of compare calls for every
// one. Here an extent of k units (k ≤ smallUnits) goes to bucket k-1, an
// extIndex in offset order, and a bit mask tells the non-empty buckets,
// so the best small fit is one bit scan and the first extent of a bucket.
// Extents of other sizes (larger, or not a multiple of the unit) go to
// the B-tree.
type sizeIndex struct {
	unit    int64
	buckets [smallUnits]*extIndex
	mask    uint64 // bit k-1: bucket k-1 is not empty
	large   *btree.BTreeG[extent]
	odd     int // extents in large that are smaller than smallUnits units
}

func newSizeIndex(unit int64) *sizeIndex {
	return &sizeIndex{unit: unit, large: btree.NewG(btreeDegree, bySize)}
}

// bucket returns the bucket of an extent of n bytes, if it has one.
func (z *sizeIndex) bucket(n int64) (int, bool) {
	if n <= 0 || n%z.unit != 0 || n/z.unit > smallUnits {
		return 0, false
	}
	return int(n/z.unit) - 1, true
}

func (z *sizeIndex) add(e extent) {
	k, ok := z.bucket(e.n)
	if !ok {
		if _, had := z.large.ReplaceOrInsert(e); !had && e.n < smallUnits*z.unit {
			z.odd++
		}
		return
	}
	b := z.buckets[k]
	if b == nil {
		b = &extIndex{}
		z.buckets[k] = b
	}
	b.insert(b.lowerBound(e.off), e)
	z.mask |= 1 << k
}

// remove deletes e, which is in the index.
func (z *sizeIndex) remove(e extent) {
	k, ok := z.bucket(e.n)
	if !ok {
		if _, had := z.large.Delete(e); had && e.n < smallUnits*z.unit {
			z.odd--
		}
		return
	}
	b := z.buckets[k]
	p := b.lowerBound(e.off)
	if got, ok := b.at(p); !ok || got != e {
		return
	}
	b.remove(p)
	if b.n == 0 {
		z.mask &^= 1 << k
	}
}

// fit returns the best fit for n bytes, if any extent holds them.
func (z *sizeIndex) fit(n int64) (extent, bool) {
	var best extent
	found := false
	if n <= smallUnits*z.unit {
		first := max(int((n+z.unit-1)/z.unit)-1, 0)
		if m := z.mask >> first; m != 0 {
			best, found = z.buckets[first+bits.TrailingZeros64(m)].at(pos{})
		}
	}
	if found && z.odd == 0 {
		return best, true // every extent in large is bigger
	}
	z.large.AscendGreaterOrEqual(extent{off: math.MinInt64, n: n}, func(e extent) bool {
		if !found || bySize(e, best) {
			best, found = e, true
		}
		return false
	})
	return best, found
}
