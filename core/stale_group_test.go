package core

import (
	"bytes"
	"context"
	"testing"

	"github.com/wolke-cloud/wolke/meta/metapb"
)

// TestWriteMovesShardOfReplacedMember: repair replaced a member of the
// group the Store has cached, and the old member is gone. The shard
// write that fails there makes the Store reload the group and write the
// shard to the replacement, and the stripe carries the new epoch.
func TestWriteMovesShardOfReplacedMember(t *testing.T) {
	e := newEnv(t, testConfig(), 7) // one group of disk00..05, disk06 spare
	first := e.put("warm", payload(11, testStripe))
	if ep := first.GetStripes()[0].GetGroupEpoch(); ep != 1 {
		t.Fatalf("stripe written at group epoch %d, want 1", ep)
	}
	ctx := context.Background()
	if _, err := e.meta.ReplaceDisk(ctx, &metapb.ReplaceDiskRequest{PlacementGroup: 1, OldDisk: "disk00", NewDisk: "disk06", Epoch: 1}); err != nil {
		t.Fatal(err)
	}
	e.shards.SetDown("disk00", true)
	data := payload(12, 2*testStripe)
	obj := e.put("after", data)
	for _, st := range obj.GetStripes() {
		if st.GetGroupEpoch() != 2 {
			t.Errorf("stripe %x at epoch %d, want 2", st.GetId(), st.GetGroupEpoch())
		}
		if !e.shards.Has("disk06", ChunkID(st.GetId(), 0)) {
			t.Errorf("shard 0 of stripe %x not on the replacement disk", st.GetId())
		}
	}
	if got, err := e.read(obj, 0, -1); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read back: %v", err)
	}
	// Old member alive: nothing fails, the stripe keeps the epoch it was
	// written with (meta then records a repair hint).
	e2 := newEnv(t, testConfig(), 7)
	e2.put("warm", payload(13, testStripe))
	if _, err := e2.meta.ReplaceDisk(ctx, &metapb.ReplaceDiskRequest{PlacementGroup: 1, OldDisk: "disk00", NewDisk: "disk06", Epoch: 1}); err != nil {
		t.Fatal(err)
	}
	if ep := e2.put("stale", payload(14, testStripe)).GetStripes()[0].GetGroupEpoch(); ep != 1 {
		t.Fatalf("stale writer's stripe at epoch %d, want 1", ep)
	}
}
