package s3load

import (
	"math"
	"math/rand/v2"
	"sync"
)

// object is an object (or one version of it) the run wrote: what a GET
// must read back.
type object struct {
	key     string
	version string // "" unless the bucket is versioned
	seed    string // the content is generated from it (the key, or key#n for versions)
	size    int64
	crc     uint32
}

// pool holds the idle objects of a mixed run. An operation takes an object
// out while it works on it, so a DELETE never races a GET of the same key.
type pool struct {
	mu   sync.Mutex
	idle []object
}

func newPool(objs []object) *pool {
	return &pool{idle: append([]object(nil), objs...)}
}

// take removes a random idle object; false when none is idle.
func (p *pool) take(r *rand.Rand) (object, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.idle) == 0 {
		return object{}, false
	}
	i := r.IntN(len(p.idle))
	o := p.idle[i]
	last := len(p.idle) - 1
	p.idle[i], p.idle = p.idle[last], p.idle[:last]
	return o, true
}

// give returns an object (or adds a new one).
func (p *pool) give(o object) {
	p.mu.Lock()
	p.idle = append(p.idle, o)
	p.mu.Unlock()
}

// sizer draws object sizes: fixed, or log-uniform in [1, max] as warp's
// --obj.randsize does, so small and large objects are equally likely per
// order of magnitude.
type sizer struct {
	max  int64
	rand bool
}

func (s sizer) next(r *rand.Rand) int64 {
	if !s.rand || s.max <= 1 {
		return s.max
	}
	v := int64(math.Exp(r.Float64() * math.Log(float64(s.max)+1)))
	return max(1, min(v, s.max))
}

// chooser picks the operations of a mixed run by their shares.
type chooser struct {
	ops   []Op
	cum   []float64
	total float64
}

func newChooser(d Distribution) chooser {
	var c chooser
	for _, e := range []struct {
		op Op
		w  float64
	}{{OpGet, d.Get}, {OpStat, d.Stat}, {OpPut, d.Put}, {OpDelete, d.Delete}} {
		if e.w > 0 {
			c.total += e.w
			c.ops = append(c.ops, e.op)
			c.cum = append(c.cum, c.total)
		}
	}
	return c
}

func (c chooser) next(r *rand.Rand) Op {
	x := r.Float64() * c.total
	for i, v := range c.cum {
		if x < v {
			return c.ops[i]
		}
	}
	return c.ops[len(c.ops)-1]
}
