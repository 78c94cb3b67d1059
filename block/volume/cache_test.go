package volume_test

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/wolke-cloud/wolke/block/volume"
	"github.com/wolke-cloud/wolke/cluster"
)

func TestWriteCache(t *testing.T) {
	e := &env{c: cluster.Start(t, cluster.Options{}), ctx: t.Context()}
	t.Run("OnePatchPerExtent", func(t *testing.T) { testOnePatchPerExtent(t, e) })
	t.Run("HoleAndClose", func(t *testing.T) { testCacheHoleAndClose(t, e) })
	t.Run("OverwriteInside", func(t *testing.T) { testCacheOverwriteInside(t, e) })
	t.Run("TryWriteAt", func(t *testing.T) { testTryWriteAt(t, e) })
	// A cache of 16 blocks keeps writers waiting for write-backs.
	small := &env{c: cluster.Start(t, cluster.Options{Volume: volume.Config{WriteCache: 64 << 10}}), ctx: t.Context()}
	t.Run("RandomMix", func(t *testing.T) { testCacheRandomMix(t, small) })
}

// testOnePatchPerExtent: plain 4 KiB writes scattered over an extent are
// read back before they are stored, and FLUSH stores them as one patch of
// each replica (the chunk's generation steps once), every replica then
// holding all of them.
func testOnePatchPerExtent(t *testing.T, e *env) {
	vid := e.create(t, 2<<20, "")
	x := e.open(t, vid, false)
	defer x.Close()
	want := fill(2<<20, 1)
	if err := x.WriteAt(e.ctx, want, 0, true); err != nil {
		t.Fatal(err)
	}
	ext := e.extent(t, vid, 0)
	gen0, err := e.c.Volumes().Shards().ShardGen(e.ctx, ext.Disks[0], ext.ChunkId)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(7, 8))
	for i := range 64 {
		off := int64(r.IntN(256)) * 4096
		p := fill(4096, byte(10+i))
		if err := x.WriteAt(e.ctx, p, off, false); err != nil {
			t.Fatal(err)
		}
		copy(want[off:], p)
	}
	if !bytes.Equal(e.read(t, x, 0, 2<<20), want) {
		t.Fatal("cached writes are not read back")
	}
	if err := x.Flush(e.ctx); err != nil {
		t.Fatal(err)
	}
	cur := e.extent(t, vid, 0)
	if cur.ChunkId != ext.ChunkId {
		t.Fatalf("the write-back moved the extent to %s", cur.ChunkId)
	}
	for _, d := range cur.Disks {
		g, err := e.c.Volumes().Shards().ShardGen(e.ctx, d, cur.ChunkId)
		if err != nil || g != gen0+1 {
			t.Errorf("replica on %s at generation %d (%v), want %d: one patch for all writes", d, g, err, gen0+1)
		}
		b, err := e.c.Volumes().Shards().ReadShardRange(e.ctx, d, cur.ChunkId, 0, 1<<20)
		if err != nil || !bytes.Equal(b, want[:1<<20]) {
			t.Errorf("replica on %s does not hold the flushed writes (%v)", d, err)
		}
	}
}

// testCacheHoleAndClose: a cached write to a hole is reported allocated by
// BlockStatus (a sparse copy must not skip it), and closing the handle
// stores it: a new handle reads it.
func testCacheHoleAndClose(t *testing.T, e *env) {
	vid := e.create(t, 4<<20, "")
	x := e.open(t, vid, false)
	p := fill(8192, 'h')
	if err := x.WriteAt(e.ctx, p, 3<<20+4096, false); err != nil {
		t.Fatal(err)
	}
	st, err := x.BlockStatus(e.ctx, 3<<20, 1<<20)
	if err != nil || len(st) == 0 || st[0].Hole {
		t.Errorf("BlockStatus of a cached extent: %+v, %v", st, err)
	}
	x.Close()
	y := e.open(t, vid, false)
	defer y.Close()
	got := e.read(t, y, 3<<20, 1<<20)
	want := make([]byte, 1<<20)
	copy(want[4096:], p)
	if !bytes.Equal(got, want) {
		t.Fatal("a cached write was lost at Close")
	}
}

