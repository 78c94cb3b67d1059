package store

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"
)

func TestFreelist(t *testing.T) {
	type step struct {
		op      string // alloc, add, remove
		e       extent // add/remove; alloc uses e.n
		wantErr bool
		want    []extent // the free set afterwards
	}
	cases := []struct {
		name  string
		start []extent
		steps []step
	}{
		{"one extent when one fits", []extent{{0, 100}}, []step{
			{op: "alloc", e: extent{n: 30}, want: []extent{{30, 70}}},
			{op: "alloc", e: extent{n: 70}, want: nil},
			{op: "alloc", e: extent{n: 1}, wantErr: true, want: nil},
		}},
		{"best fit", []extent{{0, 100}, {200, 30}, {300, 50}, {400, 30}}, []step{
			{op: "alloc", e: extent{n: 30}, want: []extent{{0, 100}, {300, 50}, {400, 30}}},
			{op: "alloc", e: extent{n: 20}, want: []extent{{0, 100}, {300, 50}, {420, 10}}},
			{op: "alloc", e: extent{n: 60}, want: []extent{{60, 40}, {300, 50}, {420, 10}}},
		}},
		{"merge both sides", []extent{{0, 10}, {20, 10}}, []step{
			{op: "add", e: extent{10, 10}, want: []extent{{0, 30}}},
		}},
		{"merge prev, next, none", []extent{{0, 10}, {50, 10}}, []step{
			{op: "add", e: extent{10, 5}, want: []extent{{0, 15}, {50, 10}}},
			{op: "add", e: extent{40, 10}, want: []extent{{0, 15}, {40, 20}}},
			{op: "add", e: extent{25, 5}, want: []extent{{0, 15}, {25, 5}, {40, 20}}},
		}},
		{"double free refused", []extent{{0, 10}}, []step{
			{op: "add", e: extent{5, 10}, wantErr: true, want: []extent{{0, 10}}},
			{op: "add", e: extent{0, 1}, wantErr: true, want: []extent{{0, 10}}},
		}},
		{"remove splits", []extent{{0, 100}}, []step{
			{op: "remove", e: extent{40, 20}, want: []extent{{0, 40}, {60, 40}}},
			{op: "remove", e: extent{0, 40}, want: []extent{{60, 40}}},
			{op: "remove", e: extent{90, 10}, want: []extent{{60, 30}}},
			{op: "remove", e: extent{50, 20}, wantErr: true, want: []extent{{60, 30}}},
		}},
		{"fragmented alloc", []extent{{0, 10}, {20, 10}, {40, 10}}, []step{
			{op: "alloc", e: extent{n: 25}, want: []extent{{45, 5}}},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFreelist(c.start)
			for i, s := range c.steps {
				var err error
				switch s.op {
				case "alloc":
					var ok bool
					if _, ok = f.alloc(s.e.n); !ok {
						err = errors.New("no fit")
					}
				case "add":
					err = f.add(s.e)
				case "remove":
					err = f.remove(s.e)
				}
				if (err != nil) != s.wantErr {
					t.Fatalf("step %d %s %+v: err = %v, wantErr %v", i, s.op, s.e, err, s.wantErr)
				}
				if got := f.extents(); !slices.Equal(got, s.want) {
					t.Fatalf("step %d: free = %v, want %v", i, got, s.want)
				}
				if sum := sumExtents(f.extents()); sum != f.free {
					t.Fatalf("step %d: free counter %d, extents sum %d", i, f.free, sum)
				}
			}
		})
	}
}

func sumExtents(es []extent) int64 {
	var sum int64
	for _, e := range es {
		sum += e.n
	}
	return sum
}

// TestFreelistModel runs thousands of random alloc/add/remove/clone steps on
// the tree and on modelFreelist (the former sorted-slice implementation)
// and requires the same results, free sets and counters.
func TestFreelistModel(t *testing.T) {
	for seed := uint64(1); seed <= 8; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { runModel(t, seed, 3000) })
	}
}

