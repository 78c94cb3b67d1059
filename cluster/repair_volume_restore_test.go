package cluster

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/wolke-cloud/wolke/block/volume"
	"github.com/wolke-cloud/wolke/meta/metapb"
)

// Copies of volume chunks deleted from active disks (as the scrubber
// deletes damaged ones) come back in one repair pass, on their own disks
// under the same ids: a coded shard decoded from the others, a replica of
// an extent patched in place at the generation of the others. Both
// volumes and the snapshot then read back, every copy where meta maps it.
func TestVolumeRepairDeletedCopies(t *testing.T) {
	c := Start(t, durabilityOpts(t.TempDir()))
	ctx := context.Background()
	type image struct {
		vid, sid  string
		vol, snap []byte
	}
	var imgs []image
	for _, vtype := range []string{"gp2", "st1"} {
		vid, sid, vol, snap := volumeImageOf(t, c, vtype)
		imgs = append(imgs, image{vid, sid, vol, snap})
	}
	// Extent 2 of the gp2 volume is its own since the snapshot: a write
	// patches it in place.
	ex := openExport(t, c, imgs[0].vid, false)
	p := payload(12, 4096)
	if err := ex.WriteAt(ctx, p, 2*volTestExtent+4096, false); err != nil {
		t.Fatal(err)
	}
	copy(imgs[0].vol[2*volTestExtent+4096:], p)
	if err := ex.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := ex.Close(); err != nil {
		t.Fatal(err)
	}
	gp2, st1 := extentMap(t, c, imgs[0].vid, ""), extentMap(t, c, imgs[1].vid, "")
	coded := slices.IndexFunc(st1, func(e *metapb.Extent) bool { return e.DataShards > 0 })
	patched := slices.IndexFunc(gp2, func(e *metapb.Extent) bool { return e.Index == 2 })
	if coded < 0 || patched < 0 || gp2[patched].DataShards != 0 {
		t.Fatalf("layouts: gp2 %v, st1 %v", gp2, st1)
	}
	gen := replicaGen(t, c, gp2[patched])
	if gen == 0 {
		t.Fatalf("gp2 extent 2 at generation 0: not patched in place")
	}
	gone := []struct{ disk, chunk string }{{gp2[patched].Disks[1], gp2[patched].ChunkId}, {st1[coded].Disks[2], st1[coded].ChunkId}}
	for _, g := range gone {
		if err := c.Volumes().Shards().DeleteShard(ctx, g.disk, g.chunk); err != nil {
			t.Fatal(err)
		}
	}
	pass(t, c)
	if st := c.Repair().Status(); st.VolumeChunksRepaired < 2 || st.LastError != "" {
		t.Fatalf("status after the pass: %+v", st)
	}
	for _, x := range []struct {
		vid    string
		before *metapb.Extent
		pos    int
	}{{imgs[0].vid, gp2[patched], patched}, {imgs[1].vid, st1[coded], coded}} {
		if after := extentMap(t, c, x.vid, "")[x.pos]; after.ChunkId != x.before.ChunkId || !slices.Equal(after.Disks, x.before.Disks) {
			t.Fatalf("extent moved: %v, was %v", after, x.before)
		}
	}
	if g := replicaGen(t, c, gp2[patched]); g != gen {
		t.Fatalf("replicas at generation %d after the restore, were at %d", g, gen)
	}
	for _, im := range imgs {
		checkLayout(t, c, im.vid, extentMap(t, c, im.vid, ""), im.vol, nil)
		checkLayout(t, c, im.sid, extentMap(t, c, "", im.sid), im.snap, nil)
		readExport(t, c, im.vid, im.vol)
		readExport(t, c, im.sid, im.snap)
	}
}

