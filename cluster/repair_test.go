package cluster

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/wolke-cloud/wolke/core"
	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/meta/metapb"
)

// durabilityOpts: passes only when the test asks, garbage collected at
// once, rebuilds unthrottled, drains finished at the next clean pass, no
// rebalancing.
func durabilityOpts(dir string) Options {
	return Options{Dir: dir, DiskSize: 64 << 20, RepairAfter: -1,
		Durability: DurabilityOptions{Manual: true, GCGrace: -1, RepairRate: -1, DrainSettle: -1, RebalanceSpread: -1}}
}

// stripeShards lists every (disk, chunk, crc) the manifests of bucket
// expect, with the placement groups as they are now.
type shardLoc struct {
	disk, chunk string
	crc         uint32
}

func expectedShards(t *testing.T, c *Cluster, bucket string) []shardLoc {
	t.Helper()
	ctx := context.Background()
	gs, err := c.Meta().ListPlacementGroups(ctx, &metapb.ListPlacementGroupsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	groups := map[uint64]*metapb.PlacementGroup{}
	for _, g := range gs.Groups {
		groups[g.Id] = g
	}
	var out []shardLoc
	var after []byte
	for {
		resp, err := c.Meta().Repair().ScanStripes(ctx, &metapb.ScanStripesRequest{After: after, Limit: 2})
		if err != nil {
			t.Fatal(err)
		}
		for _, ref := range resp.Stripes {
			if ref.Bucket != bucket {
				continue
			}
			g := groups[ref.Stripe.PlacementGroup]
			for i, d := range g.Disks {
				out = append(out, shardLoc{d, core.ChunkID(ref.Stripe.Id, i), ref.Stripe.ShardCrc32C[i]})
			}
		}
		if len(resp.Next) == 0 {
			return out
		}
		after = resp.Next
	}
}

// missingShards returns the expected shards that are absent or wrong.
func missingShards(t *testing.T, c *Cluster, want []shardLoc) []shardLoc {
	t.Helper()
	var bad []shardLoc
	for _, s := range want {
		_, crc, err := c.dur.shards.StatShard(context.Background(), s.disk, s.chunk)
		if err != nil || crc != s.crc {
			bad = append(bad, s)
		}
	}
	return bad
}

func pass(t *testing.T, c *Cluster) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.Repair().Pass(ctx); err != nil {
		t.Fatalf("repair pass: %v", err)
	}
}

func TestRepairRebuildsLostDisk(t *testing.T) {
	dir := t.TempDir()
	opts := durabilityOpts(dir)
	c := Start(t, opts)
	mc := s3Client(t, c)
	if err := mc.MakeBucket(context.Background(), "repair", minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	objs := putObjects(t, mc, "repair")
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "chunks", "c1", "disk0.img")); err != nil {
		t.Fatal(err)
	}

	c = Start(t, opts)
	mc = s3Client(t, c)
	want := expectedShards(t, c, "repair")
	lost := missingShards(t, c, want)
	if len(lost) == 0 {
		t.Fatal("no shard missing after the disk file was deleted")
	}
	start := time.Now()
	pass(t, c)
	st := c.Repair().Status()
	t.Logf("rebuilt %d shards (%d bytes) in %v", st.ShardsRebuilt, st.BytesRebuilt, time.Since(start))
	if st.ShardsRebuilt != int64(len(lost)) || st.Degraded != 0 || !st.Healthy() {
		t.Fatalf("status after the pass %+v; %d shards were missing", st, len(lost))
	}
	if left := missingShards(t, c, want); len(left) != 0 {
		t.Fatalf("%d shards still missing after repair: %v", len(left), left)
	}
	// A second pass finds nothing to do.
	pass(t, c)
	if st := c.Repair().Status(); st.ShardsRebuilt != int64(len(lost)) || st.Found != 0 {
		t.Fatalf("second pass rebuilt again: %+v", st)
	}
	// Two other servers down: reads need the rebuilt shards.
	for _, i := range []int{3, 5} {
		if err := c.StopChunk(i); err != nil {
			t.Fatal(err)
		}
	}
	checkObjects(t, mc, "repair", objs)
}

func TestRepairResumesAfterRestart(t *testing.T) {
	dir := t.TempDir()
	opts := durabilityOpts(dir)
	opts.Durability.RepairRate = 1 << 20 // slow enough to stop half-way
	c := Start(t, opts)
	mc := s3Client(t, c)
	if err := mc.MakeBucket(context.Background(), "resume", minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	objs := putObjects(t, mc, "resume")
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "chunks", "c2", "disk0.img")); err != nil {
		t.Fatal(err)
	}
	c = Start(t, opts)
	want := expectedShards(t, c, "resume")
	lost := len(missingShards(t, c, want))

	// Stop the pass once the first shard is written.
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Repair().Pass(ctx) }()
	deadline := time.Now().Add(20 * time.Second)
	for c.Repair().Status().ShardsRebuilt == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; !errs.Is(err, errs.Canceled) {
		t.Fatalf("canceled pass = %v, want Canceled", err)
	}
	first := c.Repair().Status().ShardsRebuilt
	if first == 0 || first >= int64(lost) {
		t.Fatalf("first run rebuilt %d of %d shards: not a partial run", first, lost)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}

	opts.Durability.RepairRate = -1
	c = Start(t, opts)
	pass(t, c)
	// The resumed run rebuilds only what the first left: never a shard the
	// first run counted. A write in flight when the first run was stopped
	// may have landed without being counted, so the sum may fall short.
	if got := c.Repair().Status().ShardsRebuilt; got+first > int64(lost) || got >= int64(lost) {
		t.Fatalf("after restart rebuilt %d, before %d; %d were missing", got, first, lost)
	}
	if left := missingShards(t, c, want); len(left) != 0 {
		t.Fatalf("%d shards missing after the resumed repair", len(left))
	}
	checkObjects(t, s3Client(t, c), "resume", objs)
}

