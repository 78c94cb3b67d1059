package volume

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/wolke-cloud/wolke/internal/errs"
)

func block(b byte) []byte { return bytes.Repeat([]byte{b}, blockSize) }

// TestWriteCacheRanges: runs of consecutive blocks come out in order, a
// newer write of a block wins, and a write-back removes only the entries
// it stored.
func TestWriteCacheRanges(t *testing.T) {
	ctx := context.Background()
	c := newWriteCache(1 << 20)
	_ = c.put(ctx, 0, 8192, append(block(1), block(2)...))
	_ = c.put(ctx, 0, 0, block(3))
	_ = c.put(ctx, 0, 4*blockSize, block(4))
	rs := c.ranges(0)
	if len(rs) != 2 || rs[0].off != 0 || len(rs[0].blocks) != 1 || rs[1].off != 2*blockSize || len(rs[1].blocks) != 3 {
		t.Fatalf("ranges %+v", rs)
	}
	// The run of three blocks from two writes is two edits, the data not
	// copied: blocks 2-3 as they came in one write, block 4 from another.
	es := rs[1].appendEdits(nil)
	if len(es) != 2 || es[0].in != 2*blockSize || es[0].l != 2*blockSize || es[1].in != 4*blockSize || es[1].l != blockSize ||
		!bytes.Equal(es[0].data, append(block(1), block(2)...)) || !bytes.Equal(es[1].data, block(4)) ||
		&es[0].data[0] != &rs[1].blocks[0].data()[0] {
		t.Fatalf("run edits %+v", es)
	}
	_ = c.put(ctx, 0, 8192, block(9)) // replaces a block the write-back holds
	c.written(0, rs)
	if c.bytes != blockSize {
		t.Fatalf("%d bytes left, want one block", c.bytes)
	}
	p := make([]byte, 3*blockSize)
	c.overlay(0, blockSize, p)
	if !bytes.Equal(p[blockSize:2*blockSize], block(9)) || p[0] != 0 || p[2*blockSize] != 0 {
		t.Fatal("overlay after write-back")
	}
	c.drop(0, 0, 4*blockSize)
	if c.bytes != 0 || c.has(0) {
		t.Fatal("drop left blocks")
	}
}

