package nbd

import (
	"math/bits"
	"sync"
)

// bufPool recycles READ and WRITE data buffers by power-of-two size class,
// so that a request does not allocate (and zero) its buffer. Buffers are
// handed to Export calls, which must not keep them after returning.
type bufPool struct {
	classes [33]sync.Pool // class k holds buffers of cap 1<<k
}

// minBufClass is the smallest class: 4 KiB.
const minBufClass = 12

// get returns a buffer of length n; its contents are whatever the last
// user left.
func (p *bufPool) get(n int) *[]byte {
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

// put gives b back; b must not be used afterwards.
func (p *bufPool) put(b *[]byte) {
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
