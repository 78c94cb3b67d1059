package wire

import (
	"bytes"
	"testing"
	"time"
	"unsafe"
)

// TestBufsFrames: frames read through Bufs come back whole, large bodies
// end on a page boundary (a patch's blocks then start on one), and a
// limited Bufs makes the next reader wait until bodies are released.
func TestBufsFrames(t *testing.T) {
	var stream bytes.Buffer
	bodies := [][]byte{bytes.Repeat([]byte{1}, 100), bytes.Repeat([]byte{2}, 21+8192), bytes.Repeat([]byte{3}, 1<<20)}
	for i, b := range bodies {
		stream.Write(AppendFrame(nil, OpPatch, uint64(i), b))
	}
	bufs := NewBufs(1<<20 + 9000)
	var releases []func()
	for i, want := range bodies {
		f, release, err := bufs.ReadFrame(&stream)
		if err != nil || f.ID != uint64(i) || f.Op != OpPatch || !bytes.Equal(f.Body, want) {
			t.Fatalf("frame %d: id %d op %d equal %v err %v", i, f.ID, f.Op, bytes.Equal(f.Body, want), err)
		}
		if len(want) >= minPooled {
			if end := uintptr(unsafe.Pointer(&f.Body[len(f.Body)-1])) + 1; end%pageSize != 0 {
				t.Errorf("frame %d: body ends at %#x, not on a page", i, end)
			}
		}
		releases = append(releases, release)
	}
	if got := bufs.InUse(); got != int64(100+21+8192+1<<20) {
		t.Errorf("in use %d", got)
	}
	// Over the limit: the next frame waits until bodies come back.
	stream.Write(AppendFrame(nil, OpRead, 9, make([]byte, 1000)))
	got := make(chan error, 1)
	go func() {
		_, release, err := bufs.ReadFrame(&stream)
		if err == nil {
			release()
		}
		got <- err
	}()
	select {
	case err := <-got:
		t.Fatalf("a frame over the limit was read at once (%v)", err)
	case <-time.After(50 * time.Millisecond):
	}
	for _, r := range releases {
		r()
		r() // twice is harmless
	}
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the waiting frame was not read after the release")
	}
	if got := bufs.InUse(); got != 0 {
		t.Errorf("in use %d after every release", got)
	}
}
