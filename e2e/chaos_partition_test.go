package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/wolke-cloud/wolke/chaos"
	"github.com/wolke-cloud/wolke/control"
)

// netLab is a bridge in this namespace with one network namespace per meta
// node hanging off it by a veth pair; cutting a node's host-side veth
// isolates it from everything (the other metas, etcd, the gateway).
type netLab struct {
	t      *testing.T
	tag    string
	bridge string
	nets   []string
	lock   *os.File // held while the lab exists: one lab per machine
}

// netLabLock serializes labs across test processes (they all use
// 10.77.0.0/24) and lets the holder remove what a killed run left behind.
const netLabLock = "/tmp/wolke-e2e-netlab.lock"

// lockNetLab waits for the machine-wide lab lock, then deletes leftover
// lab links and namespaces: no other lab can be live while it is held.
func lockNetLab(t *testing.T) *os.File {
	t.Helper()
	f, err := os.OpenFile(netLabLock, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatalf("network lab lock: %v", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		t.Fatalf("network lab lock: %v", err)
	}
	if out, err := exec.Command("ip", "-o", "link", "show").Output(); err == nil {
		for _, line := range strings.Split(string(out), "\n") {
			fields := strings.Fields(line)
			if len(fields) < 2 {
				continue
			}
			name, _, _ := strings.Cut(strings.TrimSuffix(fields[1], ":"), "@")
			if strings.HasPrefix(name, "wcb") || strings.HasPrefix(name, "wch") {
				_ = ipCmd("link", "del", name)
			}
		}
	}
	if out, err := exec.Command("ip", "netns", "list").Output(); err == nil {
		for _, line := range strings.Split(string(out), "\n") {
			if fields := strings.Fields(line); len(fields) > 0 && strings.HasPrefix(fields[0], "wcn") {
				_ = ipCmd("netns", "del", fields[0])
			}
		}
	}
	return f
}

func ipCmd(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return nil
}

// newNetLab builds the bridge 10.77.<n>.1/24 and n namespaces at .11, .12, ...
func newNetLab(t *testing.T, n int) *netLab {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("network namespaces need root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("no ip tool")
	}
	tag := fmt.Sprintf("%04d", os.Getpid()%10000)
	l := &netLab{t: t, tag: tag, bridge: "wcb" + tag, lock: lockNetLab(t)}
	t.Cleanup(l.close)
	must := func(args ...string) {
		if err := ipCmd(args...); err != nil {
			t.Skipf("cannot build the network lab: %v", err)
		}
	}
	must("link", "add", "name", l.bridge, "type", "bridge")
	must("addr", "add", "10.77.0.1/24", "dev", l.bridge)
	must("link", "set", l.bridge, "up")
	for i := 1; i <= n; i++ {
		ns := fmt.Sprintf("wcn%s-%d", tag, i)
		host, peer := l.veth(i), fmt.Sprintf("wcp%s%d", tag, i)
		must("netns", "add", ns)
		l.nets = append(l.nets, ns)
		must("link", "add", host, "type", "veth", "peer", "name", peer)
		must("link", "set", peer, "netns", ns)
		must("link", "set", host, "master", l.bridge)
		must("link", "set", host, "up")
		must("-n", ns, "addr", "add", l.ip(i)+"/24", "dev", peer)
		must("-n", ns, "link", "set", peer, "up")
		must("-n", ns, "link", "set", "lo", "up")
	}
	return l
}

func (l *netLab) veth(i int) string { return fmt.Sprintf("wch%s%d", l.tag, i) }
func (l *netLab) ip(i int) string   { return fmt.Sprintf("10.77.0.%d", 10+i) }

// cut isolates namespace i (1-based), or heals it.
func (l *netLab) cut(i int, isolated bool) error {
	state := "up"
	if isolated {
		state = "down"
	}
	return ipCmd("link", "set", l.veth(i), state)
}

func (l *netLab) close() {
	for i, ns := range l.nets {
		_ = ipCmd("link", "del", l.veth(i+1))
		_ = ipCmd("netns", "del", ns)
	}
	_ = ipCmd("link", "del", l.bridge)
	l.lock.Close() // releases the flock
}

// TestChaosPartitionMetaLeader runs three `wolke meta` processes, each in
// its own network namespace, and cuts the leader's link while a load runs
// through the gateway. The other two must elect a new leader and the
// cluster keep serving; after the link heals the old leader rejoins as a
// follower. Every acknowledged object must read back.
func TestChaosPartitionMetaLeader(t *testing.T) {
	if suite.skip != "" {
		t.Skip(suite.skip)
	}
	if suite.buildErr != nil {
		t.Fatalf("%v\n%s", suite.buildErr, suite.buildOut)
	}
	lab := newNetLab(t, 3)
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	etcd, err := control.StartEmbedded(ctx, control.EmbedConfig{Dir: filepath.Join(dir, "etcd"),
		ClientAddr: addrOn(t, "10.77.0.1"), PeerAddr: addrOn(t, "10.77.0.1")})
	if err != nil {
		t.Fatal(err)
	}
	defer etcd.Close()
	d := &chaosDeploy{t: t, dir: dir, etcd: etcd.Endpoints()[0], clusterN: "e2e-part", procs: map[string]*chaosProc{}}
	defer d.stopAll()
	for i := 1; i <= 3; i++ {
		id := fmt.Sprintf("m%d", i)
		args := []string{"meta", "--id", id, "--dir", filepath.Join(dir, id),
			"--raft-addr", lab.ip(i) + ":7000", "--grpc-addr", lab.ip(i) + ":7100"}
		if i == 1 {
			args = append(args, "--bootstrap")
		} else {
			args = append(args, "--join", lab.ip(1)+":7100")
		}
		d.addIn(lab.nets[i-1], id, args...)
		if i == 1 {
			time.Sleep(2 * time.Second)
		}
	}
	// The gateway reads the meta nodes from etcd at its start
	// (cluster.dialMetaViaEtcd): start it when all three are there.
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		found, err := control.List(ctx, etcd.Client(), d.clusterN, "meta")
		if err == nil && len(found) == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("meta nodes registered in etcd: %d, want 3 (%v)", len(found), err)
		}
	}
	for i := range 6 {
		id := fmt.Sprintf("c%d", i)
		d.add(id, "chunk", "--id", id, "--zone", fmt.Sprintf("z%d", i%3+1),
			"--disk", filepath.Join(dir, id, "disk0.img")+":512MiB", "--addr", addrOn(t, "10.77.0.1"))
	}
	gw := addrOn(t, "10.77.0.1")
	d.add("gw", "gateway", "--addr", gw, "--root-access-key", "PARTROOT", "--root-secret-key", "part-secret-key")
	waitHTTP200(t, "http://"+gw+"/_wolke/health", 90*time.Second)
	mc, err := minio.New(gw, &minio.Options{Creds: credentials.NewStaticV4("PARTROOT", "part-secret-key", ""),
		Region: "us-east-1", BucketLookup: minio.BucketLookupPath, MaxRetries: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := mc.MakeBucket(ctx, "part", minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	led := chaos.NewLedger()
	lctx, stop := context.WithCancel(ctx)
	done := make(chan chaos.Stats, 1)
	go func() {
		done <- chaos.Load(lctx, mc, "part", led, chaos.LoadConfig{Workers: 2, Ops: 100000, Keys: 32, Duration: 5 * time.Minute,
			MaxSize: 2 << 20, MultipartPct: 5, Seed: 11, OpTimeout: 10 * time.Second})
	}()
	rounds := 1
	if chaosLong() {
		rounds = 3
	}
	for r := range rounds {
		time.Sleep(time.Second)
		leader := metaLeaderOf(t, ctx, d.etcd, d.clusterN)
		var li int
		fmt.Sscanf(leader, "m%d", &li)
		if err := lab.cut(li, true); err != nil {
			t.Fatal(err)
		}
		cut := time.Now()
		key := fmt.Sprintf("probe/%d", r)
		data := []byte(key)
		for {
			pctx, pcancel := context.WithTimeout(ctx, 3*time.Second)
			_, err := mc.PutObject(pctx, "part", key, bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{DisableMultipart: true})
			pcancel()
			led.Put(key, int64(len(data)), sha256.Sum256(data), err)
			if err == nil {
				break
			}
			if time.Since(cut) > 60*time.Second {
				t.Fatalf("round %d: no write within 60s of isolating leader %s: %v", r, leader, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
		gap := time.Since(cut)
		now := metaLeaderOf(t, ctx, d.etcd, d.clusterN)
		time.Sleep(2 * time.Second) // keep it isolated a little longer under load
		if err := lab.cut(li, false); err != nil {
			t.Fatal(err)
		}
		t.Logf("round %d: leader %s isolated; next write after %v; new leader %s", r, leader, gap.Round(time.Millisecond), now)
		if now == leader {
			t.Errorf("round %d: %s still reported as leader while isolated", r, leader)
		}
	}
	time.Sleep(2 * time.Second)
	stop()
	t.Logf("load: %v", <-done)
	vctx, vcancel := context.WithTimeout(ctx, 3*time.Minute)
	defer vcancel()
	rep, err := led.Verify(vctx, mc, "part")
	if err != nil {
		t.Fatal(err)
	}
	puts, dels, failed := led.Counts()
	t.Logf("verify: %d objects equal (%d MB), %d deleted keys absent, %d uncertain; %d acked PUTs, %d acked DELETEs, %d failed ops",
		rep.Checked, rep.Bytes/1e6, rep.Absent, rep.Uncertain, puts, dels, failed)
	for _, p := range rep.Problems {
		t.Error(p)
	}
	if rep.Checked == 0 {
		t.Error("no acknowledged object to check")
	}
}
