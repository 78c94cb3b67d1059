package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/wolke-cloud/wolke/chaos"
	"github.com/wolke-cloud/wolke/cluster"
	"github.com/wolke-cloud/wolke/control"
	"github.com/wolke-cloud/wolke/internal/freeport"
)

// chaosProc is one wolke process of the deployment, restartable with the
// same arguments.
type chaosProc struct {
	name  string
	netns string // run inside this network namespace when set
	args  []string
	cmd   *exec.Cmd
	log   *os.File
}

type chaosDeploy struct {
	t        *testing.T
	dir      string
	etcd     string
	clusterN string
	procs    map[string]*chaosProc
}

func (d *chaosDeploy) start(p *chaosProc) {
	d.t.Helper()
	args := append([]string{suite.bin}, p.args...)
	args = append(args, "--cluster", d.clusterN, "--etcd", d.etcd)
	if p.netns != "" {
		args = append([]string{"ip", "netns", "exec", p.netns}, args...)
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdout, cmd.Stderr = p.log, p.log
	cmd.SysProcAttr = childAttr()
	if err := cmd.Start(); err != nil {
		d.t.Fatal(err)
	}
	p.cmd = cmd
}

func (d *chaosDeploy) add(name string, args ...string) *chaosProc {
	return d.addIn("", name, args...)
}

// addIn starts a process inside network namespace ns ("" for this one).
func (d *chaosDeploy) addIn(ns, name string, args ...string) *chaosProc {
	d.t.Helper()
	logf, err := os.Create(filepath.Join(d.dir, name+".log"))
	if err != nil {
		d.t.Fatal(err)
	}
	p := &chaosProc{name: name, netns: ns, args: args, log: logf}
	d.procs[name] = p
	d.start(p)
	return p
}

// kill sends SIGKILL and reaps the process.
func (d *chaosDeploy) kill(names ...string) {
	for _, n := range names {
		p := d.procs[n]
		if p.cmd != nil && p.cmd.ProcessState == nil {
			_ = p.cmd.Process.Kill()
			_ = p.cmd.Wait()
		}
	}
}

func (d *chaosDeploy) restart(names ...string) {
	for _, n := range names {
		d.start(d.procs[n])
	}
}

func (d *chaosDeploy) stopAll() {
	for _, p := range d.procs {
		if p.cmd != nil && p.cmd.ProcessState == nil {
			_ = p.cmd.Process.Signal(syscall.SIGINT)
			done := make(chan struct{})
			go func() { _ = p.cmd.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(15 * time.Second):
				_ = p.cmd.Process.Kill()
				<-done
			}
		}
		p.log.Close()
		if d.t.Failed() {
			d.t.Logf("%s log:\n%s", p.name, tail(p.log.Name(), 2000))
		}
	}
}

// addrOn finds a free port on the loopback address ip, reserved for the
// rest of the test (internal/freeport).
func addrOn(t *testing.T, ip string) string {
	t.Helper()
	addr, err := freeport.Pick(ip, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return addr
}

func waitHTTP200(t *testing.T, url string, d time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	hc := &http.Client{Timeout: 2 * time.Second}
	for {
		resp, err := hc.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return time.Since(start)
			}
		}
		if time.Since(start) > d {
			t.Fatalf("%s not 200 after %v (last: %v)", url, d, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func chaosLong() bool { return os.Getenv("CHAOS") == "long" }

// TestChaosProcesses runs meta ×3, chunk ×6 and gateway ×2 as separate
// wolke processes on 127.0.0.x addresses with an embedded etcd, puts a
// mixed load through both gateways, and kill -9s two chunk servers, the
// meta leader and a gateway in turn (restarting each), freezes the meta
// leader with SIGSTOP (cut off like a partition), then every process
// at once (power loss). At the end every acknowledged object is read back
// and compared. CHAOS=long runs more rounds and objects up to 64 MiB.
func TestChaosProcesses(t *testing.T) {
	if suite.skip != "" {
		t.Skip(suite.skip)
	}
	if suite.buildErr != nil {
		t.Fatalf("%v\n%s", suite.buildErr, suite.buildOut)
	}
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	etcd, err := control.StartEmbedded(ctx, control.EmbedConfig{Dir: filepath.Join(dir, "etcd")})
	if err != nil {
		t.Fatal(err)
	}
	defer etcd.Close()
	d := &chaosDeploy{t: t, dir: dir, etcd: etcd.Endpoints()[0], clusterN: "e2e-chaos", procs: map[string]*chaosProc{}}
	defer d.stopAll()

	var metaGRPC []string
	for i := 1; i <= 3; i++ {
		ip := fmt.Sprintf("127.0.0.%d", 10+i)
		id := fmt.Sprintf("m%d", i)
		grpc := addrOn(t, ip)
		args := []string{"meta", "--id", id, "--dir", filepath.Join(dir, id), "--raft-addr", addrOn(t, ip), "--grpc-addr", grpc}
		if i == 1 {
			args = append(args, "--bootstrap")
		} else {
			args = append(args, "--join", metaGRPC[0])
		}
		d.add(id, args...)
		metaGRPC = append(metaGRPC, grpc)
		if i == 1 {
			time.Sleep(2 * time.Second) // the others join through m1 once it leads
		}
	}
	chunks := []string{}
	for i := range 6 {
		id := fmt.Sprintf("c%d", i)
		d.add(id, "chunk", "--id", id, "--zone", fmt.Sprintf("z%d", i%3+1),
			"--disk", filepath.Join(dir, id, "disk0.img")+":1GiB", "--addr", addrOn(t, fmt.Sprintf("127.0.0.%d", 21+i)))
		chunks = append(chunks, id)
	}
	var gws []string
	var clients []*minio.Client
	for i := range 2 {
		addr := addrOn(t, fmt.Sprintf("127.0.0.%d", 31+i))
		name := fmt.Sprintf("gw%d", i)
		d.add(name, "gateway", "--addr", addr, "--root-access-key", "CHAOSROOT", "--root-secret-key", "chaos-secret-key")
		gws = append(gws, addr)
		mc, err := minio.New(addr, &minio.Options{Creds: credentials.NewStaticV4("CHAOSROOT", "chaos-secret-key", ""),
			Region: "us-east-1", BucketLookup: minio.BucketLookupPath, MaxRetries: 1})
		if err != nil {
			t.Fatal(err)
		}
		clients = append(clients, mc)
	}
	waitAll := func(limit time.Duration) time.Duration {
		var worst time.Duration
		for _, gw := range gws {
			worst = max(worst, waitHTTP200(t, "http://"+gw+"/_wolke/health", limit))
		}
		return worst
	}
	waitAll(90 * time.Second)
	if err := clients[0].MakeBucket(ctx, "chaos", minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}

	led := chaos.NewLedger()
	maxSize := int64(2 << 20)
	if chaosLong() {
		maxSize = 64 << 20
	}
	// under runs fault while both gateways carry a load, then stops the load.
	under := func(what string, fault func()) {
		lctx, stop := context.WithCancel(ctx)
		done := [2]chan chaos.Stats{make(chan chaos.Stats, 1), make(chan chaos.Stats, 1)}
		for i, mc := range clients {
			go func() {
				done[i] <- chaos.Load(lctx, mc, "chaos", led, chaos.LoadConfig{Workers: 1, Ops: 100000, Keys: 24,
					Duration: 3 * time.Minute, MaxSize: maxSize, MultipartPct: 5, Seed: rand.Uint64(),
					Prefix: fmt.Sprintf("gw%d/", i), OpTimeout: 20 * time.Second})
			}()
		}
		time.Sleep(time.Second)
		fault()
		time.Sleep(time.Second)
		stop()
		t.Logf("%s: load via gw0: %v; via gw1: %v", what, <-done[0], <-done[1])
	}
	rounds := 1
	if chaosLong() {
		rounds = 3
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 2))
	for r := range rounds {
		a := rng.IntN(6)
		b := (a + 1 + rng.IntN(5)) % 6
		under(fmt.Sprintf("round %d: kill -9 %s and %s", r, chunks[a], chunks[b]), func() {
			d.kill(chunks[a], chunks[b])
			time.Sleep(2 * time.Second)
			d.restart(chunks[a], chunks[b])
		})
		under(fmt.Sprintf("round %d: kill -9 the meta leader", r), func() {
			leader := metaLeaderOf(t, ctx, d.etcd, d.clusterN)
			d.kill(leader)
			t.Logf("killed meta leader %s", leader)
			time.Sleep(2 * time.Second)
			d.restart(leader)
		})
		// A frozen leader is cut off as a partition would cut it: its
		// followers elect another; when it thaws it must step down.
		under(fmt.Sprintf("round %d: freeze the meta leader (SIGSTOP 3s)", r), func() {
			leader := metaLeaderOf(t, ctx, d.etcd, d.clusterN)
			p := d.procs[leader].cmd.Process
			_ = p.Signal(syscall.SIGSTOP)
			time.Sleep(3 * time.Second)
			_ = p.Signal(syscall.SIGCONT)
			t.Logf("froze and thawed meta leader %s; leader now %s", leader, metaLeaderOf(t, ctx, d.etcd, d.clusterN))
		})
		g := fmt.Sprintf("gw%d", rng.IntN(2))
		under(fmt.Sprintf("round %d: kill -9 %s", r, g), func() {
			d.kill(g)
			time.Sleep(time.Second)
			d.restart(g)
		})
		waitAll(90 * time.Second)
	}
	under("power loss: kill -9 every process", func() {
		all := make([]string, 0, len(d.procs))
		for n := range d.procs {
			all = append(all, n)
		}
		d.kill(all...)
		d.restart(all...)
	})
	t.Logf("all gateways healthy %v after the power-loss load stopped", waitAll(2*time.Minute).Round(time.Millisecond))
	vctx, vcancel := context.WithTimeout(ctx, 5*time.Minute)
	defer vcancel()
	rep, err := led.Verify(vctx, clients[1], "chaos")
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

func metaLeaderOf(t *testing.T, ctx context.Context, etcd, clusterID string) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		actx, cancel := context.WithTimeout(ctx, 5*time.Second)
		adm, err := cluster.DialAdmin(actx, []string{etcd}, clusterID)
		if err == nil {
			var r *cluster.MetaReport
			r, err = adm.Meta(actx)
			adm.Close()
			if err == nil && r.Leader != "" {
				cancel()
				return r.Leader
			}
		}
		cancel()
		if time.Now().After(deadline) {
			t.Fatalf("no meta leader: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