func TestScrubFindsBitRotAndRepairRebuilds(t *testing.T) {
	dir := t.TempDir()
	c := Start(t, durabilityOpts(dir))
	mc := s3Client(t, c)
	ctx := context.Background()
	if err := mc.MakeBucket(ctx, "rot", minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	data := payload(42, 4<<20)
	if _, err := mc.PutObject(ctx, "rot", "victim", bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{DisableMultipart: true}); err != nil {
		t.Fatal(err)
	}
	// Shard 0 holds the first MiB of the object: find it in a disk file
	// and flip a byte in it.
	want := expectedShards(t, c, "rot")
	flipped := -1
	for i := range c.chunks {
		p := filepath.Join(c.ChunkDir(i), "disk0.img")
		raw, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		off := bytes.Index(raw, data[:4096])
		if off < 0 {
			continue
		}
		f, err := os.OpenFile(p, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.WriteAt([]byte{raw[off+100] ^ 0xff}, int64(off+100)); err != nil {
			t.Fatal(err)
		}
		_ = f.Sync()
		_ = f.Close()
		flipped = i
		break
	}
	if flipped < 0 {
		t.Fatal("shard 0 not found in any disk file")
	}
	prog, err := c.Scrub(ctx, flipped)
	if err != nil {
		t.Fatalf("scrub: %v", err)
	}
	if prog.Bad != 1 {
		t.Fatalf("scrub found %d bad chunks, want 1", prog.Bad)
	}
	if len(missingShards(t, c, want)) != 1 {
		t.Fatal("the damaged shard was not removed by the scrubber")
	}
	pass(t, c)
	if left := missingShards(t, c, want); len(left) != 0 {
		t.Fatalf("damaged shard not rebuilt: %v", left)
	}
	if st := c.Repair().Status(); st.ShardsRebuilt != 1 {
		t.Fatalf("rebuilt %d shards, want 1", st.ShardsRebuilt)
	}
	// The rebuilt shard is good: a pass over it finds nothing.
	if prog, err := c.Scrub(ctx, flipped); err != nil || prog.Bad != 1 {
		t.Fatalf("second scrub: bad %d (since start), err %v", prog.Bad, err)
	}
}

func TestGCRemovesUnreferencedChunks(t *testing.T) {
	c := Start(t, durabilityOpts(t.TempDir()))
	mc := s3Client(t, c)
	ctx := context.Background()
	if err := mc.MakeBucket(ctx, "gcbucket", minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	objs := putObjects(t, mc, "gcbucket")
	want := expectedShards(t, c, "gcbucket")
	disk := c.chunks[0].srv.Disks()[0].ID
	// Shards of a PUT cut short before its commit, and a chunk that is not
	// a shard (another service's): only the shards go.
	orphans := []string{core.ChunkID(bytes.Repeat([]byte{0xab}, 16), 0), core.ChunkID(bytes.Repeat([]byte{0xcd}, 16), 3)}
	for _, id := range append(orphans, "volume-extent-1") {
		if err := c.dur.shards.WriteShard(ctx, disk, id, []byte("cut short")); err != nil {
			t.Fatal(err)
		}
	}
	pass(t, c)
	for _, id := range orphans {
		if _, _, err := c.dur.shards.StatShard(ctx, disk, id); !errs.Is(err, errs.NotFound) {
			t.Fatalf("orphan %s after GC: %v, want NotFound", id, err)
		}
	}
	if _, _, err := c.dur.shards.StatShard(ctx, disk, "volume-extent-1"); err != nil {
		t.Fatalf("non-shard chunk after GC: %v", err)
	}
	if st := c.Repair().Status(); st.GCDeleted != int64(len(orphans)) {
		t.Fatalf("GC deleted %d, want %d", st.GCDeleted, len(orphans))
	}
	if left := missingShards(t, c, want); len(left) != 0 {
		t.Fatalf("GC removed %d referenced shards", len(left))
	}
	checkObjects(t, mc, "gcbucket", objs)
}

func TestRepairReplacesServerGone(t *testing.T) {
	opts := durabilityOpts(t.TempDir())
	opts.ChunkServers = 7
	c := Start(t, opts)
	mc := s3Client(t, c)
	ctx := context.Background()
	if err := mc.MakeBucket(ctx, "gone", minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	objs := putObjects(t, mc, "gone")
	gone := c.chunks[1].srv.Disks()[0].ID
	if err := c.StopChunk(1); err != nil {
		t.Fatal(err)
	}
	stopped := time.Now()
	// The resolver follows etcd's watch: the pass that sees the server
	// gone declares its disk lost.
	for deadline := time.Now().Add(10 * time.Second); diskState(t, c, gone) != metapb.DiskState_DISK_STATE_LOST; {
		if time.Now().After(deadline) {
			t.Fatalf("disk of the stopped server is %v, want LOST", diskState(t, c, gone))
		}
		pass(t, c)
	}
	t.Logf("server gone → lost, replaced and rebuilt in %v: %+v", time.Since(stopped), c.Repair().Status())
	gs, err := c.Meta().ListPlacementGroups(ctx, &metapb.ListPlacementGroupsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range gs.Groups {
		for _, d := range g.Disks {
			if d == gone {
				t.Fatalf("placement group %d still holds the lost disk", g.Id)
			}
		}
	}
	if left := missingShards(t, c, expectedShards(t, c, "gone")); len(left) != 0 {
		t.Fatalf("%d shards missing after repair", len(left))
	}
	if st := c.Repair().Status(); !st.Healthy() || st.ShardsRebuilt == 0 {
		t.Fatalf("status %+v, want healthy after rebuilding", st)
	}
	for _, i := range []int{3, 5} {
		if err := c.StopChunk(i); err != nil {
			t.Fatal(err)
		}
	}
	checkObjects(t, mc, "gone", objs)
}

func diskState(t *testing.T, c *Cluster, id string) metapb.DiskState {
	t.Helper()
	disks, err := c.Meta().ListDisks(context.Background(), &metapb.ListDisksRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range disks.Disks {
		if d.Id == id {
			return d.State
		}
	}
	t.Fatalf("disk %s unknown", id)
	return 0
}

func TestDrainDisk(t *testing.T) {
	opts := durabilityOpts(t.TempDir())
	opts.ChunkServers = 7
	c := Start(t, opts)
	mc := s3Client(t, c)
	ctx := context.Background()
	if err := mc.MakeBucket(ctx, "drain", minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	objs := putObjects(t, mc, "drain")
	drained := c.chunks[4].srv.Disks()[0].ID
	adm, err := DialAdmin(ctx, c.EtcdEndpoints(), c.ClusterID())
	if err != nil {
		t.Fatal(err)
	}
	defer adm.Close()
	if err := adm.DrainDisk(ctx, drained); err != nil {
		t.Fatal(err)
	}
	pass(t, c)
	r, err := adm.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range r.Disks {
		if d.ID == drained && (d.State != "draining" || d.Groups != 0) {
			t.Fatalf("drained disk %+v, want draining in no group", d)
		}
	}
	if !r.Healthy {
		t.Fatalf("cluster not healthy after the drain: %v", r.Problems)
	}
	if left := missingShards(t, c, expectedShards(t, c, "drain")); len(left) != 0 {
		t.Fatalf("%d shards missing after the drain", len(left))
	}
	// The drained disk's shards are garbage now, and collected.
	if left, err := c.dur.shards.ListChunks(ctx, drained, "", "", 0); err != nil || len(left) != 0 {
		t.Fatalf("drained disk still holds %d chunks (%v)", len(left), err)
	}
	if err := c.StopChunk(4); err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{0, 6} {
		if err := c.StopChunk(i); err != nil {
			t.Fatal(err)
		}
	}
	checkObjects(t, mc, "drain", objs)
}

// RunRepair, the production role, rebuilds a lost disk like the worker
// `wolke dev` runs.
func TestRunRepairRole(t *testing.T) {
	dir := t.TempDir()
	opts := Options{Dir: dir, DiskSize: 64 << 20, Durability: DurabilityOptions{Off: true}}
	c := Start(t, opts)
	mc := s3Client(t, c)
	if err := mc.MakeBucket(context.Background(), "role", minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	objs := putObjects(t, mc, "role")
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "chunks", "c4", "disk0.img")); err != nil {
		t.Fatal(err)
	}
	c = Start(t, opts)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- RunRepair(ctx, RepairRole{Cluster: c.ClusterID(), ID: "r1", Etcd: c.EtcdEndpoints(),
			Interval: 100 * time.Millisecond, GCGrace: time.Hour, Logger: c.log})
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("RunRepair: %v", err)
		}
	}()
	adm, err := DialAdmin(ctx, c.EtcdEndpoints(), c.ClusterID())
	if err != nil {
		t.Fatal(err)
	}
	defer adm.Close()
	deadline := time.Now().Add(20 * time.Second)
	for {
		r, err := adm.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if r.Healthy && r.Durability.Repair.ShardsRebuilt > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not healthy after 20s: %v", r.Problems)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, i := range []int{0, 1} {
		if err := c.StopChunk(i); err != nil {
			t.Fatal(err)
		}
	}
	checkObjects(t, s3Client(t, c), "role", objs)
}
