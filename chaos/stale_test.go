package chaos

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/wolke-cloud/wolke/chunk/chunkclient"
	"github.com/wolke-cloud/wolke/cluster"
	"github.com/wolke-cloud/wolke/control"
	"github.com/wolke-cloud/wolke/meta/metapb"
)

// TestDiskReturnsStale copies a chunk server's disk (file and index) aside,
// lets overwrites and deletes change the cluster, loses the server's disk
// so that repair rebuilds its shards elsewhere, then brings the server
// back on the OLD copy: a disk that returns stale. No GET may return stale
// or wrong data, the stale chunks must be garbage-collected, and the
// cluster must come back healthy.
func TestDiskReturnsStale(t *testing.T) {
	// Seven servers, so that every placement group finds a replacement
	// for the lost disk on a server it does not use yet. Passes run only
	// when the test asks (the disk must not be declared lost while the
	// copy is taken); garbage older than 2s is collected, which spares the
	// shards of PUTs still in flight (a zero grace would not).
	c := cluster.Start(t, cluster.Options{ChunkServers: 7, DiskSize: 128 << 20, RepairAfter: -1,
		Durability: cluster.DurabilityOptions{Manual: true, GCGrace: 2 * time.Second, RepairRate: -1}})
	mc := s3Client(t, c)
	ctx := context.Background()
	if err := mc.MakeBucket(ctx, "stale", minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	led := NewLedger()
	cfg := LoadConfig{Workers: 2, Ops: pick(40, 300), Keys: 24, Duration: pick(8*time.Second, 60*time.Second),
		MaxSize: pick[int64](1<<20, 8<<20), Seed: 41}
	t.Logf("load before the copy: %v", Load(ctx, mc, "stale", led, cfg))

	const victim = 3
	diskID := serverDisk(t, c, victim)
	img := diskFile(c, victim)
	if err := c.StopChunk(victim); err != nil {
		t.Fatal(err)
	}
	aside := filepath.Join(t.TempDir(), "old")
	copyDisk(t, img, aside)
	if err := c.StartChunk(ctx, victim); err != nil {
		t.Fatal(err)
	}
	// The same keys again: overwrites and deletes make the copy stale.
	cfg.Seed = 42
	t.Logf("load after the copy: %v", Load(ctx, mc, "stale", led, cfg))

	// The disk is lost; repair rebuilds its shards on the seventh server.
	if err := c.StopChunk(victim); err != nil {
		t.Fatal(err)
	}
	repairPass(t, c)
	if st := diskStateOf(t, c, diskID); st != metapb.DiskState_DISK_STATE_LOST {
		t.Fatalf("disk %s of the stopped server is %v, want lost", diskID, st)
	}
	rs := c.Repair().Status()
	t.Logf("repair of the lost disk: %d shards rebuilt, healthy %v", rs.ShardsRebuilt, rs.Healthy())
	if !rs.Healthy() || rs.ShardsRebuilt == 0 {
		t.Fatalf("after the disk was lost: %+v", rs)
	}

	// The old copy comes back.
	copyDisk(t, aside, img)
	if err := c.StartChunk(ctx, victim); err != nil {
		t.Fatal(err)
	}
	stale := shardChunks(t, c, diskID)
	t.Logf("server c%d is back on its old disk %s with %d chunks", victim, diskID, stale)
	if stale == 0 {
		t.Fatal("the old copy holds no chunk: nothing stale to test")
	}
	lctx, stop := context.WithCancel(ctx)
	done := make(chan Stats, 1)
	cfg.Seed, cfg.Ops, cfg.Duration = 43, 100000, pick(4*time.Second, 30*time.Second)
	go func() { done <- Load(lctx, mc, "stale", led, cfg) }()
	time.Sleep(time.Second)
	gcBefore := c.Repair().Status().GCDeleted
	repairPass(t, c) // under load: collects the stale chunks
	st := <-done
	stop()
	t.Logf("load with the stale disk back: %v", st)
	if st.Wrong > 0 {
		t.Errorf("%d GETs returned stale or wrong data", st.Wrong)
	}
	// Gateways trust their cached placement groups for a while and may
	// have written new shards to the disk that came back (repair
	// rebuilds those shards where meta expects them):
	// they are garbage too once older than the grace.
	time.Sleep(2500 * time.Millisecond)
	repairPass(t, c)
	rs = c.Repair().Status()
	left := shardChunks(t, c, diskID)
	t.Logf("garbage collection: %d chunks deleted, %d left on the stale disk; healthy %v", rs.GCDeleted-gcBefore, left, rs.Healthy())
	if left != 0 || rs.GCDeleted-gcBefore < int64(stale) || !rs.Healthy() {
		t.Errorf("stale disk not cleaned up: %d of %d chunks left, %d deleted; status %+v", left, stale, rs.GCDeleted-gcBefore, rs)
	}
	if st := diskStateOf(t, c, diskID); st != metapb.DiskState_DISK_STATE_LOST {
		t.Errorf("the stale disk came back as %v, want it to stay lost", st)
	}
	verify(t, mc, "stale", led)
}

func repairPass(t *testing.T, c *cluster.Cluster) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := c.Repair().Pass(ctx); err != nil {
		t.Fatalf("repair pass: %v", err)
	}
}

// copyDisk copies a disk file and its index directory (PATH.index) from
// src to dst, replacing what dst held.
func copyDisk(t *testing.T, src, dst string) {
	t.Helper()
	for _, suffix := range []string{"", ".index"} {
		if err := os.RemoveAll(dst + suffix); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command("cp", "-a", "--sparse=always", src+suffix, dst+suffix).CombinedOutput(); err != nil {
			t.Fatalf("cp %s: %v: %s", src+suffix, err, out)
		}
	}
}

// shardChunks counts the chunks on disk id, asking its server through
// the address it publishes in etcd.
func shardChunks(t *testing.T, c *cluster.Cluster, id string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cli, err := control.Dial(ctx, c.EtcdEndpoints())
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	eps, err := control.List(ctx, cli, c.ClusterID(), "chunk")
	if err != nil {
		t.Fatal(err)
	}
	addr := ""
	for _, v := range eps {
		var ep cluster.ChunkEndpoint
		if json.Unmarshal(v, &ep) == nil && slices.Contains(ep.Disks, id) {
			addr = ep.Addr
		}
	}
	if addr == "" {
		t.Fatalf("no chunk server publishes disk %s", id)
	}
	cc := chunkclient.New(func(context.Context, string) (string, error) { return addr, nil }, chunkclient.Options{})
	defer cc.Close()
	n, after := 0, ""
	for {
		page, err := cc.ListChunks(ctx, id, "", after, 1000)
		if err != nil {
			t.Fatal(err)
		}
		n += len(page)
		if len(page) < 1000 {
			return n
		}
		after = page[len(page)-1].ID
	}
}
