package cluster

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/wolke-cloud/wolke/meta/metapb"
)

// s3Load PUTs objects of 64 KiB to 1 MiB into bucket until stop is called
// (at most max objects) and returns what was acknowledged.
func s3Load(t *testing.T, mc *minio.Client, bucket string, max int) (stop func() []object) {
	t.Helper()
	var (
		mu   sync.Mutex
		objs []object
		done = make(chan struct{})
		once sync.Once
		wg   sync.WaitGroup
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < max; i++ {
			select {
			case <-done:
				return
			default:
			}
			n := 64<<10 + (i*337<<10)%(1<<20)
			data := payload(uint64(1000+i), n)
			key := fmt.Sprintf("load/%03d", i)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			_, err := mc.PutObject(ctx, bucket, key, bytes.NewReader(data), int64(n), minio.PutObjectOptions{DisableMultipart: true})
			cancel()
			if err != nil {
				t.Errorf("load put %s: %v", key, err)
				return
			}
			mu.Lock()
			objs = append(objs, object{key: key, sum: sha256.Sum256(data), n: n})
			mu.Unlock()
			time.Sleep(20 * time.Millisecond)
		}
	}()
	stop = func() []object {
		once.Do(func() { close(done) })
		wg.Wait()
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(objs)
	}
	t.Cleanup(func() { stop() }) // before the cluster closes, if the test fails
	return stop
}