// testCacheRandomMix: random writes (whole blocks, cached, and unaligned,
// written through), zeroes, trims and flushes through a cache smaller
// than the writes read back as a model says, before and after the handle
// is closed and opened again.
func testCacheRandomMix(t *testing.T, e *env) {
	const size = 3 << 20
	vid := e.create(t, size, "")
	x := e.open(t, vid, false)
	want := make([]byte, size)
	r := rand.New(rand.NewPCG(9, 10))
	for i := range 300 {
		switch k := r.IntN(20); {
		case k < 12: // whole blocks, possibly across extents
			off, n := int64(r.IntN(size/4096-8))*4096, int64(1+r.IntN(8))*4096
			p := make([]byte, n)
			for j := range p {
				p[j] = byte(r.Uint32())
			}
			if err := x.WriteAt(e.ctx, p, off, k == 0); err != nil {
				t.Fatalf("write %d: %v", i, err)
			}
			copy(want[off:], p)
		case k < 15: // unaligned
			off, n := int64(r.IntN(size-10000)), int64(1+r.IntN(9000))
			p := fill(int(n), byte(r.Uint32()))
			if err := x.WriteAt(e.ctx, p, off, false); err != nil {
				t.Fatalf("write %d: %v", i, err)
			}
			copy(want[off:], p)
		case k < 17:
			off, n := int64(r.IntN(size-70000)), int64(1+r.IntN(70000))
			if err := x.Zero(e.ctx, off, n, k == 15); err != nil {
				t.Fatalf("zero %d: %v", i, err)
			}
			clear(want[off : off+n])
		case k == 17:
			off := int64(r.IntN(3)) << 20
			if err := x.Trim(e.ctx, off, 1<<20); err != nil {
				t.Fatalf("trim %d: %v", i, err)
			}
			clear(want[off : off+1<<20])
		case k == 18:
			if err := x.Flush(e.ctx); err != nil {
				t.Fatalf("flush %d: %v", i, err)
			}
		default:
			off, n := int64(r.IntN(size-20000)), int64(1+r.IntN(20000))
			if got := e.read(t, x, off, n); !bytes.Equal(got, want[off:off+n]) {
				t.Fatalf("op %d: read %d+%d differs from what was written", i, off, n)
			}
		}
	}
	if !bytes.Equal(e.read(t, x, 0, size), want) {
		t.Fatal("the volume differs from what was written")
	}
	x.Close()
	y := e.open(t, vid, true)
	defer y.Close()
	if !bytes.Equal(e.read(t, y, 0, size), want) {
		t.Fatal("after Close, the volume differs from what was written")
	}
}

// testCacheOverwriteInside: a block rewritten inside an earlier larger
// cached write is stored with the newer data.
func testCacheOverwriteInside(t *testing.T, e *env) {
	vid := e.create(t, 1<<20, "")
	x := e.open(t, vid, false)
	defer x.Close()
	want := fill(16384, 'a')
	if err := x.WriteAt(e.ctx, want, 0, false); err != nil {
		t.Fatal(err)
	}
	if err := x.WriteAt(e.ctx, fill(4096, 'b'), 4096, false); err != nil {
		t.Fatal(err)
	}
	copy(want[4096:], fill(4096, 'b'))
	if err := x.Flush(e.ctx); err != nil {
		t.Fatal(err)
	}
	ext := e.extent(t, vid, 0)
	for _, d := range ext.Disks {
		b, err := e.c.Volumes().Shards().ReadShardRange(e.ctx, d, ext.ChunkId, 0, 16384)
		if err != nil || !bytes.Equal(b, want) {
			t.Errorf("replica on %s: %q... (%v)", d, b[4090:4100], err)
		}
	}
}

// testTryWriteAt: the NBD server's quick path takes whole blocks inside
// one extent into the cache, and leaves every other write (and any write
// to a read-only handle) to WriteAt; what it took is read back and
// stored by FLUSH.
func testTryWriteAt(t *testing.T, e *env) {
	vid := e.create(t, 4<<20, "")
	// The shape block/nbd looks for (its quickWriter).
	type quickWriter interface {
		TryWriteAt(p []byte, off int64) bool
	}
	xe := e.open(t, vid, false)
	defer xe.Close()
	x, ok := xe.(quickWriter)
	if !ok {
		t.Fatal("a writable volume handle has no TryWriteAt")
	}
	p := fill(8192, 'q')
	if !x.TryWriteAt(p, 1<<20+4096) {
		t.Fatal("TryWriteAt refused two whole blocks inside an extent")
	}
	for _, w := range []struct {
		off int64
		n   int
	}{{512, 4096}, {4096, 1000}, {1<<20 - 4096, 8192}} {
		if x.TryWriteAt(fill(w.n, 'z'), w.off) {
			t.Errorf("TryWriteAt took %d bytes at %d", w.n, w.off)
		}
	}
	if err := xe.Flush(e.ctx); err != nil {
		t.Fatal(err)
	}
	y := e.open(t, vid, true)
	defer y.Close()
	if !bytes.Equal(e.read(t, y, 1<<20, 16384), append(append(make([]byte, 4096), p...), make([]byte, 4096)...)) {
		t.Fatal("a quick write is not stored by FLUSH")
	}
	if y.(quickWriter).TryWriteAt(p, 0) {
		t.Fatal("a read-only handle took a quick write")
	}
}
