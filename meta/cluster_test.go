package meta

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/wolke-cloud/wolke/meta/metapb"
)

// threeNodes starts n1 (bootstrap) and joins n2 and n3.
func threeNodes(t *testing.T, opts ...nodeOpt) []*testNode {
	t.Helper()
	n1 := startNode(t, "n1", t.TempDir(), "", true, opts...)
	waitLeader(t, n1)
	nodes := []*testNode{n1}
	for _, id := range []string{"n2", "n3"} {
		n := startNode(t, id, t.TempDir(), "", false, opts...)
		if err := n1.Join(tctx(t), id, n.raftAddr, n.grpcAddr); err != nil {
			t.Fatalf("join %s: %v", id, err)
		}
		nodes = append(nodes, n)
	}
	waitLeader(t, nodes...)
	return nodes
}

func leaderOf(t *testing.T, nodes []*testNode) *testNode {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for _, n := range nodes {
			if n.IsLeader() {
				return n
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("no leader")
	return nil
}

func TestThreeNodesFailover(t *testing.T) {
	nodes := threeNodes(t)
	leader := leaderOf(t, nodes)
	var followers []*testNode
	for _, n := range nodes {
		if n != leader {
			followers = append(followers, n)
		}
	}
	// Writes and reads through a follower are forwarded to the leader.
	fc := dial(t, followers[0])
	ctx := tctx(t)
	if _, err := fc.CreateBucket(ctx, &metapb.CreateBucketRequest{Bucket: &metapb.Bucket{Name: "bk"}}); err != nil {
		t.Fatal(err)
	}
	putKeys(t, fc, "bk", 0, 20)
	checkKeys(t, fc, "bk", 20)
	mem, err := fc.Members(ctx, &metapb.MembersRequest{})
	if err != nil || len(mem.Members) != 3 {
		t.Fatalf("members %v %v", mem, err)
	}
	for _, m := range mem.Members {
		if m.GrpcAddr == "" || m.Suffrage != "voter" || m.Leader != (m.Id == leader.id) {
			t.Fatalf("member %v", m)
		}
	}

	// Kill the leader: a new one serves everything acknowledged. The
	// client is given every address, the dead one first.
	leader.stop()
	c := dial(t, leader, followers[0], followers[1])
	checkKeys(t, c, "bk", 20)
	putKeys(t, c, "bk", 20, 5)
	checkKeys(t, c, "bk", 25)
	nl := leaderOf(t, followers)
	if nl == leader {
		t.Fatal("dead node still leads")
	}
}

// Concurrent writers through several nodes all land, once.
func TestConcurrentWrites(t *testing.T) {
	nodes := threeNodes(t)
	c := dial(t, nodes...)
	ctx := tctx(t)
	if _, err := c.CreateBucket(ctx, &metapb.CreateBucketRequest{Bucket: &metapb.Bucket{Name: "bk", Versioning: "Enabled"}}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errc := make(chan error, 32)
	for w := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cc := dial(t, nodes[w%3])
			for i := range 5 {
				_, err := cc.PutObject(ctx, &metapb.PutObjectRequest{Object: &metapb.Object{Bucket: "bk", Key: fmt.Sprintf("w%02d", w), Etag: fmt.Sprint(i)}})
				if err != nil {
					errc <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	vs, err := c.ListObjectVersions(ctx, &metapb.ListObjectVersionsRequest{Bucket: "bk"})
	if err != nil || len(vs.Versions) != 80 {
		t.Fatalf("%d versions, %v; want 80", len(vs.GetVersions()), err)
	}
}

// A node restarted from its directory keeps its state: the snapshot it
// took plus the log after it, with nothing applied twice.
func TestRestartKeepsState(t *testing.T) {
	dir := t.TempDir()
	small := func(c *Config) {
		c.SnapshotThreshold = 16
		c.TrailingLogs = 4
		c.SnapshotInterval = 50 * time.Millisecond
	}
	n := startNode(t, "n1", dir, "", true, small)
	waitLeader(t, n)
	c := dial(t, n)
	ctx := tctx(t)
	if _, err := c.CreateBucket(ctx, &metapb.CreateBucketRequest{Bucket: &metapb.Bucket{Name: "bk"}}); err != nil {
		t.Fatal(err)
	}
	putKeys(t, c, "bk", 0, 30)
	if err := n.Snapshot(ctx); err != nil {
		t.Fatal(err)
	}
	putKeys(t, c, "bk", 30, 10) // in the log only
	applied := n.fsm.Applied()
	raftAddr := n.raftAddr
	n.stop()

	n2 := startNode(t, "n1", dir, raftAddr, true, small) // Bootstrap is ignored: state exists
	waitLeader(t, n2)
	c2 := dial(t, n2)
	checkKeys(t, c2, "bk", 40)
	if got := n2.fsm.Applied(); got < applied {
		t.Fatalf("applied %d after restart, was %d", got, applied)
	}
	// Replayed entries were skipped: none of the 41 commands from before
	// the restart ran again in this process (only new ones did, such as
	// the member record with the new gRPC address).
	for _, op := range []string{"CreateBucket", "PutObject"} {
		for _, res := range []string{"ok", "error"} {
			if v := counter(t, n2.metrics.applied.WithLabelValues(op, res)); v != 0 {
				t.Fatalf("%s applied %v times (%s) after restart: entries were applied twice", op, v, res)
			}
		}
	}
}

// Join brings a node up to date through a snapshot (the leader keeps few
// log entries); Remove takes one out.
func TestJoinAndRemove(t *testing.T) {
	small := func(c *Config) {
		c.SnapshotThreshold = 8
		c.TrailingLogs = 2
		c.SnapshotInterval = 50 * time.Millisecond
	}
	n1 := startNode(t, "n1", t.TempDir(), "", true, small)
	waitLeader(t, n1)
	c := dial(t, n1)
	ctx := tctx(t)
	if _, err := c.CreateBucket(ctx, &metapb.CreateBucketRequest{Bucket: &metapb.Bucket{Name: "bk"}}); err != nil {
		t.Fatal(err)
	}
	putKeys(t, c, "bk", 0, 20)
	if err := n1.Snapshot(ctx); err != nil {
		t.Fatal(err)
	}
	n2 := startNode(t, "n2", t.TempDir(), "", false, small)
	if _, err := c.Join(ctx, &metapb.JoinRequest{Member: &metapb.Member{Id: "n2", RaftAddr: n2.raftAddr, GrpcAddr: n2.grpcAddr}}); err != nil {
		t.Fatal(err)
	}
	n3 := startNode(t, "n3", t.TempDir(), "", false, small)
	// Join through a follower: forwarded to the leader.
	if err := n2.Join(ctx, "n3", n3.raftAddr, n3.grpcAddr); err != nil {
		t.Fatal(err)
	}
	waitLeader(t, n2, n3)
	// n3 has the data in its own state machine (installed snapshot + log).
	if err := n3.fsm.WaitApplied(ctx, n1.fsm.Applied()); err != nil {
		t.Fatal(err)
	}
	if got, err := n3.fsm.GetObject(ctx, &metapb.GetObjectRequest{Bucket: "bk", Key: "key-019"}); err != nil || got.Object.Etag != `"key-019"` {
		t.Fatalf("n3 local state: %v %v", got, err)
	}
	mem, err := c.Members(ctx, &metapb.MembersRequest{})
	if err != nil || len(mem.Members) != 3 {
		t.Fatalf("members: %v %v", mem, err)
	}
	if _, err := c.Remove(ctx, &metapb.RemoveRequest{Id: "n3"}); err != nil {
		t.Fatal(err)
	}
	n3.stop()
	mem, err = c.Members(ctx, &metapb.MembersRequest{})
	if err != nil || len(mem.Members) != 2 {
		t.Fatalf("members after remove: %v %v", mem, err)
	}
	for _, m := range mem.Members {
		if m.Id == "n3" {
			t.Fatal("n3 still a member")
		}
	}
	// Two nodes still make a quorum.
	putKeys(t, dial(t, n2), "bk", 20, 3)
	checkKeys(t, c, "bk", 23)
}

func TestConfigValidate(t *testing.T) {
	ln := listen(t, "127.0.0.1:0")
	defer ln.Close()
	tests := []struct {
		name string
		mod  func(*Config)
		ok   bool
	}{
		{"ok", func(*Config) {}, true},
		{"no id", func(c *Config) { c.ID = "" }, false},
		{"no dir", func(c *Config) { c.Dir = "" }, false},
		{"no listener", func(c *Config) { c.RaftListener = nil; c.RaftAdvertise = "127.0.0.1:1" }, false},
		{"unspecified advertise", func(c *Config) { c.RaftAdvertise = "0.0.0.0:7000" }, false},
		{"bad grpc advertise", func(c *Config) { c.GRPCAdvertise = "nohost" }, false},
		{"lease over heartbeat", func(c *Config) { c.LeaderLeaseTimeout = 2 * c.HeartbeatTimeout }, false},
		{"too many entries", func(c *Config) { c.MaxAppendEntries = 5000 }, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := Config{ID: "n", Dir: t.TempDir(), RaftListener: ln}
			c.SetDefaults()
			tc.mod(&c)
			if err := c.Validate(); (err == nil) != tc.ok {
				t.Fatalf("Validate() = %v", err)
			}
		})
	}
}

var _ = context.Background
