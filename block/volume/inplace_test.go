package volume_test

import (
	"bytes"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/wolke-cloud/wolke/block/volume"
	"github.com/wolke-cloud/wolke/cluster"
	"github.com/wolke-cloud/wolke/meta/metapb"
)

func (e *env) extent(t *testing.T, vid string, idx uint64) *metapb.Extent {
	t.Helper()
	resp, err := e.c.Meta().Volumes().ListExtents(e.ctx, &metapb.ListExtentsRequest{VolumeId: vid, StartIndex: idx, Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Extents) == 0 || resp.Extents[0].Index != idx {
		return nil
	}
	return resp.Extents[0]
}

// serverOf is the index of the chunk server holding disk.
func (e *env) serverOf(t *testing.T, disk string) int {
	t.Helper()
	disks, err := e.c.Meta().ListDisks(e.ctx, &metapb.ListDisksRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range disks.Disks {
		if d.Id == disk {
			i, err := strconv.Atoi(strings.TrimPrefix(d.Server, "c"))
			if err != nil {
				t.Fatalf("server %q", d.Server)
			}
			return i
		}
	}
	t.Fatalf("no disk %s", disk)
	return -1
}

// TestInPlace runs without the write cache: each write goes to the
// replicas when it is answered, so the subtests can watch what every
// write does to them. The write cache stores its blocks through the same
// code (TestWriteCache).
func TestInPlace(t *testing.T) {
	e := &env{c: cluster.Start(t, cluster.Options{Volume: volume.Config{WriteCache: -1}}), ctx: t.Context()}
	t.Run("PartialWrites", func(t *testing.T) { testPartialWrites(t, e) })
	t.Run("MissedWrite", func(t *testing.T) { testMissedWrite(t, e) })
	t.Run("CrashBetweenReplicas", func(t *testing.T) { testCrashBetweenReplicas(t, e) })
	t.Run("LostUnflushed", func(t *testing.T) { testLostUnflushed(t, e) })
	t.Run("FlushFails", func(t *testing.T) { testFlushFails(t, e) })
	t.Run("ConcurrentFlush", func(t *testing.T) { testConcurrentFlush(t, e) })
}

// testPartialWrites: small writes, aligned or not, change the extent in
// place (same chunk, no meta commit) on every replica; after a snapshot
// the next write copies the extent and the snapshot keeps its data.
func testPartialWrites(t *testing.T, e *env) {
	vid := e.create(t, 2<<20, "")
	x := e.open(t, vid, false)
	defer x.Close()
	want := fill(2<<20, 1)
	if err := x.WriteAt(e.ctx, want, 0, true); err != nil {
		t.Fatal(err)
	}
	before := e.extent(t, vid, 0)
	r := rand.New(rand.NewPCG(5, 6))
	for i := range 40 {
		off, n := int64(r.IntN(1<<20-9000)), int64(1+r.IntN(9000))
		if i%2 == 0 {
			off, n = off&^4095, (n+4095)&^4095
		}
		p := make([]byte, n)
		for j := range p {
			p[j] = byte(r.Uint32())
		}
		if err := x.WriteAt(e.ctx, p, off, i%3 == 0); err != nil {
			t.Fatalf("write %d+%d: %v", off, n, err)
		}
		copy(want[off:], p)
	}
	if after := e.extent(t, vid, 0); after.ChunkId != before.ChunkId {
		t.Errorf("small writes moved the extent: chunk %s, was %s", after.ChunkId, before.ChunkId)
	}
	if !bytes.Equal(e.read(t, x, 0, 2<<20), want) {
		t.Fatal("writer does not read its in-place writes")
	}
	// Every replica holds them.
	for _, d := range before.Disks {
		b, err := e.c.Volumes().Shards().ReadShardRange(e.ctx, d, before.ChunkId, 0, 1<<20)
		if err != nil || !bytes.Equal(b, want[:1<<20]) {
			t.Errorf("replica on %s: equal %v, err %v", d, bytes.Equal(b, want[:1<<20]), err)
		}
	}
	ro := e.open(t, vid, true)
	defer ro.Close()
	if !bytes.Equal(e.read(t, ro, 0, 2<<20), want) {
		t.Error("a reader does not see the in-place writes")
	}

	snap, err := e.c.Meta().Volumes().CreateSnapshot(e.ctx, &metapb.CreateSnapshotRequest{Snapshot: &metapb.Snapshot{VolumeId: vid}})
	if err != nil {
		t.Fatal(err)
	}
	frozen := bytes.Clone(want)
	if err := x.WriteAt(e.ctx, fill(4096, 9), 4096, false); err != nil {
		t.Fatal(err)
	}
	copy(want[4096:], fill(4096, 9))
	if after := e.extent(t, vid, 0); after.ChunkId == before.ChunkId {
		t.Error("the first write after a snapshot did not copy the extent")
	}
	if err := x.WriteAt(e.ctx, fill(4096, 10), 8192, false); err != nil {
		t.Fatal(err)
	}
	copy(want[8192:], fill(4096, 10))
	sx := e.open(t, snap.Snapshot.Id, true)
	defer sx.Close()
	if !bytes.Equal(e.read(t, sx, 0, 2<<20), frozen) {
		t.Error("the snapshot changed after it was taken")
	}
	if !bytes.Equal(e.read(t, x, 0, 2<<20), want) {
		t.Error("volume lost writes after the snapshot")
	}
}

// testMissedWrite: a chunk server is down while the volume writes; the
// replica it holds misses writes. The writer moves the extent to a new
// chunk on live servers, so once the server is back its stale replica is
// never served, neither to the writer nor to a new handle.
func testMissedWrite(t *testing.T, e *env) {
	vid := e.create(t, 1<<20, "")
	x := e.open(t, vid, false)
	defer x.Close()
	want := fill(1<<20, 3)
	if err := x.WriteAt(e.ctx, want, 0, true); err != nil {
		t.Fatal(err)
	}
	if err := x.WriteAt(e.ctx, fill(4096, 4), 0, true); err != nil { // in place: generation 1
		t.Fatal(err)
	}
	copy(want, fill(4096, 4))
	old := e.extent(t, vid, 0)
	i := e.serverOf(t, old.Disks[0])
	if err := e.c.StopChunk(i); err != nil {
		t.Fatal(err)
	}
	for k := range 8 {
		p := fill(4096, byte(20+k))
		if err := x.WriteAt(e.ctx, p, int64(k)*8192, k%2 == 0); err != nil {
			t.Fatalf("write with a server down: %v", err)
		}
		copy(want[k*8192:], p)
	}
	if err := e.c.StartChunk(e.ctx, i); err != nil {
		t.Fatal(err)
	}
	cur := e.extent(t, vid, 0)
	if cur.ChunkId == old.ChunkId {
		t.Fatal("the extent still lives in the chunk a replica of which missed writes")
	}
	// The restarted server still has the old chunk at its old generation
	// (unless garbage collection got to it): that is what must not be read.
	if g, err := e.c.Volumes().Shards().ShardGen(e.ctx, old.Disks[0], old.ChunkId); err == nil && g != 1 {
		t.Errorf("stale replica at generation %d, want 1", g)
	}
	for n := range 3 {
		if !bytes.Equal(e.read(t, x, 0, 1<<20), want) {
			t.Fatalf("writer read %d: stale data", n)
		}
	}
	y := e.open(t, vid, true)
	defer y.Close()
	if !bytes.Equal(e.read(t, y, 0, 1<<20), want) {
		t.Fatal("reader: stale data")
	}
	// And writes go in place again, on the new chunk.
	if err := x.WriteAt(e.ctx, fill(4096, 99), 4096, true); err != nil {
		t.Fatal(err)
	}
	copy(want[4096:], fill(4096, 99))
	if got := e.extent(t, vid, 0); got.ChunkId != cur.ChunkId {
		t.Errorf("write after recovery moved the extent again")
	}
	if !bytes.Equal(e.read(t, x, 0, 1<<20), want) {
		t.Fatal("after recovery: wrong data")
	}
}

// testCrashBetweenReplicas: a writer died after its in-place write reached
// one replica but not the others (so it was never acknowledged). The next
// writer finds the replicas at different generations and moves the extent
// to a new chunk copied from the newest; every read from then on returns
// the same bytes, whichever replica it would have gone to.
func testCrashBetweenReplicas(t *testing.T, e *env) {
	vid := e.create(t, 1<<20, "")
	x := e.open(t, vid, false)
	if err := x.WriteAt(e.ctx, fill(1<<20, 'a'), 0, true); err != nil {
		t.Fatal(err)
	}
	if err := x.WriteAt(e.ctx, fill(4096, 'b'), 0, true); err != nil {
		t.Fatal(err)
	}
	x.Close()
	old := e.extent(t, vid, 0)
	// The dying writer's patch, on one replica only.
	if _, err := e.c.Volumes().Shards().PatchShard(e.ctx, old.Disks[1], old.ChunkId, 0, fill(4096, 'c'), 1); err != nil {
		t.Fatal(err)
	}
	y := e.open(t, vid, false)
	defer y.Close()
	first := e.read(t, y, 0, 1<<20)
	head := first[0]
	if head != 'b' && head != 'c' || !bytes.Equal(first[:4096], fill(4096, head)) || !bytes.Equal(first[4096:], fill(1<<20-4096, 'a')) {
		t.Fatalf("torn or wrong extent after the crash: head %q", head)
	}
	if cur := e.extent(t, vid, 0); cur.ChunkId == old.ChunkId {
		t.Error("replicas that disagree were kept")
	}
	for n := range 6 {
		if got := e.read(t, y, 0, 1<<20); !bytes.Equal(got, first) {
			t.Fatalf("read %d differs from the first read", n)
		}
	}
	ro := e.open(t, vid, true)
	defer ro.Close()
	if got := e.read(t, ro, 0, 1<<20); !bytes.Equal(got, first) {
		t.Fatal("a reader sees other bytes than the writer")
	}
	if err := y.WriteAt(e.ctx, fill(4096, 'd'), 8192, true); err != nil {
		t.Fatal(err)
	}
	copy(first[8192:], fill(4096, 'd'))
	if got := e.read(t, y, 0, 1<<20); !bytes.Equal(got, first) {
		t.Fatal("write after recovery")
	}
}
