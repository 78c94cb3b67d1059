package e2e

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/wolke-cloud/wolke/chaos"
	"github.com/wolke-cloud/wolke/cluster"
	"github.com/wolke-cloud/wolke/control"
)

// routeCut makes addr unreachable from namespace ns, or reachable again.
// kind "unreachable" fails connects and sends at once (EHOSTUNREACH);
// "blackhole" drops the packets silently (a peer waits for answers that
// never come).
func (l *netLab) routeCut(ns int, addr, kind string, cut bool) error {
	verb := "add"
	if !cut {
		verb = "del"
	}
	return ipCmd("-n", l.nets[ns-1], "route", verb, kind, addr+"/32")
}

// TestChaosSplitChunksFromGateway runs the gateway and two of seven chunk
// servers each in a network namespace (meta, etcd, the repair worker and
// the other chunk servers on the bridge) and cuts the routes between the
// gateway and those two servers, both ways, under a load: meta, etcd and
// the repair worker still see every chunk server. PUTs must be
// acknowledged with their write quorum on the five servers left or fail
// cleanly, GETs read around the missing shards. After the routes heal the
// repair worker fills in the shards never written, the cluster reports
// healthy and everything acknowledged reads back.
func TestChaosSplitChunksFromGateway(t *testing.T) {
	if suite.skip != "" {
		t.Skip(suite.skip)
	}
	if suite.buildErr != nil {
		t.Fatalf("%v\n%s", suite.buildErr, suite.buildOut)
	}
	lab := newNetLab(t, 3) // 1: gateway, 2: c0, 3: c1
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	etcd, err := control.StartEmbedded(ctx, control.EmbedConfig{Dir: filepath.Join(dir, "etcd"),
		ClientAddr: addrOn(t, "10.77.0.1"), PeerAddr: addrOn(t, "10.77.0.1")})
	if err != nil {
		t.Fatal(err)
	}
	defer etcd.Close()
	d := &chaosDeploy{t: t, dir: dir, etcd: etcd.Endpoints()[0], clusterN: "e2e-split", procs: map[string]*chaosProc{}}
	defer d.stopAll()
	d.add("m1", "meta", "--id", "m1", "--dir", filepath.Join(dir, "m1"), "--bootstrap",
		"--raft-addr", addrOn(t, "10.77.0.1"), "--grpc-addr", addrOn(t, "10.77.0.1"))
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		found, err := control.List(ctx, etcd.Client(), d.clusterN, "meta")
		if err == nil && len(found) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("meta node registered in etcd: %d (%v)", len(found), err)
		}
	}
	for i := range 7 {
		id := fmt.Sprintf("c%d", i)
		args := []string{"chunk", "--id", id, "--zone", fmt.Sprintf("z%d", i%3+1),
			"--disk", filepath.Join(dir, id, "disk0.img") + ":512MiB"}
		if i < 2 {
			d.addIn(lab.nets[i+1], id, append(args, "--addr", lab.ip(i+2)+":7200")...)
		} else {
			d.add(id, append(args, "--addr", addrOn(t, "10.77.0.1"))...)
		}
	}
	d.add("r1", "repair", "--id", "r1", "--repair-after", "10m", "--interval", "500ms", "--gc-grace", "10s", "--rate", "0")
	gw := lab.ip(1) + ":9000"
	d.addIn(lab.nets[0], "gw", "gateway", "--addr", gw, "--intent-after", "0", "--root-access-key", "SPLITROOT", "--root-secret-key", "split-secret-key")
	waitHTTP200(t, "http://"+gw+"/_wolke/health", 90*time.Second)
	mc, err := minio.New(gw, &minio.Options{Creds: credentials.NewStaticV4("SPLITROOT", "split-secret-key", ""),
		Region: "us-east-1", BucketLookup: minio.BucketLookupPath, MaxRetries: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := mc.MakeBucket(ctx, "split", minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	led := chaos.NewLedger()
	cfg := chaos.LoadConfig{Workers: 2, Ops: 100000, Keys: 32, Duration: 4 * time.Second,
		MaxSize: 2 << 20, MultipartPct: 5, Seed: 51, OpTimeout: 20 * time.Second}
	if chaosLong() {
		cfg.Duration, cfg.MaxSize = 30*time.Second, 16<<20
	}
	t.Logf("load before the split: %v", chaos.Load(ctx, mc, "split", led, cfg))

	// splitRound cuts c0 and c1 off from the gateway (loudly: both sides
	// get "no route"; or silently: c0 and c1's answers to the gateway are
	// dropped), runs the load, reads everything, heals and waits until the
	// repair worker reports the cluster healthy.
	splitRound := func(name string, seed uint64, readAll bool, cut func(on bool)) {
		t.Helper()
		cut(true)
		cfg.Seed = seed
		st := chaos.Load(ctx, mc, "split", led, cfg)
		t.Logf("%s: load while c0 and c1 are cut off from the gateway: %v", name, st)
		if st.Puts+st.Gets == 0 || st.Wrong > 0 {
			t.Errorf("%s: %d PUTs and %d GETs succeeded, %d wrong GETs", name, st.Puts, st.Gets, st.Wrong)
		}
		if readAll { // (a silent split makes this slow: see probeSplit)
			start := time.Now()
			checkLedger(t, ctx, mc, "split", led, name+", during the split")
			t.Logf("%s: reading every object back took %v", name, time.Since(start).Round(time.Millisecond))
		}
		probeSplit(t, ctx, mc, led, name)
		cut(false)
		healed := time.Now()
		waitSplitHealthy(t, ctx, d, healed, name)
		checkLedger(t, ctx, mc, "split", led, name+", after healing")
	}
	splitRound("loud split", 52, true, func(on bool) {
		for _, srv := range []int{2, 3} { // the namespaces of c0 and c1
			if err := lab.routeCut(1, lab.ip(srv), "unreachable", on); err != nil {
				t.Fatal(err)
			}
			if err := lab.routeCut(srv, lab.ip(1), "unreachable", on); err != nil {
				t.Fatal(err)
			}
		}
	})
	splitRound("silent split", 53, chaosLong(), func(on bool) {
		for _, srv := range []int{2, 3} {
			if err := lab.routeCut(srv, lab.ip(1), "blackhole", on); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// probeSplit times single 1 MiB PUTs and GETs during a split: each must
// succeed or fail (not hang past its 60s bound) and never return wrong data.
func probeSplit(t *testing.T, ctx context.Context, mc *minio.Client, led *chaos.Ledger, name string) {
	t.Helper()
	var puts, gets []time.Duration
	var failed int
	for i := range 4 {
		key := fmt.Sprintf("probe/%s/%d", strings.ReplaceAll(name, " ", "-"), i)
		b := chaos.Body{Size: 1 << 20, Seed: uint64(i) + 7000}
		pctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		start := time.Now()
		_, err := mc.PutObject(pctx, "split", key, b.Reader(), b.Size, minio.PutObjectOptions{DisableMultipart: true})
		puts = append(puts, time.Since(start))
		led.Put(key, b.Size, b.Sum(), err)
		if err != nil {
			failed++
			cancel()
			continue
		}
		start = time.Now()
		obj, err := mc.GetObject(pctx, "split", key, minio.GetObjectOptions{})
		if err == nil {
			h := sha256.New()
			var n int64
			n, err = io.Copy(h, obj)
			obj.Close()
			if err == nil && (n != b.Size || [32]byte(h.Sum(nil)) != b.Sum()) {
				t.Errorf("%s: GET %s returned wrong data", name, key)
			}
		}
		gets = append(gets, time.Since(start))
		if err != nil {
			failed++
		}
		cancel()
	}
	t.Logf("%s: 1 MiB PUT latencies %v, GET latencies %v, %d failed", name, puts, gets, failed)
}

// waitSplitHealthy waits until a repair pass that started after healed
// reports nothing degraded, unavailable or lost.
func waitSplitHealthy(t *testing.T, ctx context.Context, d *chaosDeploy, healed time.Time, name string) {
	t.Helper()
	// The repair worker could reach c0 and c1 all along: it fills in what
	// the gateway could not write.
	adm, err := cluster.DialAdmin(ctx, []string{d.etcd}, d.clusterN)
	if err != nil {
		t.Fatal(err)
	}
	defer adm.Close()
	var rep *cluster.Report
	for deadline := time.Now().Add(90 * time.Second); ; time.Sleep(250 * time.Millisecond) {
		rep, err = adm.Status(ctx)
		if err == nil && rep.Healthy && rep.Durability != nil && rep.Durability.Repair.PassStarted.After(healed) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not healthy 90s after the split healed: %v %+v", name, err, rep)
		}
	}
	r := rep.Durability.Repair
	t.Logf("%s: healthy %v after the split healed; so far %d shards rebuilt (%d MB), %d garbage chunks deleted",
		name, time.Since(healed).Round(time.Millisecond), r.ShardsRebuilt, r.BytesRebuilt/1e6, r.GCDeleted)
	if r.ShardsRebuilt == 0 {
		t.Errorf("%s: nothing rebuilt: no PUT was acknowledged short of c0 and c1's shards", name)
	}
}

// checkLedger reads every object of the ledger back and fails the test on
// any problem, reads under load included.
func checkLedger(t *testing.T, ctx context.Context, mc *minio.Client, bucket string, led *chaos.Ledger, when string) {
	t.Helper()
	vctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	rep, err := led.Verify(vctx, mc, bucket)
	if err != nil {
		t.Fatal(err)
	}
	puts, dels, failed := led.Counts()
	t.Logf("verify %s: %d objects equal (%d MB), %d deleted keys absent, %d uncertain; %d acked PUTs, %d acked DELETEs, %d failed ops",
		when, rep.Checked, rep.Bytes/1e6, rep.Absent, rep.Uncertain, puts, dels, failed)
	for _, p := range append(rep.Problems, led.Problems()...) {
		t.Errorf("%s: %s", when, p)
	}
	if rep.Checked == 0 {
		t.Errorf("%s: no acknowledged object to check", when)
	}
}
