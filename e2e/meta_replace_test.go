package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/wolke-cloud/wolke/cluster"
	"github.com/wolke-cloud/wolke/control"
)

// TestMetaReplaceNode replaces a lost meta node from the command line, as
// an operator would (issue #5): meta ×3, chunk ×6 and a gateway as
// separate processes; objects written; kill -9 the meta leader and delete
// its directory (measuring how long writes are refused); `wolke admin
// meta` shows it unreachable; starting a node with its old id and an
// empty directory is refused while it is a member; `wolke admin meta
// remove`; a new node with a new id and an empty directory joins and
// catches up; then a second original node is killed, leaving the new one
// in every quorum, and every acknowledged object must read back equal.
func TestMetaReplaceNode(t *testing.T) {
	if suite.skip != "" {
		t.Skip(suite.skip)
	}
	if suite.buildErr != nil {
		t.Fatalf("%v\n%s", suite.buildErr, suite.buildOut)
	}
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	etcd, err := control.StartEmbedded(ctx, control.EmbedConfig{Dir: filepath.Join(dir, "etcd")})
	if err != nil {
		t.Fatal(err)
	}
	defer etcd.Close()
	d := &chaosDeploy{t: t, dir: dir, etcd: etcd.Endpoints()[0], clusterN: "e2e-metareplace", procs: map[string]*chaosProc{}}
	defer d.stopAll()
	target := []string{"--cluster", d.clusterN, "--etcd", d.etcd}
	admin := func(args ...string) (string, error) {
		actx, cancel := context.WithTimeout(ctx, 45*time.Second)
		defer cancel()
		out, err := exec.CommandContext(actx, suite.bin, append(append([]string{"admin"}, args...), target...)...).CombinedOutput()
		return string(out), err
	}
	report := func() (*cluster.MetaReport, error) {
		out, err := admin("meta", "--json")
		if err != nil {
			return nil, fmt.Errorf("%v: %s", err, out)
		}
		var r cluster.MetaReport
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			return nil, fmt.Errorf("%v: %s", err, out)
		}
		return &r, nil
	}
	// waitMeta polls `wolke admin meta --json` until ok holds.
	waitMeta := func(what string, limit time.Duration, ok func(*cluster.MetaReport) bool) *cluster.MetaReport {
		t.Helper()
		deadline := time.Now().Add(limit)
		for {
			r, err := report()
			if err == nil && ok(r) {
				return r
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: not after %v; last report %+v, err %v", what, limit, r, err)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	member := func(r *cluster.MetaReport, id string) *cluster.MetaMember {
		for i := range r.Members {
			if r.Members[i].ID == id {
				return &r.Members[i]
			}
		}
		return nil
	}

	grpcOf := map[string]string{}
	metaArgs := func(id string, ip int) []string {
		host := fmt.Sprintf("127.0.0.%d", ip)
		grpcOf[id] = addrOn(t, host)
		// Snapshots every 16 entries, 8 kept behind: a new member is
		// sent a snapshot, then the log.
		return []string{"meta", "--id", id, "--dir", filepath.Join(dir, id), "--raft-addr", addrOn(t, host), "--grpc-addr", grpcOf[id],
			"--snapshot-threshold", "16", "--trailing-logs", "8", "--snapshot-interval", "500ms"}
	}
	d.add("m1", append(metaArgs("m1", 141), "--bootstrap")...)
	waitMeta("m1 leads", 30*time.Second, func(r *cluster.MetaReport) bool { return r.Leader == "m1" })
	d.add("m2", append(metaArgs("m2", 142), "--join", grpcOf["m1"])...)
	d.add("m3", append(metaArgs("m3", 143), "--join", grpcOf["m1"])...)
	waitMeta("three healthy members", 30*time.Second, func(r *cluster.MetaReport) bool { return r.Healthy == 3 && len(r.Members) == 3 })
	for i := range 6 {
		id := fmt.Sprintf("c%d", i)
		d.add(id, "chunk", "--id", id, "--zone", fmt.Sprintf("z%d", i%3+1),
			"--disk", filepath.Join(dir, id, "disk0.img")+":128MiB", "--addr", addrOn(t, fmt.Sprintf("127.0.0.%d", 151+i)))
	}
	s3 := addrOn(t, "127.0.0.150")
	d.add("gw", "gateway", "--addr", s3, "--root-access-key", "REPLROOT", "--root-secret-key", "repl-secret-key")
	waitHTTP200(t, "http://"+s3+"/_wolke/health", 60*time.Second)
	mc, err := minio.New(s3, &minio.Options{Creds: credentials.NewStaticV4("REPLROOT", "repl-secret-key", ""),
		Region: "us-east-1", BucketLookup: minio.BucketLookupPath, MaxRetries: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := mc.MakeBucket(ctx, "repl", minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}

	acked := map[string][32]byte{} // key -> sha256 of what the gateway acknowledged
	put := func(key string, size int, timeout time.Duration) error {
		data := randomBytes(size, uint64(len(acked)+1)*7919)
		pctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		_, err := mc.PutObject(pctx, "repl", key, bytes.NewReader(data), int64(size), minio.PutObjectOptions{DisableMultipart: true})
		if err == nil {
			acked[key] = sha256.Sum256(data)
		}
		return err
	}
	for i, n := range []int{0, 1, 1000, 64 << 10, 1 << 20, 3<<20 + 7} {
		for j := range 4 {
			if err := put(fmt.Sprintf("before/%d-%d", i, j), n, 30*time.Second); err != nil {
				t.Fatalf("put: %v", err)
			}
		}
	}

	// kill -9 the leader and lose its disk; writes wait for a new leader.
	r := waitMeta("a leader", 10*time.Second, func(r *cluster.MetaReport) bool { return r.Leader != "" })
	lost := r.Leader
	killed := time.Now()
	d.kill(lost)
	if err := os.RemoveAll(filepath.Join(dir, lost)); err != nil {
		t.Fatal(err)
	}
	var unavailable time.Duration
	for i := 0; ; i++ {
		if err := put(fmt.Sprintf("failover/%d", i), 4096, 10*time.Second); err == nil {
			unavailable = time.Since(killed)
			break
		}
		if time.Since(killed) > 30*time.Second {
			t.Fatalf("no write acknowledged within 30s of killing meta leader %s", lost)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("killed meta leader %s: first write acknowledged %v later", lost, unavailable.Round(time.Millisecond))

	r = waitMeta(lost+" shown unreachable", 15*time.Second, func(r *cluster.MetaReport) bool {
		m := member(r, lost)
		return r.Leader != "" && r.Leader != lost && m != nil && !m.Reachable && strings.Contains(m.Problem, "unreachable")
	})
	if out, err := admin("meta"); err != nil || !strings.Contains(out, "unreachable") || !strings.Contains(out, "2 of 3 members healthy") {
		t.Fatalf("admin meta table: %v\n%s", err, out)
	}
	var live []string
	for _, m := range r.Members {
		if m.ID != lost {
			live = append(live, m.GRPCAddr)
		}
	}
	join := strings.Join(live, ",")

	// Its old id with an empty directory is refused while it is a member.
	rctx, rcancel := context.WithTimeout(ctx, 45*time.Second)
	out, err := exec.CommandContext(rctx, suite.bin, append(append(metaArgs(lost, 144), "--join", join), target...)...).CombinedOutput()
	rcancel()
	if err == nil || !strings.Contains(string(out), "still a member") {
		t.Fatalf("a node rejoining as %s with an empty directory: %v\n%s", lost, err, out)
	}
	// So is --bootstrap with an empty directory next to a live group.
	rctx, rcancel = context.WithTimeout(ctx, 45*time.Second)
	out, err = exec.CommandContext(rctx, suite.bin, append(append(metaArgs(lost, 144), "--bootstrap"), target...)...).CombinedOutput()
	rcancel()
	if err == nil || !strings.Contains(string(out), "second, empty") {
		t.Fatalf("a node bootstrapping as %s with an empty directory: %v\n%s", lost, err, out)
	}
	// Removing a healthy member now would leave one healthy of two.
	if out, err := admin("meta", "remove", r.Leader); err == nil || !strings.Contains(out, "fewer than a quorum") {
		t.Fatalf("removing the healthy leader without --force: %v\n%s", err, out)
	}
	if out, err := admin("meta", "remove", lost); err != nil {
		t.Fatalf("admin meta remove %s: %v\n%s", lost, err, out)
	}
	for i := range 4 {
		if err := put(fmt.Sprintf("after-remove/%d", i), 200<<10, 30*time.Second); err != nil {
			t.Fatalf("put after remove: %v", err)
		}
	}

	r = waitMeta("a snapshot on the leader", 15*time.Second, func(r *cluster.MetaReport) bool {
		m := member(r, r.Leader)
		return m != nil && m.SnapshotIndex > 0
	})
	// The replacement: a new id, an empty directory, --join.
	joined := time.Now()
	d.add("m4", append(metaArgs("m4", 145), "--join", join)...)
	r = waitMeta("m4 healthy and caught up", 30*time.Second, func(r *cluster.MetaReport) bool {
		m := member(r, "m4")
		return len(r.Members) == 3 && r.Healthy == 3 && m != nil && m.Lag == 0 && m.AppliedIndex >= r.CommitIndex
	})
	caughtUp := time.Since(joined)
	m4 := member(r, "m4")
	t.Logf("m4 joined and caught up in %v: applied index %d of commit index %d (snapshot index %d)",
		caughtUp.Round(time.Millisecond), m4.AppliedIndex, r.CommitIndex, m4.SnapshotIndex)
	if m4.SnapshotIndex == 0 {
		t.Errorf("m4 caught up without a snapshot: the test does not exercise snapshot installation")
	}
	if member(r, lost) != nil {
		t.Fatalf("removed %s still listed: %+v", lost, r.Members)
	}

	// Lose a second original node: m4 is now in every quorum.
	second := r.Leader
	if second == "m4" {
		second = slices.DeleteFunc([]string{"m1", "m2", "m3"}, func(id string) bool { return id == lost })[0]
	}
	killed = time.Now()
	d.kill(second)
	for i := 0; ; i++ {
		if err := put(fmt.Sprintf("second/%d", i), 4096, 10*time.Second); err == nil {
			break
		}
		if time.Since(killed) > 30*time.Second {
			t.Fatalf("no write acknowledged within 30s of killing %s (m4 in the quorum)", second)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("killed %s too (leader %v): first write acknowledged %v later", second, second == r.Leader, time.Since(killed).Round(time.Millisecond))

	for key, sum := range acked {
		gctx, gcancel := context.WithTimeout(ctx, 20*time.Second)
		o, err := mc.GetObject(gctx, "repl", key, minio.GetObjectOptions{})
		var got []byte
		if err == nil {
			got, err = io.ReadAll(o)
			o.Close()
		}
		gcancel()
		if err != nil || sha256.Sum256(got) != sum {
			t.Errorf("%s: %d bytes, err %v: not what was acknowledged", key, len(got), err)
		}
	}
	r = waitMeta("m4 healthy after the second loss", 15*time.Second, func(r *cluster.MetaReport) bool {
		m := member(r, "m4")
		return m != nil && m.Healthy && r.Healthy == 2
	})
	t.Logf("%d acknowledged objects read back equal; meta leader %s, commit index %d", len(acked), r.Leader, r.CommitIndex)
}