func runModel(t *testing.T, seed uint64, steps int) {
	rng := rand.New(rand.NewPCG(seed, 99))
	const size = 4096
	start := []extent{{0, size}}
	if seed%2 == 0 { // start fragmented
		start = nil
		for off := int64(0); off < size; off += 16 {
			start = append(start, extent{off, 1 + rng.Int64N(12)})
		}
	}
	f := newFreelist(start)
	// Unit 1: every size up to 64 has a bucket in the size index. Unit 4:
	// sizes 4, 8, ... 256 do, and the other small ones go to its B-tree
	// with the large ones, so a best fit weighs both.
	f.unit = int64(1 + 3*((seed/2)%2))
	m := &modelFreelist{exts: slices.Clone(start), free: sumExtents(start)}
	var owned []extent // extents taken out of the set, to give back
	randExt := func() extent {
		off := rng.Int64N(size)
		return extent{off, 1 + rng.Int64N(min(40, size-off))}
	}
	for i := range steps {
		// No alloc in the first third: the size tree is built lazily mid-run.
		op := rng.IntN(10)
		if i < steps/3 && op < 3 {
			op += 3
		}
		var desc string
		var errF, errM error
		switch {
		case op < 3:
			n := rng.Int64N(64)
			if rng.IntN(20) == 0 {
				n = rng.Int64N(m.free + 10)
			}
			desc = fmt.Sprintf("alloc %d", n)
			gf, okF := f.alloc(n)
			gm, okM := m.alloc(n)
			if okF != okM || !slices.Equal(gf, gm) {
				t.Fatalf("step %d %s: tree %v %v, model %v %v", i, desc, gf, okF, gm, okM)
			}
			owned = append(owned, gf...)
		case op < 6:
			var e extent
			if len(owned) > 0 && rng.IntN(4) != 0 {
				j := rng.IntN(len(owned))
				e = owned[j]
				if cut := rng.Int64N(e.n); cut > 0 && rng.IntN(2) == 0 { // give back a part
					owned[j], e = extent{e.off, cut}, extent{e.off + cut, e.n - cut}
				} else {
					owned = slices.Delete(owned, j, j+1)
				}
			} else {
				e = randExt()
			}
			desc = fmt.Sprintf("add %v", e)
			errF, errM = f.add(e), m.add(e)
		case op < 9:
			var e extent
			if es := m.exts; len(es) > 0 && rng.IntN(4) != 0 {
				c := es[rng.IntN(len(es))]
				off := c.off + rng.Int64N(c.n)
				e = extent{off, 1 + rng.Int64N(c.end()-off)}
			} else {
				e = randExt()
			}
			desc = fmt.Sprintf("remove %v", e)
			errF, errM = f.remove(e), m.remove(e)
			if errF == nil {
				owned = append(owned, e)
			}
		default:
			// A clone shares nodes with f: changing it must leave f alone.
			desc = "clone"
			before := f.extents()
			c := f.clone()
			for range 20 {
				if e := randExt(); rng.IntN(2) == 0 {
					_ = c.add(e)
				} else {
					_ = c.remove(e)
				}
				c.alloc(rng.Int64N(32))
			}
			if sumExtents(c.extents()) != c.free {
				t.Fatalf("step %d: clone's free counter %d, extents sum %d", i, c.free, sumExtents(c.extents()))
			}
			if got := f.extents(); !slices.Equal(got, before) {
				t.Fatalf("step %d: changing a clone changed the original", i)
			}
		}
		if (errF == nil) != (errM == nil) || (errF != nil && errF.Error() != errM.Error()) {
			t.Fatalf("step %d %s: tree err %v, model err %v", i, desc, errF, errM)
		}
		if got := f.extents(); !slices.Equal(got, m.exts) && len(got)+len(m.exts) > 0 {
			t.Fatalf("step %d %s: tree %v, model %v", i, desc, got, m.exts)
		}
		if f.free != m.free || f.free != sumExtents(m.exts) {
			t.Fatalf("step %d %s: free %d, model %d", i, desc, f.free, m.free)
		}
	}
}

