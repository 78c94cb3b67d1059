// Package bufpool recycles byte buffers by power-of-two size class, so
// that hot paths (NBD requests, a volume's write cache) do not allocate
// and zero a buffer per request.
package bufpool

import (
	"math/bits"
	"sync"
)

// Pool recycles buffers of 4 KiB to 4 GiB by power-of-two size class;
// the zero value is ready.
type Pool struct {
	classes [33]sync.Pool // class k holds buffers of cap 1<<k
}

// minBufClass is the smallest class: 4 KiB.
const minBufClass = 12

// Get returns a buffer of length n; its contents are whatever the last
// user left.
func (p *Pool) Get(n int) *[]byte {
	k := max(bits.Len(uint(n-1)), minBufClass)
	if n == 0 || k >= len(p.classes) {
		b := make([]byte, n)
		return &b
	}
	if v, ok := p.classes[k].Get().(*[]byte); ok {
		*v = (*v)[:n]
		return v
	}
	b := make([]byte, n, 1<<k)
	return &b
}

// Put gives b back; b must not be used afterwards.
func (p *Pool) Put(b *[]byte) {
	if b == nil {
		return
	}
	c := cap(*b)
	if c == 0 || c&(c-1) != 0 {
		return
	}
	if k := bits.Len(uint(c)) - 1; k >= minBufClass && k < len(p.classes) {
		p.classes[k].Put(b)
	}
}