// TestWriteCacheFull: a writer waits for room, gets it when a write-back
// frees some, and fails once the cache stayed full for its stall time.
func TestWriteCacheFull(t *testing.T) {
	ctx := context.Background()
	c := newWriteCache(2 * blockSize)
	c.stall = 200 * time.Millisecond
	_ = c.put(ctx, 0, 0, append(block(1), block(2)...))
	done := make(chan error, 1)
	go func() { done <- c.put(ctx, 1, 0, block(3)) }()
	select {
	case err := <-done:
		t.Fatalf("put into a full cache returned %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	if c.tryPut(4, 0, block(7)) {
		t.Fatal("tryPut took a write into a full cache")
	}
	c.written(0, c.ranges(0))
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !c.tryPut(4, 0, block(7)) {
		t.Fatal("tryPut refused a write the cache has room for")
	}
	if rs := c.ranges(4); len(rs) != 1 || !bytes.Equal(rs[0].appendEdits(nil)[0].data, block(7)) {
		t.Fatalf("tryPut cached %v", rs)
	}
	c.written(4, c.ranges(4))
	_ = c.put(ctx, 2, 0, block(4))
	c.failed(errors.New("no servers"))
	start := time.Now()
	err := c.put(ctx, 3, 0, block(5))
	if !errs.Is(err, errs.Unavailable) || time.Since(start) < c.stall {
		t.Fatalf("put into a cache that stays full: %v after %v", err, time.Since(start))
	}
	c.fail(errs.E("volume.write", errs.Precondition, "writer lease lost"))
	if err := c.put(ctx, 0, 0, block(6)); !errs.Is(err, errs.Precondition) {
		t.Fatalf("put after the lease was lost: %v", err)
	}
	c.written(2, c.ranges(2))
	if c.tryPut(5, 0, block(8)) {
		t.Fatal("tryPut took a write after the lease was lost")
	}
}

// TestWriteCacheShares: the writers' caches share Config.WriteCacheTotal
// as they come and go, each within WriteCache and above minCacheShare;
// a writer waiting for room gets in when its share grows.
func TestWriteCacheShares(t *testing.T) {
	s := &Service{cfg: Config{WriteCache: 64 << 20, WriteCacheTotal: 96 << 20}}
	vols := map[string]*Volume{}
	open := func(id string) { vols[id] = &Volume{cache: newWriteCache(64 << 20)}; s.setCached(id, vols[id]) }
	want := func(max int64, ids ...string) {
		t.Helper()
		for _, id := range ids {
			if m := vols[id].cache.max; m != max {
				t.Fatalf("%s: cache of %d bytes, want %d", id, m, max)
			}
		}
	}
	open("a")
	want(64<<20, "a")
	open("b")
	want(48<<20, "a", "b")
	for i := range 200 {
		open(fmt.Sprint(i))
	}
	want(minCacheShare, "a", "b", "0", "199")
	for i := range 200 {
		s.setCached(fmt.Sprint(i), nil)
	}
	s.setCached("a", nil)
	want(64<<20, "b")
	s.cfg.WriteCacheTotal = -1
	open("c")
	want(64<<20, "b", "c")

	c := newWriteCache(blockSize)
	ctx := context.Background()
	_ = c.put(ctx, 0, 0, block(1))
	done := make(chan error, 1)
	go func() { done <- c.put(ctx, 1, 0, block(2)) }()
	select {
	case err := <-done:
		t.Fatalf("put into a full cache returned %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	c.resize(2 * blockSize)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestWriteCacheDue: the write-back takes writes that waited too long
// first, oldest first, then, above the high mark, the extents with the
// most cached blocks; busy extents are left out.
func TestWriteCacheDue(t *testing.T) {
	ctx := context.Background()
	c := newWriteCache(16 * blockSize)
	for idx, blocks := range []int{1, 5, 2, 3} {
		for b := range blocks {
			_ = c.put(ctx, uint64(idx), int64(b)*blockSize, block(1))
		}
	}
	none := func(uint64) bool { return false }
	if got := c.due(4, false, time.Hour, none); len(got) != 0 {
		t.Fatalf("below the high mark: %v", got)
	}
	_ = c.put(ctx, 4, 0, bytes.Repeat(block(1), 4)) // 15 blocks: above 12
	if got := c.due(3, false, time.Hour, none); !slices.Equal(got, []uint64{1, 4, 3}) {
		t.Fatalf("densest first: %v", got)
	}
	if got := c.due(2, false, time.Hour, func(i uint64) bool { return i == 1 }); !slices.Equal(got, []uint64{4, 3}) {
		t.Fatalf("busy left out: %v", got)
	}
	c.extents[2].since = time.Now().Add(-2 * time.Second)
	c.extents[0].since = time.Now().Add(-3 * time.Second)
	if got := c.due(3, true, time.Second, none); !slices.Equal(got, []uint64{0, 2, 1}) {
		t.Fatalf("aged first, oldest first: %v", got)
	}
}

// TestWriteCacheBuffers: a write's buffer goes back to the pool only when
// no cached block and no write-back uses it: a write-back keeps the bytes
// it read while newer writes replace its blocks and reuse buffers.
func TestWriteCacheBuffers(t *testing.T) {
	ctx := context.Background()
	c := newWriteCache(1 << 20)
	a := bytes.Repeat([]byte{0xa}, 16*blockSize)
	if err := c.put(ctx, 0, 0, a); err != nil {
		t.Fatal(err)
	}
	rs := c.ranges(0)
	buf := rs[0].blocks[0].buf
	if buf.refs != 32 { // 16 cached blocks, 16 pinned
		t.Fatalf("refs %d after ranges, want 32", buf.refs)
	}
	es := rs[0].appendEdits(nil)
	if err := c.put(ctx, 0, 0, bytes.Repeat([]byte{0xb}, 16*blockSize)); err != nil { // replaces every block
		t.Fatal(err)
	}
	if buf.refs != 16 {
		t.Fatalf("refs %d after the blocks were replaced, want the 16 pins", buf.refs)
	}
	for i := range 64 { // churn: buffers of the same size come and go
		if err := c.put(ctx, 1, 0, bytes.Repeat([]byte{byte(i)}, 16*blockSize)); err != nil {
			t.Fatal(err)
		}
		c.drop(1, 0, 16*blockSize)
	}
	if len(es) != 1 || !bytes.Equal(es[0].data, a) {
		t.Fatal("a pinned write-back's data changed under it")
	}
	c.written(0, rs) // its blocks were replaced: nothing to drop
	c.unpin(rs)
	if buf.refs != 0 || c.bytes != 16*blockSize {
		t.Fatalf("after unpin: refs %d, %d bytes cached", buf.refs, c.bytes)
	}
	rs = c.ranges(0)
	c.written(0, rs)
	c.unpin(rs)
	if b := rs[0].blocks[0].buf; b.refs != 0 || c.bytes != 0 {
		t.Fatalf("after the write-back: refs %d, %d bytes cached", b.refs, c.bytes)
	}
}

// TestWriteCacheIndex: blocks far into a large extent and across page
// boundaries come out in order, overlay and drop meet exactly the blocks
// of their range, and pages left empty go back.
func TestWriteCacheIndex(t *testing.T) {
	ctx := context.Background()
	c := newWriteCache(1 << 20)
	page := int64(pageBlocks * blockSize)
	offs := []int64{900 << 20, page - blockSize, 0, page, 3 * page} // a 1 GiB extent's
	for i, o := range offs {
		if err := c.put(ctx, 7, o, block(byte(i+1))); err != nil {
			t.Fatal(err)
		}
	}
	rs := c.ranges(7)
	var got []int64
	for _, r := range rs {
		got = append(got, r.off, int64(len(r.blocks)))
	}
	if want := []int64{0, 1, page - blockSize, 2, 3 * page, 1, 900 << 20, 1}; !slices.Equal(got, want) {
		t.Fatalf("runs (offset, blocks) %v, want %v", got, want)
	}
	c.unpin(rs)
	p := make([]byte, 2*blockSize+100)
	c.overlay(7, page-blockSize-50, p) // meets the blocks at page-2*blockSize (none cached) to page+blockSize (none)
	if p[49] != 0 || p[50] != 2 || p[50+blockSize-1] != 2 || p[50+blockSize] != 4 || p[49+2*blockSize] != 4 || p[50+2*blockSize] != 0 {
		t.Fatal("overlay across a page boundary copied the wrong bytes")
	}
	c.drop(7, page-blockSize, blockSize+1) // only the whole block inside
	if x := c.extents[7]; x.n != 4 || c.bytes != 4*blockSize || x.slot(page-blockSize).buf != nil || x.slot(page).buf == nil {
		t.Fatalf("after drop: %d blocks, %d bytes", x.n, c.bytes)
	}
	c.drop(7, 3*page, page)
	if x := c.extents[7]; x.pages[3] != nil || x.pages[0] == nil {
		t.Fatal("an emptied page was kept, or a used one given back")
	}
	rs = c.ranges(7)
	c.written(7, rs)
	c.unpin(rs)
	if c.has(7) || c.bytes != 0 {
		t.Fatalf("after the write-back: has %v, %d bytes", c.has(7), c.bytes)
	}
}

// TestWriteCacheSums: with sum set, every edit of a write-back carries
// the CRC32C of each of its blocks, also where a newer write replaced
// blocks in the middle of an older one; without it, none; nor do writes
// larger than sumMax.
func TestWriteCacheSums(t *testing.T) {
	ctx := context.Background()
	for _, sum := range []bool{true, false} {
		c := newWriteCache(1 << 20)
		c.sum = sum
		var four []byte
		for b := range 4 {
			four = append(four, block(byte(10+b))...)
		}
		_ = c.put(ctx, 0, 0, four)
		if !c.tryPut(0, blockSize, block(1)) { // replaces the second block
			t.Fatal("tryPut refused")
		}
		_ = c.put(ctx, 0, 6*blockSize, append(block(2), block(3)...))
		var es []edit
		for _, r := range c.ranges(0) {
			es = r.appendEdits(es)
		}
		if len(es) != 4 {
			t.Fatalf("%d edits, want 4", len(es))
		}
		for _, ed := range es {
			switch {
			case !sum && ed.sums != nil:
				t.Fatalf("edit at %d has sums without sum", ed.in)
			case sum && !slices.Equal(ed.sums, crcBlocks(ed.data)):
				t.Fatalf("edit at %d (%d bytes): sums %x, want %x", ed.in, ed.l, ed.sums, crcBlocks(ed.data))
			}
		}
	}
	c := newWriteCache(1 << 20)
	c.sum = true
	_ = c.put(ctx, 1, 0, make([]byte, sumMax+blockSize))
	if es := c.ranges(1)[0].appendEdits(nil); len(es) != 1 || es[0].sums != nil {
		t.Fatalf("a write larger than sumMax: edits %d, sums %v", len(es), es[0].sums)
	}
}

// TestKnownSums: an extent made of cached edits and other bytes gets the
// edits' sums where they cover whole blocks and computed ones elsewhere;
// edits without sums give none.
func TestKnownSums(t *testing.T) {
	c := newWriteCache(1 << 20)
	c.sum = true
	ctx := context.Background()
	_ = c.put(ctx, 0, blockSize, append(block(1), block(2)...))
	_ = c.put(ctx, 0, 5*blockSize, block(3))
	var es []edit
	for _, r := range c.ranges(0) {
		es = r.appendEdits(es)
	}
	es = append(es, edit{in: 3 * blockSize, l: blockSize}) // zeroes, no sums
	buf := bytes.Repeat([]byte{9}, 8*blockSize)            // as read from a replica
	for _, e := range es {
		if e.data == nil {
			clear(buf[e.in : e.in+e.l])
		}
		copy(buf[e.in:], e.data)
	}
	// Sums the edits bring are used as they are: a wrong one shows.
	es[0].sums[0]++
	want := crcBlocks(buf)
	want[1]++
	if got := knownSums(buf, es); !slices.Equal(got, want) {
		t.Fatalf("knownSums %x, want %x", got, want)
	}
	if got := knownSums(buf, []edit{{in: 0, l: blockSize, data: block(1)}}); got != nil {
		t.Fatalf("sums %x from edits without any", got)
	}
}
