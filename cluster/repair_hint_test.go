package cluster

import (
	"context"
	"slices"
	"testing"

	"github.com/minio/minio-go/v7"

	"github.com/wolke-cloud/wolke/meta/metapb"
)

// TestRepairHintRebuildsStaleWrite: repair replaces a member of every
// placement group while the gateway still caches the old members; the
// gateway's next PUT puts a shard on the old member and commits with the
// old epoch. Meta records a repair hint with the commit, and the next
// pass rebuilds the shard on the replacement and clears the hint.
func TestRepairHintRebuildsStaleWrite(t *testing.T) {
	opts := durabilityOpts(t.TempDir())
	opts.ChunkServers = 7
	c := Start(t, opts)
	mc := s3Client(t, c)
	ctx := context.Background()
	if err := mc.MakeBucket(ctx, "stale", minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	putObjects(t, mc, "stale") // warms the gateway's placement cache
	dresp, err := c.Meta().ListDisks(ctx, &metapb.ListDisksRequest{})
	if err != nil {
		t.Fatal(err)
	}
	server := map[string]string{}
	for _, d := range dresp.Disks {
		server[d.Id] = d.Server
	}
	gresp, err := c.Meta().ListPlacementGroups(ctx, &metapb.ListPlacementGroupsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range gresp.Groups {
		var used []string
		for _, d := range g.Disks {
			used = append(used, server[d])
		}
		for _, d := range dresp.Disks {
			if slices.Contains(g.Disks, d.Id) || slices.Contains(used, d.Server) {
				continue
			}
			if _, err := c.Meta().ReplaceDisk(ctx, &metapb.ReplaceDiskRequest{PlacementGroup: g.Id, OldDisk: g.Disks[0], NewDisk: d.Id, Epoch: g.Epoch}); err != nil {
				t.Fatal(err)
			}
			break
		}
	}
	objs := putObjects(t, mc, "stale") // written with the cached, stale groups
	hints, err := c.Meta().Repair().ListRepairHints(ctx, &metapb.ListRepairHintsRequest{})
	if err != nil || len(hints.Hints) == 0 {
		t.Fatalf("no repair hints after stale writes: %v %v", hints, err)
	}
	want := expectedShards(t, c, "stale")
	if missing := missingShards(t, c, want); len(missing) == 0 {
		t.Fatal("stale writes left no shard missing: the test does not test anything")
	}
	pass(t, c)
	if missing := missingShards(t, c, want); len(missing) != 0 {
		t.Fatalf("%d shards still missing after the pass: %v", len(missing), missing)
	}
	hints, err = c.Meta().Repair().ListRepairHints(ctx, &metapb.ListRepairHintsRequest{})
	if err != nil || len(hints.Hints) != 0 {
		t.Fatalf("hints left after the pass: %v %v", hints, err)
	}
	checkObjects(t, mc, "stale", objs)
}
