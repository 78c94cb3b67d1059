package s3load

import (
	"math/rand/v2"
	"testing"
)

func TestSizer(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	if got := (sizer{max: 4096}).next(r); got != 4096 {
		t.Errorf("fixed size %d", got)
	}
	s := sizer{max: 1 << 20, rand: true}
	small, large := 0, 0
	for range 10000 {
		v := s.next(r)
		if v < 1 || v > 1<<20 {
			t.Fatalf("size %d out of [1, 1MiB]", v)
		}
		if v < 1<<10 {
			small++
		}
		if v >= 1<<10 {
			large++
		}
	}
	// Log-uniform: half the draws below sqrt(max) = 1 KiB.
	if small < 4000 || large < 4000 {
		t.Errorf("%d draws below 1 KiB, %d above: not log-uniform", small, large)
	}
}

func TestChooser(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	c := newChooser(Distribution{Get: 3, Put: 1})
	n := map[Op]int{}
	for range 8000 {
		n[c.next(r)]++
	}
	if n[OpStat] != 0 || n[OpDelete] != 0 || n[OpGet] < 5600 || n[OpGet] > 6400 {
		t.Errorf("draws %v: want about 6000 GET, 2000 PUT", n)
	}
}

func TestPool(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	p := newPool([]object{{key: "a"}, {key: "b"}})
	a, _ := p.take(r)
	b, _ := p.take(r)
	if _, ok := p.take(r); ok || a.key == b.key {
		t.Fatalf("took %q and %q, then more", a.key, b.key)
	}
	p.give(a)
	if got, ok := p.take(r); !ok || got != a {
		t.Errorf("took %v %v after giving back %v", got, ok, a)
	}
}
