package cluster

import (
	"bytes"
	"context"
	"slices"
	"testing"
	"time"

	"github.com/wolke-cloud/wolke/block/nbd"
	"github.com/wolke-cloud/wolke/meta/metapb"
)

const volTestExtent = 1 << 20

// volumeImage writes a volume of 8 extents through the block service: a
// whole-extent write to each (copy on write: generation 0), a small write
// patched in place into extents 1 and 5 (generation 1), then a snapshot,
// then new data into extents 2 and 6 (copied: the snapshot keeps the old
// chunks). It returns the volume and snapshot ids and the contents both
// must read back.
func volumeImage(t *testing.T, c *Cluster) (vid, sid string, vol, snap []byte) {
	t.Helper()
	return volumeImageOf(t, c, "")
}

// volumeImageOf is volumeImage with a volume of type vtype ("": gp2).
func volumeImageOf(t *testing.T, c *Cluster, vtype string) (vid, sid string, vol, snap []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	resp, err := c.Meta().Volumes().CreateVolume(ctx, &metapb.CreateVolumeRequest{Volume: &metapb.Volume{
		Size: 8 * volTestExtent, ExtentSize: volTestExtent, Zone: "z1", VolumeType: vtype,
	}})
	if err != nil {
		t.Fatal(err)
	}
	vid = resp.Volume.Id
	vol = payload(7, 8*volTestExtent)
	ex := openExport(t, c, vid, false)
	write := func(off int, b []byte) {
		t.Helper()
		if err := ex.WriteAt(ctx, b, int64(off), false); err != nil {
			t.Fatalf("write at %d: %v", off, err)
		}
		copy(vol[off:], b)
	}
	write(0, slices.Clone(vol))
	write(1*volTestExtent+8192, payload(8, 4096))
	write(5*volTestExtent+4096, payload(9, 8192))
	if err := ex.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	sresp, err := c.Meta().Volumes().CreateSnapshot(ctx, &metapb.CreateSnapshotRequest{Snapshot: &metapb.Snapshot{VolumeId: vid}})
	if err != nil {
		t.Fatal(err)
	}
	sid = sresp.Snapshot.Id
	snap = slices.Clone(vol)
	write(2*volTestExtent, payload(10, volTestExtent))
	write(6*volTestExtent+12288, payload(11, 4096))
	if err := ex.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := ex.Close(); err != nil {
		t.Fatal(err)
	}
	return vid, sid, vol, snap
}

func openExport(t *testing.T, c *Cluster, name string, readOnly bool) nbd.Export {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ex, _, err := c.Volumes().Open(ctx, name, readOnly)
	if err != nil {
		t.Fatalf("open %s: %v", name, err)
	}
	return ex
}

// readExport checks that the volume or snapshot name reads back want.
func readExport(t *testing.T, c *Cluster, name string, want []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ex := openExport(t, c, name, true)
	defer ex.Close()
	got := make([]byte, len(want))
	if err := ex.ReadAt(ctx, got, 0); err != nil {
		t.Fatalf("read %s: %v", name, err)
	}
	if !bytes.Equal(got, want) {
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("%s differs from byte %d on (extent %d)", name, i, i/volTestExtent)
			}
		}
	}
}

// extentMap returns the extents of a volume (vid) or snapshot (sid).
func extentMap(t *testing.T, c *Cluster, vid, sid string) []*metapb.Extent {
	t.Helper()
	resp, err := c.Meta().Volumes().ListExtents(context.Background(), &metapb.ListExtentsRequest{VolumeId: vid, SnapshotId: sid})
	if err != nil {
		t.Fatal(err)
	}
	return resp.Extents
}

// checkReplicas checks that every extent of the maps has 3 replicas on
// active disks of distinct servers, none of them in avoid, and that each
// replica holds the extent's bytes of want.
func checkReplicas(t *testing.T, c *Cluster, name string, exts []*metapb.Extent, want []byte, avoid map[string]bool) {
	t.Helper()
	for _, e := range exts {
		if e.DataShards != 0 {
			t.Fatalf("%s extent %d is coded: %v", name, e.Index, e)
		}
	}
	checkLayout(t, c, name, exts, want, avoid)
}

// serverOf returns the chunk server index holding disk.
func serverOf(t *testing.T, c *Cluster, disk string) int {
	t.Helper()
	for i, p := range c.chunks {
		if p == nil {
			continue
		}
		for _, d := range p.srv.Disks() {
			if d.ID == disk {
				return i
			}
		}
	}
	t.Fatalf("no running chunk server holds disk %s", disk)
	return -1
}

