package store

import (
	"testing"

	"github.com/wolke-cloud/wolke/chunk/disk"
)

func TestBufPool(t *testing.T) {
	var p bufPool
	for _, n := range []int{1, 4096, 4097, 65536, 100000, poolMax, poolMax + 1} {
		b := p.get(n)
		if len(b) != n || !disk.IsAligned(b) {
			t.Fatalf("get(%d): len %d, aligned %v", n, len(b), disk.IsAligned(b))
		}
		if c := class(n); c >= 0 && cap(b) != 1<<(c+poolMinShift) {
			t.Fatalf("get(%d): cap %d, want class %d", n, cap(b), c)
		}
		p.put(b)
	}
	if class(4096) != 0 || class(4097) != 1 || class(8192) != 1 || class(poolMax) != poolClasses-1 || class(poolMax+1) != -1 {
		t.Fatal("size classes are off")
	}
	p.put(make([]byte, 4096)) // not from the pool (and maybe unaligned): ignored or kept only if aligned
	for range 100 {
		if b := p.get(8192); !disk.IsAligned(b) || len(b) != 8192 {
			t.Fatal("pool returned a bad buffer")
		}
	}
}
