package cluster

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/wolke-cloud/wolke/meta/metapb"
)

// diskShards counts the shards the manifests of bucket expect on disk.
func diskShards(want []shardLoc, disk string) int {
	n := 0
	for _, s := range want {
		if s.disk == disk {
			n++
		}
	}
	return n
}

// A 7th chunk server joining a 6-server cluster gets a new placement group
// at the next EnsurePlacementGroups, and new objects land on it.
func TestNewServerJoinsPlacement(t *testing.T) {
	dir := t.TempDir()
	opts := durabilityOpts(dir)
	c := Start(t, opts)
	mc := s3Client(t, c)
	ctx := context.Background()
	if err := mc.MakeBucket(ctx, "join", minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	objs := putObjects(t, mc, "join")
	if err := c.StartChunk(ctx, 6); err != nil {
		t.Fatal(err)
	}
	fresh := c.chunks[6].srv.Disks()[0].ID
	resp, err := c.Meta().EnsurePlacementGroups(ctx, &metapb.EnsurePlacementGroupsRequest{EcData: 4, EcParity: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Groups) != 7 || !slices.Contains(resp.Groups[6].Disks, fresh) {
		t.Fatalf("%d groups after a 7th server joined, the last %v; want 7, the last holding %s", len(resp.Groups), resp.Groups[len(resp.Groups)-1].Disks, fresh)
	}
	// The gateway refreshes its groups every 30s; a restart shows the
	// same without waiting.
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	opts.ChunkServers = 7
	c = Start(t, opts)
	mc = s3Client(t, c)
	// The new group is one of 7, chosen at random per stripe: 60 stripes
	// all miss it with a probability of (6/7)^60 < 1e-4.
	for i := range 60 {
		data := payload(uint64(500+i), 128<<10)
		key := fmt.Sprintf("new/%02d", i)
		if _, err := mc.PutObject(ctx, "join", key, bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{DisableMultipart: true}); err != nil {
			t.Fatal(err)
		}
		objs = append(objs, object{key: key, sum: sha256.Sum256(data), n: len(data)})
	}
	want := expectedShards(t, c, "join")
	if n := diskShards(want, fresh); n == 0 {
		t.Fatalf("no shard of %d on the new server's disk", len(want))
	}
	if left := missingShards(t, c, want); len(left) != 0 {
		t.Fatalf("%d shards missing", len(left))
	}
	checkObjects(t, mc, "join", objs)
}

// A server joins after data was written: rebalancing moves placement group
// members from the fullest disks to it, copying their shards, and every
// object reads back with two other servers down.
func TestRebalanceOntoNewServer(t *testing.T) {
	opts := durabilityOpts(t.TempDir())
	opts.Durability.RebalanceSpread = 2 // percentage points: the test writes ~4 MiB per 64 MiB disk
	opts.Durability.RebalanceMoves = 3
	c := Start(t, opts)
	mc := s3Client(t, c)
	ctx := context.Background()
	if err := mc.MakeBucket(ctx, "balance", minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	objs := putObjects(t, mc, "balance")
	pass(t, c)
	if st := c.Repair().Status(); st.Rebalance.LastMoves != 0 || st.Rebalance.SpreadPct > 2 {
		t.Fatalf("rebalancing an even cluster: %+v", st.Rebalance)
	}
	if err := c.StartChunk(ctx, 6); err != nil {
		t.Fatal(err)
	}
	fresh := c.chunks[6].srv.Disks()[0].ID
	waitLive(t, c, fresh)
	start := time.Now()
	var first, moved int64
	var spread0 float64
	for i := 0; i < 8; i++ {
		pass(t, c)
		st := c.Repair().Status()
		if i == 0 {
			spread0, first = st.Rebalance.SpreadPct, int64(st.Rebalance.LastMoves)
		}
		moved = st.Rebalance.Moves
		t.Logf("pass %d: spread %.1f points, %d moves (%d this pass), %d shards copied", i, st.Rebalance.SpreadPct, st.Rebalance.Moves, st.Rebalance.LastMoves, st.ShardsCopied)
		if st.Rebalance.LastMoves > 3 {
			t.Fatalf("%d moves in one pass, at most 3 allowed", st.Rebalance.LastMoves)
		}
		if moved > 0 && st.Rebalance.LastMoves == 0 && !st.Rebalance.Active {
			break
		}
	}
	st := c.Repair().Status()
	t.Logf("rebalanced in %v: %+v", time.Since(start), st.Rebalance)
	if spread0 < 4 || first == 0 || groupsWith(t, c, fresh) == 0 {
		t.Fatalf("the empty new disk (spread %.1f points) got %d moves in the first pass, is in %d groups", spread0, first, groupsWith(t, c, fresh))
	}
	// With 7 disks in 3 zones and a few stripes of up to 1 MiB per disk
	// (1.6 points of a 64 MiB disk), few moves keep the zone rule and do
	// not overshoot: the spread shrinks, not always below the threshold.
	if st.Rebalance.SpreadPct >= spread0 || !st.Healthy() {
		t.Fatalf("after rebalancing: spread %.1f points (from %.1f), status %+v", st.Rebalance.SpreadPct, spread0, st)
	}
	if st.ShardsCopied == 0 || st.ShardsCopied != st.ShardsRebuilt {
		t.Fatalf("%d shards rebuilt, %d copied: moves should copy", st.ShardsRebuilt, st.ShardsCopied)
	}
	want := expectedShards(t, c, "balance")
	if n := diskShards(want, fresh); n == 0 {
		t.Fatal("no shard on the new disk")
	}
	if left := missingShards(t, c, want); len(left) != 0 {
		t.Fatalf("%d shards missing after rebalancing", len(left))
	}
	for _, i := range []int{0, 4} {
		if err := c.StopChunk(i); err != nil {
			t.Fatal(err)
		}
	}
	checkObjects(t, mc, "balance", objs)
}

// waitLive waits until the repair worker's view of etcd has disk's server.
func waitLive(t *testing.T, c *Cluster, disk string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		live, err := c.dur.resolver.liveDisks(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if live[disk] {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("disk %s not seen live", disk)
		}
	}
}