// A chunk server holding replicas of a detached volume and its snapshot is
// lost: one repair pass gives every extent 3 replicas on active disks of
// distinct servers again, each replica holding the extent's bytes, and
// both read back exactly.
func TestVolumeRepairLostServer(t *testing.T) {
	c := Start(t, durabilityOpts(t.TempDir()))
	vid, sid, vol, snap := volumeImage(t, c)
	before := extentMap(t, c, vid, "")
	victim := serverOf(t, c, before[1].Disks[0]) // holds extent 1 (patched in place) at least
	lost := map[string]bool{}
	for _, d := range c.chunks[victim].srv.Disks() {
		lost[d.ID] = true
	}
	if err := c.StopChunk(victim); err != nil {
		t.Fatal(err)
	}
	atRisk := 0
	for _, m := range [][]*metapb.Extent{before, extentMap(t, c, "", sid)} {
		for _, e := range m {
			if slices.ContainsFunc(e.Disks, func(d string) bool { return lost[d] }) {
				atRisk++
			}
		}
	}
	start := time.Now()
	pass(t, c)
	st := c.Repair().Status()
	t.Logf("pass in %v: %d volume chunks re-replicated (%d bytes), %d at risk (%d extent records were)", time.Since(start).Round(time.Millisecond),
		st.VolumeChunksRepaired, st.VolumeBytesRepaired, st.VolumeExtentsAtRisk, atRisk)
	if st.VolumeChunksRepaired == 0 || st.VolumeExtentsAtRisk != 0 || st.LastError != "" {
		t.Fatalf("status after the pass: %+v", st)
	}
	checkReplicas(t, c, vid, extentMap(t, c, vid, ""), vol, lost)
	checkReplicas(t, c, sid, extentMap(t, c, "", sid), snap, lost)
	readExport(t, c, vid, vol)
	readExport(t, c, sid, snap)
	// A second pass finds nothing to do.
	pass(t, c)
	if st2 := c.Repair().Status(); st2.VolumeChunksRepaired != st.VolumeChunksRepaired {
		t.Fatalf("second pass re-replicated again: %+v", st2)
	}
	// The volume is writable again and its patched extent still reads.
	ex := openExport(t, c, vid, false)
	ctx := context.Background()
	b := payload(12, 4096)
	if err := ex.WriteAt(ctx, b, 5*volTestExtent, true); err != nil {
		t.Fatal(err)
	}
	copy(vol[5*volTestExtent:], b)
	ex.Close()
	readExport(t, c, vid, vol)
}

// A disk holding volume replicas is drained: repair copies them to other
// disks and the drain completes; the volume and its snapshot read back.
func TestVolumeRepairDrain(t *testing.T) {
	opts := durabilityOpts(t.TempDir())
	opts.DisksPerServer = 2
	c := Start(t, opts)
	vid, sid, vol, snap := volumeImage(t, c)
	drained := extentMap(t, c, vid, "")[3].Disks[1]
	ctx := context.Background()
	adm, err := DialAdmin(ctx, c.EtcdEndpoints(), c.ClusterID())
	if err != nil {
		t.Fatal(err)
	}
	defer adm.Close()
	if err := adm.DrainDisk(ctx, drained); err != nil {
		t.Fatal(err)
	}
	var p *DrainProgress
	for i := 0; ; i++ {
		if i == 6 {
			t.Fatalf("disk not removed after %d passes: %+v; repair %+v", i, p, c.Repair().Status())
		}
		pass(t, c)
		if p, err = adm.DrainProgress(ctx, drained); err != nil {
			t.Fatal(err)
		}
		if p.State == "removed" {
			break
		}
	}
	st := c.Repair().Status()
	t.Logf("drained: %+v; %d volume chunks moved", p, st.VolumeChunksRepaired)
	if st.VolumeChunksRepaired == 0 || p.VolumeExtents != 0 {
		t.Fatalf("drain of a disk with volume replicas: %+v, repair %+v", p, st)
	}
	avoid := map[string]bool{drained: true}
	checkReplicas(t, c, vid, extentMap(t, c, vid, ""), vol, avoid)
	checkReplicas(t, c, sid, extentMap(t, c, "", sid), snap, avoid)
	readExport(t, c, vid, vol)
	readExport(t, c, sid, snap)
}
