package volume_test

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/wolke-cloud/wolke/block/volume"
	"github.com/wolke-cloud/wolke/cluster"
	"github.com/wolke-cloud/wolke/meta/metapb"
)

// TestCoded: with the cluster's 4+2 code, an st1 volume's extent written
// whole is stored as 6 shards on distinct servers; it reads back whole
// and in pieces across shard boundaries, also with two of its data
// shards' servers down; a write of part of it copies it to 3 replicas; a
// whole write codes it again; a snapshot of it reads back. A gp2
// volume's extent written whole is replicated.
func TestCoded(t *testing.T) {
	e := &env{c: cluster.Start(t, cluster.Options{Volume: volume.Config{WriteCache: -1}}), ctx: t.Context()}
	const x = 1 << 20
	resp, err := e.c.Meta().Volumes().CreateVolume(e.ctx, &metapb.CreateVolumeRequest{Volume: &metapb.Volume{
		Size: 2 * x, ExtentSize: x, Zone: "z1", VolumeType: "st1"}})
	if err != nil {
		t.Fatal(err)
	}
	vid := resp.Volume.Id
	vx := e.open(t, vid, false)
	defer vx.Close()
	rnd := rand.New(rand.NewPCG(7, 9))
	want := make([]byte, 2*x)
	for i := range want {
		want[i] = byte(rnd.Uint32())
	}
	write := func(off int, b []byte) {
		t.Helper()
		if err := vx.WriteAt(e.ctx, b, int64(off), false); err != nil {
			t.Fatalf("write at %d: %v", off, err)
		}
		copy(want[off:], b)
	}
	check := func(what string) {
		t.Helper()
		for _, r := range [][2]int{{0, 2 * x}, {x/4 - 100, 300 << 10}, {x/2 + 5, 7}, {x - 4096, 8192}, {3*x/4 - 1, 2}} {
			if got := e.read(t, vx, int64(r[0]), int64(r[1])); !bytes.Equal(got, want[r[0]:r[0]+r[1]]) {
				t.Fatalf("%s: [%d, +%d) reads other bytes", what, r[0], r[1])
			}
		}
	}
	write(0, bytes.Clone(want))
	ext := e.extent(t, vid, 0)
	servers := map[int]bool{}
	for _, d := range ext.Disks {
		servers[e.serverOf(t, d)] = true
	}
	if ext.DataShards != 4 || len(ext.Disks) != 6 || len(servers) != 6 {
		t.Fatalf("extent written whole: %v, on %d servers: want 4+2 shards on 6", ext, len(servers))
	}
	check("coded")

	// Two data shards' servers down: pieces are decoded from the others.
	var down []int
	restart := func() {
		for _, i := range down {
			if err := e.c.StartChunk(e.ctx, i); err != nil {
				t.Error(err)
			}
		}
		down = nil
	}
	defer restart()
	for _, d := range ext.Disks[:2] {
		i := e.serverOf(t, d)
		if err := e.c.StopChunk(i); err != nil {
			t.Fatal(err)
		}
		down = append(down, i)
	}
	check("two shards down")
	restart()

	// A write of part of the coded extent copies it to replicas.
	write(300<<10, bytes.Repeat([]byte{0xab}, 4096))
	if got := e.extent(t, vid, 0); got.DataShards != 0 || len(got.Disks) != 3 || got.ChunkId == ext.ChunkId {
		t.Fatalf("after a partial write: %v", got)
	}
	check("replicated")

	// A snapshot taken now (extent 0 replicated, extent 1 coded) keeps its
	// bytes while the volume writes extent 0 whole, coded again.
	snap, err := e.c.Meta().Volumes().CreateSnapshot(e.ctx, &metapb.CreateSnapshotRequest{Snapshot: &metapb.Snapshot{VolumeId: vid}})
	if err != nil {
		t.Fatal(err)
	}
	old := bytes.Clone(want)
	write(0, bytes.Repeat([]byte{0xcd}, x))
	if got := e.extent(t, vid, 0); got.DataShards != 4 {
		t.Fatalf("whole write over a replicated extent: %v", got)
	}
	check("coded again")
	sx := e.open(t, snap.Snapshot.Id, true)
	defer sx.Close()
	if !bytes.Equal(e.read(t, sx, 0, 2*x), old) {
		t.Fatal("snapshot reads other bytes")
	}

	// A volume of another type keeps extents written whole on replicas.
	gid := e.create(t, x, "")
	gx := e.open(t, gid, false)
	defer gx.Close()
	if err := gx.WriteAt(e.ctx, want[:x], 0, false); err != nil {
		t.Fatal(err)
	}
	if got := e.extent(t, gid, 0); got.DataShards != 0 || len(got.Disks) != 3 {
		t.Fatalf("gp2 extent written whole: %v", got)
	}
}
