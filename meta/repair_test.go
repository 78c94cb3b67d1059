package meta

import (
	"testing"

	"github.com/wolke-cloud/wolke/meta/metapb"
)

// ScanStripes through a follower is forwarded to the leader and sees
// every committed manifest.
func TestScanStripesForwarded(t *testing.T) {
	nodes := threeNodes(t)
	leader := leaderOf(t, nodes)
	var follower *testNode
	for _, n := range nodes {
		if n != leader {
			follower = n
			break
		}
	}
	fc := dial(t, follower)
	ctx := tctx(t)
	if _, err := fc.CreateBucket(ctx, &metapb.CreateBucketRequest{Bucket: &metapb.Bucket{Name: "bk"}}); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		st := &metapb.Stripe{Id: []byte{byte(i)}, PlacementGroup: uint64(i%2 + 1)}
		if _, err := fc.PutObject(ctx, &metapb.PutObjectRequest{Object: &metapb.Object{
			Bucket: "bk", Key: string(rune('a' + i)), Stripes: []*metapb.Stripe{st},
		}}); err != nil {
			t.Fatal(err)
		}
	}
	seen := 0
	var after []byte
	for range 20 {
		resp, err := fc.Repair().ScanStripes(ctx, &metapb.ScanStripesRequest{After: after, Limit: 2, PlacementGroups: []uint64{1}})
		if err != nil {
			t.Fatalf("scan through a follower: %v", err)
		}
		for _, r := range resp.Stripes {
			if r.Stripe.PlacementGroup != 1 || r.Bucket != "bk" {
				t.Fatalf("stripe %v of group %d", r, r.Stripe.PlacementGroup)
			}
			seen++
		}
		if after = resp.Next; len(after) == 0 {
			break
		}
	}
	if seen != 3 {
		t.Fatalf("scan saw %d stripes of group 1, want 3", seen)
	}
}
