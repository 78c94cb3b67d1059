package cluster

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/klauspost/reedsolomon"
	"github.com/wolke-cloud/wolke/meta/metapb"
)

// A chunk server holding shards of coded extents (an st1 volume's, written
// whole, 4+2) of a detached volume and its snapshot is lost. With a seventh server one
// repair pass rebuilds every lost shard there, keeping the chunk ids; with
// six it moves each such chunk to 3 replicas. Either way each shard holds
// what the code makes of the extent's bytes, each replica those bytes,
// nothing is left at risk, and the volume and snapshot read back.
func TestVolumeRepairCoded(t *testing.T) {
	for _, servers := range []int{7, 6} {
		t.Run(fmt.Sprintf("servers=%d", servers), func(t *testing.T) { testVolumeRepairCoded(t, servers) })
	}
}

func testVolumeRepairCoded(t *testing.T, servers int) {
	opts := durabilityOpts(t.TempDir())
	opts.ChunkServers = servers
	c := Start(t, opts)
	vid, sid, vol, snap := volumeImageOf(t, c, "st1")
	before := extentMap(t, c, vid, "")
	coded := slices.IndexFunc(before, func(e *metapb.Extent) bool { return e.DataShards > 0 })
	if coded < 0 || before[6].DataShards != 0 {
		// Extent 6 was patched after the snapshot: copied to replicas.
		t.Fatalf("extents written whole are coded, those patched replicated: %v", before)
	}
	victim := serverOf(t, c, before[coded].Disks[0])
	lost := map[string]bool{}
	for _, d := range c.chunks[victim].srv.Disks() {
		lost[d.ID] = true
	}
	if err := c.StopChunk(victim); err != nil {
		t.Fatal(err)
	}
	pass(t, c)
	st := c.Repair().Status()
	t.Logf("%d volume chunks repaired (%d bytes), %d at risk", st.VolumeChunksRepaired, st.VolumeBytesRepaired, st.VolumeExtentsAtRisk)
	if st.VolumeChunksRepaired == 0 || st.VolumeExtentsAtRisk != 0 || st.LastError != "" {
		t.Fatalf("status after the pass: %+v", st)
	}
	after := extentMap(t, c, vid, "")
	if servers == 7 && (after[coded].ChunkId != before[coded].ChunkId || after[coded].DataShards != 4) {
		t.Fatalf("coded extent %d: %v, was %v: want the same chunk, shards rebuilt", coded, after[coded], before[coded])
	}
	if servers == 6 && (after[coded].ChunkId == before[coded].ChunkId || after[coded].DataShards != 0) {
		t.Fatalf("coded extent %d: %v, was %v: want a new replicated chunk", coded, after[coded], before[coded])
	}
	checkLayout(t, c, vid, after, vol, lost)
	checkLayout(t, c, sid, extentMap(t, c, "", sid), snap, lost)
	readExport(t, c, vid, vol)
	readExport(t, c, sid, snap)
	if servers == 6 {
		// The old shards on the servers still up are gone: deleted by the
		// pass, or collected as garbage where a replica went.
		if _, err := c.Volumes().CollectGarbage(context.Background()); err != nil {
			t.Fatal(err)
		}
		for _, d := range before[coded].Disks {
			if lost[d] {
				continue
			}
			if _, _, err := c.Volumes().Shards().ReadShardRangeGen(context.Background(), d, before[coded].ChunkId, 0, 4096); err == nil {
				t.Errorf("shard of the replicated chunk %s still on %s", before[coded].ChunkId, d)
			}
		}
	}
}

// checkLayout checks that every extent of the map is either 3 replicas
// or 4+2 shards on active disks of distinct servers, none in avoid, each
// replica holding the extent's bytes of want and each shard what the
// code makes of them.
func checkLayout(t *testing.T, c *Cluster, name string, exts []*metapb.Extent, want []byte, avoid map[string]bool) {
	t.Helper()
	ctx := context.Background()
	dresp, err := c.Meta().ListDisks(ctx, &metapb.ListDisksRequest{})
	if err != nil {
		t.Fatal(err)
	}
	disks := map[string]*metapb.Disk{}
	for _, d := range dresp.Disks {
		disks[d.Id] = d
	}
	if len(exts) != len(want)/volTestExtent {
		t.Fatalf("%s maps %d extents, want %d", name, len(exts), len(want)/volTestExtent)
	}
	enc, err := reedsolomon.New(4, 2)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range exts {
		data := slices.Clone(want[e.Index*volTestExtent : (e.Index+1)*volTestExtent])
		expect := make([][]byte, len(e.Disks))
		switch {
		case e.DataShards == 0 && len(e.Disks) == 3:
			for i := range expect {
				expect[i] = data
			}
		case e.DataShards == 4 && len(e.Disks) == 6:
			if expect, err = enc.Split(data); err != nil {
				t.Fatal(err)
			}
			if err := enc.Encode(expect); err != nil {
				t.Fatal(err)
			}
		default:
			t.Fatalf("%s extent %d: %d disks, %d data shards", name, e.Index, len(e.Disks), e.DataShards)
		}
		servers := map[string]bool{}
		for i, d := range e.Disks {
			dd := disks[d]
			if dd == nil || dd.State != metapb.DiskState_DISK_STATE_ACTIVE || avoid[d] || servers[dd.Server] {
				t.Fatalf("%s extent %d: disks %v: disk %s is %v (server used twice: %v)", name, e.Index, e.Disks, d, dd, dd != nil && servers[dd.Server])
			}
			servers[dd.Server] = true
			b, _, err := c.Volumes().Shards().ReadShardRangeGen(ctx, d, e.ChunkId, 0, int64(len(expect[i])))
			if err != nil {
				t.Fatalf("%s extent %d: piece %d on %s: %v", name, e.Index, i, d, err)
			}
			if !bytes.Equal(b, expect[i]) {
				t.Fatalf("%s extent %d: piece %d on %s holds other bytes", name, e.Index, i, d)
			}
		}
	}
}