// modelFreelist is the former sorted-slice freelist, kept as the reference:
// simple, linear, and with best fit in alloc.
type modelFreelist struct {
	exts []extent
	free int64
}

func (f *modelFreelist) alloc(n int64) ([]extent, bool) {
	if n == 0 {
		return nil, true
	}
	if n > f.free {
		return nil, false
	}
	best := -1
	for i, e := range f.exts {
		if e.n >= n && (best < 0 || e.n < f.exts[best].n) {
			best = i
		}
	}
	if best >= 0 {
		e := f.exts[best]
		f.takeFront(best, n)
		return []extent{{e.off, n}}, true
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

func (f *modelFreelist) takeFront(i int, n int64) {
	e := f.exts[i]
	f.free -= n
	if e.n == n {
		f.exts = slices.Delete(f.exts, i, i+1)
		return
	}
	f.exts[i] = extent{e.off + n, e.n - n}
}

func (f *modelFreelist) remove(e extent) error {
	if e.n == 0 {
		return nil
	}
	i := sort.Search(len(f.exts), func(i int) bool { return f.exts[i].end() > e.off })
	if i == len(f.exts) || f.exts[i].off > e.off || f.exts[i].end() < e.end() {
		return fmt.Errorf("extent [%d,+%d) is not free", e.off, e.n)
	}
	c := f.exts[i]
	f.free -= e.n
	var repl []extent
	if left := e.off - c.off; left > 0 {
		repl = append(repl, extent{c.off, left})
	}
	if right := c.end() - e.end(); right > 0 {
		repl = append(repl, extent{e.end(), right})
	}
	f.exts = slices.Replace(f.exts, i, i+1, repl...)
	return nil
}

func (f *modelFreelist) add(e extent) error {
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
		p.n += e.n + f.exts[i].n
		f.exts = slices.Delete(f.exts, i, i+1)
	case mergePrev:
		p := &f.exts[i-1]
		p.n += e.n
	case mergeNext:
		nx := &f.exts[i]
		nx.off, nx.n = e.off, nx.n+e.n
	default:
		f.exts = slices.Insert(f.exts, i, e)
	}
	return nil
}

// BenchmarkFreelistFragmented: a disk fragmented into 100k free 4 KiB
// holes (4 KiB used between them) and one large free tail. Each op is what
// patching a block volume does: a 16 KiB allocation, a 4 KiB block freed in
// the middle (merging with both neighbours) and taken again (splitting),
// and the 16 KiB returned.
func BenchmarkFreelistFragmented(b *testing.B) {
	const holes, blk = 100_000, 4096
	exts := make([]extent, 0, holes+1)
	for i := range int64(holes) {
		exts = append(exts, extent{i * 2 * blk, blk})
	}
	exts = append(exts, extent{holes * 2 * blk, 1 << 30})
	f := newFreelist(exts)
	if got, ok := f.alloc(blk); !ok || f.add(got[0]) != nil { // builds the size tree
		b.Fatal("warm-up failed")
	}
	rng := rand.New(rand.NewPCG(1, 2))
	b.ResetTimer()
	for range b.N {
		got, ok := f.alloc(4 * blk)
		if !ok || len(got) != 1 {
			b.Fatal("alloc failed")
		}
		used := extent{(rng.Int64N(holes-1)*2 + 1) * blk, blk}
		if err := f.add(used); err != nil {
			b.Fatal(err)
		}
		if err := f.remove(used); err != nil {
			b.Fatal(err)
		}
		if err := f.add(got[0]); err != nil {
			b.Fatal(err)
		}
	}
}
