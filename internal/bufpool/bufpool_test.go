package bufpool

import "testing"

func TestBufPool(t *testing.T) {
	var p Pool
	for _, c := range []struct{ n, cap int }{
		{1, 4096}, {512, 4096}, {4096, 4096}, {4097, 8192}, {1 << 20, 1 << 20}, {1<<20 + 512, 2 << 20},
	} {
		for range 2 { // the second round may get the first round's buffer
			b := p.Get(c.n)
			if len(*b) != c.n || cap(*b) != c.cap {
				t.Fatalf("Get(%d): len %d cap %d, want cap %d", c.n, len(*b), cap(*b), c.cap)
			}
			p.Put(b)
		}
	}
	odd := make([]byte, 5000)
	p.Put(&odd) // not a class size: dropped, not handed out short
	if b := p.Get(4097); cap(*b) != 8192 {
		t.Fatalf("Get(4097) after an odd put: cap %d", cap(*b))
	}
	p.Put(nil)
	if b := p.Get(0); len(*b) != 0 {
		t.Fatalf("Get(0): len %d", len(*b))
	}
}
