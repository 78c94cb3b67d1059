package store

import (
	"math/bits"
	"sync"

	"github.com/wolke-cloud/wolke/chunk/disk"
)

// Patch buffers (the ranges laid out for one O_DIRECT write) are reused:
// a fresh aligned buffer per patch cost its allocation and zeroing, 4% of
// a block volume's CPU under random writes. Sizes are pooled by power of
// two from one block up to poolMax; larger buffers are not kept.
const (
	poolMinShift = 12 // disk.BlockSize
	poolMax      = 4 << 20
	poolClasses  = 23 - poolMinShift // 4 KiB … 4 MiB
)

// bufPool hands out aligned buffers; the zero value is ready.
type bufPool struct {
	classes [poolClasses]sync.Pool
}

// class is the pool index of buffers of at least n bytes, or -1.
func class(n int) int {
	if n <= 0 || n > poolMax {
		return -1
	}
	c := 0
	if n > 1<<poolMinShift {
		c = bits.Len(uint(n-1)) - poolMinShift
	}
	return c
}

// get returns an aligned buffer of n bytes (contents undefined).
func (p *bufPool) get(n int) []byte {
	c := class(n)
	if c < 0 {
		return disk.AlignedBuffer(n)
	}
	if b, ok := p.classes[c].Get().(*[]byte); ok {
		return (*b)[:n]
	}
	return disk.AlignedBuffer(1 << (c + poolMinShift))[:n]
}

// put gives back a buffer get returned; nothing may use it afterwards.
func (p *bufPool) put(b []byte) {
	c := class(cap(b))
	if c < 0 || cap(b) != 1<<(c+poolMinShift) || !disk.IsAligned(b) {
		return
	}
	b = b[:cap(b)]
	p.classes[c].Put(&b)
}
