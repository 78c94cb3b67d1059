package nbd_test

import (
	"bytes"
	"context"
	"sync/atomic"
	"testing"

	"github.com/wolke-cloud/wolke/block/nbd"
	"github.com/wolke-cloud/wolke/block/nbd/nbdtest"
)

// quickExport takes plain writes below 64 KiB at once (TryWriteAt), as a
// write cache with room does; other writes, and every write while full is
// set, go to WriteAt.
type quickExport struct {
	nbd.Export
	full         atomic.Bool
	quick, plain atomic.Int32
}

func (q *quickExport) TryWriteAt(p []byte, off int64) bool {
	if q.full.Load() || off >= 64<<10 {
		return false
	}
	q.quick.Add(1)
	return q.Export.WriteAt(context.Background(), p, off, false) == nil
}

func (q *quickExport) WriteAt(ctx context.Context, p []byte, off int64, fua bool) error {
	q.plain.Add(1)
	return q.Export.WriteAt(ctx, p, off, fua)
}

// TestQuickWrites: writes the export takes at once are answered by the
// reader, in one batch, while a slow read is still in flight; FUA writes
// and those it refuses run on workers; all of them land.
func TestQuickWrites(t *testing.T) {
	release := make(chan struct{})
	mem := nbdtest.NewMem(1 << 20)
	q := &quickExport{Export: mem}
	x := oneExport{quickHook{hookExport: &hookExport{Export: q, hook: gateReads(release)}, q: q}}
	h := serve(t, nbd.Config{}, x)
	c := dialRaw(t, h.addr)
	c.start()
	c.goExport("q")
	c.request(0, cRead, 1, 0, 512, nil) // blocks until release
	for i := range 8 {
		c.request(0, cWrite, uint64(10+i), uint64(8192+4096*i), 4096, bytes.Repeat([]byte{byte(i + 1)}, 4096))
	}
	c.request(1, cWrite, 20, 4096, 4096, bytes.Repeat([]byte{9}, 4096)) // FUA: a worker's
	c.request(0, cWrite, 21, 128<<10, 4096, bytes.Repeat([]byte{7}, 4096))
	got := map[uint64]bool{}
	for range 10 {
		errno, cookie, _ := c.simple(0)
		if errno != 0 {
			t.Fatalf("cookie %d: errno %d", cookie, errno)
		}
		got[cookie] = true
	}
	if got[1] || len(got) != 10 {
		t.Fatalf("replies %v before the read was released", got)
	}
	close(release)
	if errno, cookie, _ := c.simple(512); errno != 0 || cookie != 1 {
		t.Fatalf("blocked read: errno %d cookie %d", errno, cookie)
	}
	if q.quick.Load() != 8 || q.plain.Load() != 2 {
		t.Errorf("quick %d plain %d, want 8 and 2", q.quick.Load(), q.plain.Load())
	}
	// Refused while full: the same write goes to WriteAt.
	q.full.Store(true)
	c.request(0, cWrite, 30, 0, 4096, bytes.Repeat([]byte{3}, 4096))
	if errno, cookie, _ := c.simple(0); errno != 0 || cookie != 30 {
		t.Fatalf("write while full: errno %d cookie %d", errno, cookie)
	}
	if q.plain.Load() != 3 {
		t.Errorf("plain writes %d, want 3", q.plain.Load())
	}
	for i, want := range map[int64]byte{0: 3, 4096: 9, 8192: 1, 8192 + 7*4096: 8, 128 << 10: 7} {
		b := make([]byte, 4096)
		if err := mem.ReadAt(context.Background(), b, i); err != nil || !bytes.Equal(b, bytes.Repeat([]byte{want}, 4096)) {
			t.Errorf("at %d: not the written data (%v)", i, err)
		}
	}
	// Quick writes followed at once by DISC are answered before the
	// connection closes.
	c.request(0, cWrite, 40, 0, 4096, bytes.Repeat([]byte{4}, 4096))
	q.full.Store(false)
	c.request(0, cWrite, 41, 0, 4096, bytes.Repeat([]byte{5}, 4096))
	c.request(0, cDisc, 42, 0, 0, nil)
	for _, want := range []uint64{40, 41} {
		if errno, cookie, _ := c.simple(0); errno != 0 || cookie != want {
			t.Fatalf("before DISC: errno %d cookie %d, want %d", errno, cookie, want)
		}
	}
}

// quickHook is a hookExport that also offers q's TryWriteAt.
type quickHook struct {
	*hookExport
	q *quickExport
}

func (h quickHook) TryWriteAt(p []byte, off int64) bool { return h.q.TryWriteAt(p, off) }

// oneExport serves x as "q" to every connection (nbdtest.Exports wraps
// its exports, hiding optional methods).
type oneExport struct{ x nbd.Export }

func (o oneExport) Open(context.Context, string, bool) (nbd.Export, nbd.ExportInfo, error) {
	return o.x, nbd.ExportInfo{Name: "q"}, nil
}

func (o oneExport) List(context.Context) ([]nbd.ExportInfo, error) {
	return []nbd.ExportInfo{{Name: "q"}}, nil
}
