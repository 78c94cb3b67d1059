package meta

import (
	"context"
	"testing"
	"time"

	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/meta/metapb"
)

// Probe answers from the node it reaches: a follower reports itself, not
// the leader, and a stopped node is Unavailable.
func TestProbeAndHasState(t *testing.T) {
	ctx := tctx(t)
	nodes := threeNodes(t)
	leader := leaderOf(t, nodes)
	if _, err := dial(t, nodes...).CreateBucket(ctx, &metapb.CreateBucketRequest{Bucket: &metapb.Bucket{Name: "pb"}}); err != nil {
		t.Fatal(err)
	}
	var follower *testNode
	for _, n := range nodes {
		if n != leader {
			follower = n
		}
	}
	commit := leader.Status().CommitIndex
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, mem, err := Probe(ctx, follower.grpcAddr)
		if err != nil {
			t.Fatal(err)
		}
		if st.ID != follower.id || st.State != "Follower" || st.Leader != leader.id || len(mem.Members) != 3 {
			t.Fatalf("probe of follower %s: %+v, members %v", follower.id, st, mem.Members)
		}
		if st.AppliedIndex >= commit && st.LastContact >= 0 && st.LastContact < 5*time.Second {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("follower %s never caught up to %d: %+v", follower.id, commit, st)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if st, _, err := Probe(ctx, leader.grpcAddr); err != nil || st.State != "Leader" || st.LastContact != 0 || st.ID != leader.id {
		t.Fatalf("probe of the leader: %+v %v", st, err)
	}
	// Without the status key, Members still goes to the leader.
	if resp, err := dial(t, follower).Members(ctx, &metapb.MembersRequest{}); err != nil || len(resp.Members) != 3 {
		t.Fatalf("members: %v %v", resp, err)
	}

	follower.stop()
	pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if _, _, err := Probe(pctx, follower.grpcAddr); !errs.Is(err, errs.Unavailable) && !errs.Is(err, errs.Canceled) {
		t.Fatalf("probe of a stopped node: %v", err)
	}
	if has, err := HasState(follower.dir); err != nil || !has {
		t.Fatalf("HasState of a member's directory: %v %v", has, err)
	}
	if has, err := HasState(t.TempDir()); err != nil || has {
		t.Fatalf("HasState of an empty directory: %v %v", has, err)
	}
}
