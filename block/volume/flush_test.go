package volume_test

import (
	"bytes"
	"sync"
	"testing"
)

// testLostUnflushed: a replica whose server restarted having lost an
// unflushed in-place write (its chunk is back at the older generation) is
// never read by the writer, and the next FLUSH moves the extent off it
// (the restart changed the disk's epoch) rather than claim the write
// stable.
func testLostUnflushed(t *testing.T, e *env) {
	vid := e.create(t, 1<<20, "")
	x := e.open(t, vid, false)
	defer x.Close()
	if err := x.WriteAt(e.ctx, fill(1<<20, 'a'), 0, true); err != nil {
		t.Fatal(err)
	}
	if err := x.WriteAt(e.ctx, fill(4096, 'b'), 0, false); err != nil {
		t.Fatal(err)
	}
	old := e.extent(t, vid, 0)
	// The crash: replica 0 (the one extent 0 reads first) forgets the
	// write, and its server restarts.
	if err := e.c.Volumes().Shards().WriteShard(e.ctx, old.Disks[0], old.ChunkId, fill(1<<20, 'a')); err != nil {
		t.Fatal(err)
	}
	i := e.serverOf(t, old.Disks[0])
	if err := e.c.StopChunk(i); err != nil {
		t.Fatal(err)
	}
	if err := e.c.StartChunk(e.ctx, i); err != nil {
		t.Fatal(err)
	}
	want := append(fill(4096, 'b'), fill(1<<20-4096, 'a')...)
	for n := range 4 {
		if !bytes.Equal(e.read(t, x, 0, 1<<20), want) {
			t.Fatalf("read %d: stale data from the replica that lost the write", n)
		}
	}
	if err := x.Flush(e.ctx); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	if cur := e.extent(t, vid, 0); cur.ChunkId == old.ChunkId {
		t.Fatal("FLUSH left the extent on a replica that lost a write")
	}
	if !bytes.Equal(e.read(t, x, 0, 1<<20), want) {
		t.Fatal("after FLUSH: wrong data")
	}
}

// testFlushFails: a FLUSH that cannot make the writes stable (the disks
// that took them are down and too few servers are left to copy the
// extent to) fails, and keeps failing until it can; then it succeeds and
// the data is intact.
func testFlushFails(t *testing.T, e *env) {
	vid := e.create(t, 1<<20, "")
	x := e.open(t, vid, false)
	defer x.Close()
	if err := x.WriteAt(e.ctx, fill(1<<20, 'a'), 0, true); err != nil {
		t.Fatal(err)
	}
	if err := x.WriteAt(e.ctx, fill(4096, 'b'), 8192, false); err != nil {
		t.Fatal(err)
	}
	ext := e.extent(t, vid, 0)
	down := map[int]bool{}
	for _, d := range ext.Disks[:2] {
		down[e.serverOf(t, d)] = true
	}
	for i := 0; len(down) < 4; i++ {
		down[i] = true
	}
	for i := range down {
		if err := e.c.StopChunk(i); err != nil {
			t.Fatal(err)
		}
	}
	restarted := false
	restart := func() {
		if restarted {
			return
		}
		restarted = true
		for i := range down {
			if err := e.c.StartChunk(e.ctx, i); err != nil {
				t.Fatal(err)
			}
		}
	}
	defer restart()
	for n := range 2 {
		if err := x.Flush(e.ctx); err == nil {
			t.Fatalf("Flush %d succeeded with 2 of 6 chunk servers up and the write's disks down", n)
		}
	}
	restart()
	if err := x.Flush(e.ctx); err != nil {
		t.Fatalf("Flush after the servers came back: %v", err)
	}
	want := fill(1<<20, 'a')
	copy(want[8192:], fill(4096, 'b'))
	if !bytes.Equal(e.read(t, x, 0, 1<<20), want) {
		t.Fatal("after FLUSH: wrong data")
	}
}

// testConcurrentFlush: writers and FLUSHes run at once (run with -race);
// every write acknowledged before a FLUSH returned reads back, and no
// FLUSH fails while every server is up.
func testConcurrentFlush(t *testing.T, e *env) {
	const size = 4 << 20
	vid := e.create(t, size, "")
	x := e.open(t, vid, false)
	defer x.Close()
	if err := x.WriteAt(e.ctx, fill(size, 1), 0, true); err != nil {
		t.Fatal(err)
	}
	want := fill(size, 1)
	const workers, writes = 6, 20
	var wg sync.WaitGroup
	errc := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			for i := range writes {
				// Worker w owns every workers-th block: no two write the same one.
				off := int64((i*37)%(size/4096/workers)*workers+w) * 4096
				p := fill(4096, byte(2+w*writes+i))
				if err := x.WriteAt(e.ctx, p, off, i%7 == 6); err != nil {
					errc <- err
					return
				}
				copy(want[off:], p) // distinct blocks per worker: no overlap
				if i%5 == 4 {
					if err := x.Flush(e.ctx); err != nil {
						errc <- err
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	if err := x.Flush(e.ctx); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(e.read(t, x, 0, size), want) {
		t.Fatal("data after concurrent writes and flushes differs")
	}
}