// A replica of an attached volume's extent deleted from an active disk is
// restored by the repair worker while the writer holds the volume: in
// place, at the writer's generation, so that the writer's next write
// patches all three replicas in place and the extent keeps its chunk.
func TestVolumeRepairRestoresAttachedReplica(t *testing.T) {
	c := Start(t, durabilityOpts(t.TempDir()))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	vid, vv := attachVolume(t, c, "gp2", 4)
	vol := payload(31, 4*volTestExtent)
	write := func(off int, b []byte) {
		t.Helper()
		if err := vv.WriteAt(ctx, b, int64(off), false); err != nil {
			t.Fatalf("write at %d: %v", off, err)
		}
		copy(vol[off:], b)
		if err := vv.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	write(0, slices.Clone(vol))
	write(2*volTestExtent+4096, payload(32, 8192)) // in place
	before := extentMap(t, c, vid, "")[2]
	gen := replicaGen(t, c, before)
	if err := c.Volumes().Shards().DeleteShard(ctx, before.Disks[0], before.ChunkId); err != nil {
		t.Fatal(err)
	}
	pass(t, c)
	if st := c.Repair().Status(); st.VolumeChunksRepaired < 1 || st.LastError != "" {
		t.Fatalf("status after the pass: %+v", st)
	}
	if g := replicaGen(t, c, before); g != gen {
		t.Fatalf("replicas at generation %d after the restore, were at %d", g, gen)
	}
	write(2*volTestExtent+16384, payload(33, 4096))
	after := extentMap(t, c, vid, "")[2]
	if after.ChunkId != before.ChunkId || !slices.Equal(after.Disks, before.Disks) {
		t.Fatalf("the writer moved the extent: %v, was %v (a replica was not at its generation)", after, before)
	}
	if g := replicaGen(t, c, after); g != gen+1 {
		t.Fatalf("replicas at generation %d after the write, want %d", g, gen+1)
	}
	checkLayout(t, c, vid, extentMap(t, c, vid, ""), vol, nil)
	got := make([]byte, len(vol))
	if err := vv.ReadAt(ctx, got, 0); err != nil || !slices.Equal(got, vol) {
		t.Fatalf("writer reads back: equal %v, %v", slices.Equal(got, vol), err)
	}
}

// replicaGen returns the generation every replica of e is at, failing the
// test if one is missing or they differ.
func replicaGen(t *testing.T, c *Cluster, e *metapb.Extent) uint64 {
	t.Helper()
	var gens []uint64
	for _, d := range e.Disks {
		g, err := c.Volumes().Shards().ShardGen(context.Background(), d, e.ChunkId)
		if err != nil {
			t.Fatalf("chunk %s on %s: %v", e.ChunkId, d, err)
		}
		gens = append(gens, g)
	}
	if slices.Min(gens) != slices.Max(gens) {
		t.Fatalf("chunk %s: replicas at generations %v", e.ChunkId, gens)
	}
	return gens[0]
}

// attachVolume creates a volume of vtype, extents volTestExtent long, and
// opens it as its writer until the test ends.
func attachVolume(t *testing.T, c *Cluster, vtype string, extents int64) (string, *volume.Volume) {
	t.Helper()
	resp, err := c.Meta().Volumes().CreateVolume(context.Background(), &metapb.CreateVolumeRequest{Volume: &metapb.Volume{
		Size: extents * volTestExtent, ExtentSize: volTestExtent, Zone: "z1", VolumeType: vtype,
	}})
	if err != nil {
		t.Fatal(err)
	}
	ex := openExport(t, c, resp.Volume.Id, false)
	t.Cleanup(func() { _ = ex.Close() })
	vv, ok := ex.(*volume.Volume)
	if !ok {
		t.Fatalf("export is a %T", ex)
	}
	return resp.Volume.Id, vv
}

// A volume chunk that lost copies on active disks and cannot get them
// back (here every copy is gone: no source) is counted at risk in the
// repair status, as a chunk on a lost disk is; the status clears once
// the chunk is whole again.
func TestVolumeRepairCountsUnrestoredCopies(t *testing.T) {
	c := Start(t, durabilityOpts(t.TempDir()))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	vid, vv := attachVolume(t, c, "gp2", 2)
	vol := payload(41, 2*volTestExtent)
	if err := vv.WriteAt(ctx, vol, 0, false); err != nil {
		t.Fatal(err)
	}
	if err := vv.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	e := extentMap(t, c, vid, "")[1]
	for _, d := range e.Disks {
		if err := c.Volumes().Shards().DeleteShard(ctx, d, e.ChunkId); err != nil {
			t.Fatal(err)
		}
	}
	pass(t, c)
	if st := c.Repair().Status(); st.VolumeExtentsAtRisk != 1 {
		t.Fatalf("status with a chunk missing every copy: %d at risk, want 1 (%+v)", st.VolumeExtentsAtRisk, st)
	}
	// The writer rewrites the extent whole: a new chunk, nothing missing.
	if err := vv.WriteAt(ctx, vol[volTestExtent:], volTestExtent, true); err != nil {
		t.Fatal(err)
	}
	pass(t, c)
	if st := c.Repair().Status(); st.VolumeExtentsAtRisk != 0 {
		t.Fatalf("status after the extent was rewritten: %d at risk, want 0", st.VolumeExtentsAtRisk)
	}
}
