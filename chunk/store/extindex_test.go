package store

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestExtIndex drives an extIndex and a sorted slice with the same random
// inserts, removes and updates, over enough extents that leaves split,
// empty and go away, and checks that they agree (the lookups every step, the whole set
// every 64).
func TestExtIndex(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	var want []extent
	for i := range int64(1000) {
		want = append(want, extent{i * 100, 10})
	}
	x := newExtIndex(slices.Clone(want))
	check := func(step int, what string) {
		t.Helper()
		if step%64 != 0 && step >= 0 {
			return
		}
		var got []extent
		x.ascend(func(e extent) bool { got = append(got, e); return true })
		if !slices.Equal(got, want) || x.n != len(want) {
			t.Fatalf("step %d (%s): index holds %d extents (n=%d), want %d", step, what, len(got), x.n, len(want))
		}
		for l, leaf := range x.leaves {
			if len(leaf) == 0 || x.firsts[l] != leaf[0].off {
				t.Fatalf("step %d (%s): leaf %d empty or its first offset wrong", step, what, l)
			}
		}
	}
	for step := range 60000 {
		// Offsets drift: the first half of the run fills [0, 200000) in
		// its gaps, the second empties the set in bursts.
		off := rng.Int64N(200_000)
		p := x.lowerBound(off)
		i, _ := slices.BinarySearchFunc(want, off, func(e extent, o int64) int { return cmp.Compare(e.off, o) })
		if got, ok := x.at(p); ok != (i < len(want)) || ok && got != want[i] {
			t.Fatalf("step %d: lowerBound(%d) = %v %v, want index %d of %d", step, off, got, ok, i, len(want))
		}
		if b, ok := x.before(p); ok != (i > 0) || ok && mustAt(x, b) != want[i-1] {
			t.Fatalf("step %d: before(%v) wrong", step, p)
		}
		switch op := rng.IntN(10); {
		case step < 30000 && op < 6 || step >= 30000 && op < 2:
			if i < len(want) && want[i].off == off || i > 0 && want[i-1].off == off {
				continue
			}
			x.insert(p, extent{off, 1})
			want = slices.Insert(want, i, extent{off, 1})
			check(step, "insert")
		case i < len(want) && op < 9:
			x.remove(p)
			want = slices.Delete(want, i, i+1)
			check(step, "remove")
		case i < len(want):
			e := extent{want[i].off, want[i].n + 1}
			x.set(p, e)
			want[i] = e
			check(step, "set")
		}
	}
	if len(x.leaves) > len(want)/2+2 {
		t.Fatalf("%d leaves for %d extents", len(x.leaves), len(want))
	}
	c := x.clone()
	c.insert(c.lowerBound(-1), extent{-5, 1})
	check(-1, "clone changed")
}

func mustAt(x *extIndex, p pos) extent {
	e, _ := x.at(p)
	return e
}
