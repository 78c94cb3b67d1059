package cluster

import (
	"bytes"
	"context"
	"slices"
	"testing"
	"time"

	"github.com/wolke-cloud/wolke/meta/metapb"
)

// A chunk server is lost under an attached volume: the repair worker
// leaves the volume's chunks to its writer, the writer (which goes on
// writing meanwhile) moves its extents to healthy disks, then the worker
// moves the snapshot's chunks the volume left. Every replica of the volume
// and the snapshot is then on an active disk and holds the right bytes,
// and both read back exactly once the chunks the volume had before the
// loss are deleted everywhere. With an st1 volume (4+2 coded extents, 7
// servers), the writer's copies of coded extents are coded again, on the
// six servers left.
func TestVolumeRepairAttachedWriterHeals(t *testing.T) {
	t.Run("Replicas", func(t *testing.T) { testWriterHeals(t, durabilityOpts(t.TempDir()), "gp3") })
	t.Run("Coded", func(t *testing.T) {
		opts := durabilityOpts(t.TempDir())
		opts.ChunkServers = 7
		testWriterHeals(t, opts, "st1")
	})
}

func testWriterHeals(t *testing.T, opts Options, vtype string) {
	c := Start(t, opts)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	vid, vv := attachVolume(t, c, vtype, 8)
	vol := payload(21, 8*volTestExtent)
	write := func(off int, b []byte) {
		t.Helper()
		if err := vv.WriteAt(ctx, b, int64(off), false); err != nil {
			t.Fatalf("write at %d: %v", off, err)
		}
		copy(vol[off:], b)
	}
	write(0, slices.Clone(vol))
	write(3*volTestExtent+4096, payload(22, 4096)) // in place
	if err := vv.Flush(ctx); err != nil {          // a snapshot holds what was flushed before it
		t.Fatal(err)
	}
	sresp, err := c.Meta().Volumes().CreateSnapshot(ctx, &metapb.CreateSnapshotRequest{Snapshot: &metapb.Snapshot{VolumeId: vid}})
	if err != nil {
		t.Fatal(err)
	}
	sid, snap := sresp.Snapshot.Id, slices.Clone(vol)
	write(2*volTestExtent, payload(23, volTestExtent)) // the volume's own chunk from now on
	if err := vv.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	before := extentMap(t, c, vid, "")
	victim := sharedVictim(t, c, before)
	lost := map[string]bool{}
	for _, d := range c.chunks[victim].srv.Disks() {
		lost[d.ID] = true
	}
	if err := c.StopChunk(victim); err != nil {
		t.Fatal(err)
	}
	// Writes go on: extent 2 is patched in place (one replica is gone: the
	// write copies the extent), extent 6 copied (shared with the snapshot).
	write(2*volTestExtent+8192, payload(24, 4096))
	write(6*volTestExtent, payload(25, 4096))
	if err := vv.Flush(ctx); err != nil {
		t.Fatal(err)
	}

	// The worker declares the disk lost and leaves the attached volume's
	// chunks alone.
	pass(t, c)
	st := c.Repair().Status()
	if st.VolumeChunksWaiting == 0 || st.VolumeExtentsAtRisk < st.VolumeChunksWaiting {
		t.Fatalf("worker with an attached volume on a lost disk: %+v", st)
	}
	t.Logf("after the first pass: %d chunks re-replicated by the worker, %d left to the writer", st.VolumeChunksRepaired, st.VolumeChunksWaiting)

	// The writer moves its extents; what it reads and writes stays right.
	moved, err := vv.HealReplicas(ctx)
	if err != nil || moved == 0 {
		t.Fatalf("writer heal: moved %d, %v", moved, err)
	}
	write(5*volTestExtent+12288, payload(26, 4096))
	got := make([]byte, len(vol))
	if err := vv.ReadAt(ctx, got, 0); err != nil || !bytes.Equal(got, vol) {
		t.Fatalf("writer reads back after healing: %v (equal %v)", err, bytes.Equal(got, vol))
	}
	if err := vv.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	healed := extentMap(t, c, vid, "")
	checkLayout(t, c, vid, healed, vol, lost)
	if coded := slices.ContainsFunc(healed, func(e *metapb.Extent) bool { return e.DataShards > 0 }); coded != (vtype == "st1") {
		t.Fatalf("coded extents after healing: %v, want %v", coded, vtype == "st1")
	}

	// The snapshot's chunks the volume left are the worker's now.
	pass(t, c)
	st = c.Repair().Status()
	if st.VolumeExtentsAtRisk != 0 || st.VolumeChunksWaiting != 0 {
		t.Fatalf("after the writer healed and a second pass: %+v", st)
	}
	checkLayout(t, c, sid, extentMap(t, c, "", sid), snap, lost)

	// The chunks the volume had before the loss that nothing maps any
	// more go, everywhere: the volume does not need them.
	mapped := map[string]bool{}
	for _, m := range [][]*metapb.Extent{extentMap(t, c, vid, ""), extentMap(t, c, "", sid)} {
		for _, e := range m {
			mapped[e.ChunkId] = true
		}
	}
	deleted := 0
	for _, e := range before {
		if mapped[e.ChunkId] {
			continue
		}
		for _, d := range e.Disks {
			if !lost[d] {
				if err := c.Volumes().Shards().DeleteShard(ctx, d, e.ChunkId); err == nil {
					deleted++
				}
			}
		}
	}
	if deleted == 0 {
		t.Fatal("no old replica to delete: the volume kept its chunks")
	}
	if err := vv.Close(); err != nil {
		t.Fatal(err)
	}
	readExport(t, c, vid, vol)
	readExport(t, c, sid, snap)
}

// sharedVictim picks the chunk server to lose: one holding a replica or
// shard of extent 2 and of at least one extent the test does not write
// after the loss (not 2 or 6), so that the worker must find a chunk of
// the attached volume on the lost disk and leave it to the writer.
// Placement is random: the first disk of extent 2 alone may be on a
// server no other extent uses.
func sharedVictim(t *testing.T, c *Cluster, exts []*metapb.Extent) int {
	t.Helper()
	for _, e := range exts {
		if e.Index != 2 {
			continue
		}
		for _, d := range e.Disks {
			srv := serverOf(t, c, d)
			for _, o := range exts {
				if o.Index == 2 || o.Index == 6 {
					continue
				}
				if slices.ContainsFunc(o.Disks, func(od string) bool { return serverOf(t, c, od) == srv }) {
					return srv
				}
			}
		}
	}
	t.Fatalf("no server holds extent 2 and another extent: %v", exts)
	return -1
}
