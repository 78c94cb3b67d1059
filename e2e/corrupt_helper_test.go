package e2e

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// TestCorruptDiskHelper checks the corrupter itself on a sparse file: data
// blocks change, superblock areas and zero blocks do not.
func TestCorruptDiskHelper(t *testing.T) {
	p := filepath.Join(t.TempDir(), "disk0.img")
	const size = 4 << 20
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	head := bytes.Repeat([]byte{0xAA}, superblockSpan)
	tail := bytes.Repeat([]byte{0xBB}, superblockSpan)
	data := randomBytes(3*block, 1)
	for _, w := range []struct {
		b   []byte
		off int64
	}{{head, 0}, {tail, size - superblockSpan}, {data, 1 << 20}, {data[:block], 3 << 20}} {
		if _, err := f.WriteAt(w.b, w.off); err != nil {
			t.Fatal(err)
		}
	}
	f.Close()

	n := corruptDisk(t, p, rand.New(rand.NewPCG(1, 2)))
	if n != 4 {
		t.Errorf("corrupted %d blocks, want 4", n)
	}
	got, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got[:superblockSpan], head) || !bytes.Equal(got[size-superblockSpan:], tail) {
		t.Error("superblock areas changed")
	}
	for i := 0; i < 3; i++ {
		off := 1<<20 + i*block
		if bytes.Equal(got[off:off+block], data[i*block:(i+1)*block]) {
			t.Errorf("data block %d unchanged", i)
		}
	}
	if bytes.Equal(got[3<<20:3<<20+block], data[:block]) {
		t.Error("lone data block unchanged")
	}
	// Everything else is still zero.
	zeroed := append([]byte(nil), got...)
	copy(zeroed[:superblockSpan], make([]byte, superblockSpan))
	copy(zeroed[size-superblockSpan:], make([]byte, superblockSpan))
	copy(zeroed[1<<20:1<<20+3*block], make([]byte, 3*block))
	copy(zeroed[3<<20:3<<20+block], make([]byte, block))
	if !allZero(zeroed) {
		t.Error("bytes outside the data blocks changed")
	}
}