func groupsWith(t *testing.T, c *Cluster, disk string) int {
	t.Helper()
	gs, err := c.Meta().ListPlacementGroups(context.Background(), &metapb.ListPlacementGroupsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, g := range gs.Groups {
		if slices.Contains(g.Disks, disk) {
			n++
		}
	}
	return n
}

// A disk drained under an S3 load ends REMOVED: its shards were copied
// (not reconstructed) to the other disk of its server, nothing references
// it, its chunks are collected, its server serves on with its other disk,
// and every object reads back.
func TestDrainDiskToRemoved(t *testing.T) {
	opts := durabilityOpts(t.TempDir())
	opts.DisksPerServer = 2
	// Under a load, garbage needs a grace: a PUT's shards are listed
	// before its manifest commits.
	const grace = 2 * time.Second
	opts.Durability.GCGrace = grace
	c := Start(t, opts)
	mc := s3Client(t, c)
	ctx := context.Background()
	if err := mc.MakeBucket(ctx, "drain", minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	objs := putObjects(t, mc, "drain")
	drained := c.chunks[2].srv.Disks()[0].ID
	adm, err := DialAdmin(ctx, c.EtcdEndpoints(), c.ClusterID())
	if err != nil {
		t.Fatal(err)
	}
	defer adm.Close()
	stop := s3Load(t, mc, "drain", 40)
	time.Sleep(time.Second) // some load objects in before the drain, more during it
	if err := adm.DrainDisk(ctx, drained); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	var p *DrainProgress
	for i := 0; ; i++ {
		if i == 10 {
			t.Fatalf("disk not removed after %d passes: %+v", i, p)
		}
		pass(t, c)
		if p, err = adm.DrainProgress(ctx, drained); err != nil {
			t.Fatal(err)
		}
		if i == 0 && (p.State != "draining" || !p.Reported || p.ShardsMoved == 0 || p.InGroups != 0) {
			t.Fatalf("after the first pass: %+v, want draining, in no group, shards moved", p)
		}
		if p.State == "removed" {
			break
		}
		time.Sleep(300 * time.Millisecond)
	}
	t.Logf("drained in %v: %+v", time.Since(start), p)
	objs = append(objs, stop()...)
	time.Sleep(grace)
	pass(t, c) // shards a writer with stale groups put on the drained disk; garbage
	st := c.Repair().Status()
	t.Logf("repair status at the end: %d shards rebuilt, %d copied, %d garbage chunks deleted", st.ShardsRebuilt, st.ShardsCopied, st.GCDeleted)
	// Every shard moved off the drained disk is a copy. A PUT in flight
	// when a pass lists the disks may have its shard rebuilt too (listed
	// before written, committed before scanned): a harmless rewrite.
	if st.ShardsCopied < p.ShardsMoved || p.ShardsMoved == 0 || st.ShardsRebuilt-st.ShardsCopied > 2 {
		t.Fatalf("rebuilt %d shards, %d of them copied, %d moved off the drained disk: its readable shards should have been copied",
			st.ShardsRebuilt, st.ShardsCopied, p.ShardsMoved)
	}
	if p.ShardsMoved != p.ShardsTotal || p.BytesMoved == 0 {
		t.Fatalf("progress at the end %+v", p)
	}
	if diskState(t, c, drained) != metapb.DiskState_DISK_STATE_REMOVED || groupsWith(t, c, drained) != 0 {
		t.Fatalf("drained disk is %v in %d groups", diskState(t, c, drained), groupsWith(t, c, drained))
	}
	r, err := adm.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Healthy {
		t.Fatalf("not healthy after the drain: %v", r.Problems)
	}
	want := expectedShards(t, c, "drain")
	if left := missingShards(t, c, want); len(left) != 0 {
		t.Fatalf("%d shards missing after the drain", len(left))
	}
	if left, err := c.dur.shards.ListChunks(ctx, drained, "", "", 0); err != nil || len(left) != 0 {
		t.Fatalf("removed disk still holds %d chunks (%v)", len(left), err)
	}
	// A removed disk gets no place in a group, even when one needs a disk.
	other := c.chunks[2].srv.Disks()[1].ID
	if groupsWith(t, c, other) == 0 {
		t.Fatal("the drained server's other disk took no group")
	}
	// Two other servers down: every read needs the drained server's other disk.
	for _, i := range []int{0, 4} {
		if err := c.StopChunk(i); err != nil {
			t.Fatal(err)
		}
	}
	checkObjects(t, mc, "drain", objs)
	if groupsWith(t, c, drained) != 0 {
		t.Fatal("the removed disk was put back in a group")
	}
}

// Repair does not move block volume replicas: a drain waits while a volume
// chunk still has a replica on the disk, and finishes once the volume's
// writer has moved the extent (copy-on-write to a new chunk).
func TestDrainWaitsForVolumeReplicas(t *testing.T) {
	opts := durabilityOpts(t.TempDir())
	opts.ChunkServers = 7
	c := Start(t, opts)
	ctx := context.Background()
	var ids []string
	for i := range 4 {
		ids = append(ids, c.chunks[i].srv.Disks()[0].ID)
	}
	vc := c.Meta().Volumes()
	if _, err := vc.CreateVolume(ctx, &metapb.CreateVolumeRequest{Volume: &metapb.Volume{Id: "vol-drain", Size: 1 << 20, ExtentSize: 1 << 20}}); err != nil {
		t.Fatal(err)
	}
	if _, err := vc.AttachVolume(ctx, &metapb.AttachVolumeRequest{Id: "vol-drain", Holder: "w", TtlNanos: int64(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	// A writer writes the chunk on its disks, then commits it (a chunk
	// missing on an active disk would count at risk too).
	commit := func(old, chunk string, disks ...string) {
		t.Helper()
		for _, d := range disks {
			if err := c.Volumes().Shards().WriteShard(ctx, d, chunk, payload(5, 1<<20)); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := vc.CommitExtent(ctx, &metapb.CommitExtentRequest{VolumeId: "vol-drain", Holder: "w", OldChunkId: old,
			Extent: &metapb.Extent{ChunkId: chunk, Disks: disks}}); err != nil {
			t.Fatal(err)
		}
	}
	commit("", "vol-drain-x0", ids[0], ids[1], ids[2])
	adm, err := DialAdmin(ctx, c.EtcdEndpoints(), c.ClusterID())
	if err != nil {
		t.Fatal(err)
	}
	defer adm.Close()
	if err := adm.DrainDisk(ctx, ids[0]); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		pass(t, c)
	}
	p, err := adm.DrainProgress(ctx, ids[0])
	if err != nil {
		t.Fatal(err)
	}
	if p.State != "draining" || p.VolumeExtents != 1 || c.Repair().Status().VolumeExtentsAtRisk != 1 {
		t.Fatalf("drain with a volume replica on the disk: %+v, %d at risk", p, c.Repair().Status().VolumeExtentsAtRisk)
	}
	commit("vol-drain-x0", "vol-drain-x1", ids[1], ids[2], ids[3])
	pass(t, c)
	if p, err = adm.DrainProgress(ctx, ids[0]); err != nil || p.State != "removed" || c.Repair().Status().VolumeExtentsAtRisk != 0 {
		t.Fatalf("after the extent moved: %+v (%v), %d at risk", p, err, c.Repair().Status().VolumeExtentsAtRisk)
	}
}
