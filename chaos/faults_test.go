package chaos

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	dto "github.com/prometheus/client_model/go"
	"golang.org/x/sys/unix"

	"github.com/wolke-cloud/wolke/chunk/disk"
	"github.com/wolke-cloud/wolke/cluster"
	"github.com/wolke-cloud/wolke/meta/metapb"
)

// faultyDisks hands out the disk.Faulty wrapping each chunk server's disk,
// by server id; a restarted server gets a fresh one.
type faultyDisks struct {
	mu   sync.Mutex
	by   map[string]*disk.Faulty
	logs map[string]*readLog // under each Faulty, the reads that reach the disk
}

func (f *faultyDisks) wrap(server, _ string, d disk.Disk) disk.Disk {
	rl := &readLog{Disk: d}
	fd := disk.NewFaulty(rl)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.by == nil {
		f.by, f.logs = map[string]*disk.Faulty{}, map[string]*readLog{}
	}
	f.by[server], f.logs[server] = fd, rl
	return fd
}

func (f *faultyDisks) readLog(server string) *readLog {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.logs[server]
}

func (f *faultyDisks) of(server string) *disk.Faulty {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.by[server]
}

// metricSum adds up the samples of the counters or gauges named name in
// c.Registry whose labels include every pair of want.
func metricSum(t *testing.T, c *cluster.Cluster, name string, want map[string]string) float64 {
	t.Helper()
	mfs, err := c.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metrics:
		for _, m := range mf.GetMetric() {
			for k, v := range want {
				if !hasLabel(m, k, v) {
					continue metrics
				}
			}
			sum += m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	return sum
}

func hasLabel(m *dto.Metric, k, v string) bool {
	for _, l := range m.GetLabel() {
		if l.GetName() == k && l.GetValue() == v {
			return true
		}
	}
	return false
}

// waitHealthy waits for a repair pass that started after since and ended
// with nothing degraded, unavailable or lost.
func waitHealthy(t *testing.T, c *cluster.Cluster, since time.Time, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		st := c.Durability().Repair
		if st.Healthy() && st.PassStarted.After(since) {
			t.Logf("healthy after %v: %d shards rebuilt, %d garbage chunks deleted in %d passes",
				time.Since(since).Round(time.Millisecond), st.ShardsRebuilt, st.GCDeleted, st.Passes)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not healthy %v after %v: %+v", d, since.Format(time.TimeOnly), st)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestDiskEIO makes one chunk server's disk fail with EIO under a mixed
// load. First a few bad sectors: the reads of one range fail, GETs
// reconstruct from the other shards, the errors are counted on both sides,
// and the disk stays in service. Then the whole disk dies (every read,
// write and sync fails): PUTs are acknowledged with five of six shards or
// fail cleanly, the chunk server marks the disk failed after 16 errors in
// a row, its process declares it lost in meta, and repair rebuilds its
// shards on the seventh server while the disk keeps failing. With the
// dead disk still in and one more server stopped, every acknowledged
// object must read back: nothing was acknowledged short of its quorum.
func TestDiskEIO(t *testing.T) {
	var fd faultyDisks
	// Repair passes run all the time but declare no server's disk lost
	// for being gone (the server stopped below comes back), and collect
	// only garbage older than a PUT takes: with no grace, GC deletes the
	// shards of PUTs still in flight.
	c := cluster.Start(t, cluster.Options{ChunkServers: 7, WrapDisk: fd.wrap,
		Durability: cluster.DurabilityOptions{Interval: 300 * time.Millisecond, GCGrace: 5 * time.Second, RepairRate: -1}})
	mc := s3Client(t, c)
	ctx := context.Background()
	if err := mc.MakeBucket(ctx, "eio", minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	led := NewLedger()
	cfg := LoadConfig{Workers: 2, Ops: pick(25, 200), Keys: 32, Duration: pick(8*time.Second, 60*time.Second),
		MaxSize: pick[int64](2<<20, 8<<20), MultipartPct: 5, Seed: 21, Prefix: "a/"}
	t.Logf("load on the healthy cluster: %v", Load(ctx, mc, "eio", led, cfg))

	const victim = 2
	f := fd.of(fmt.Sprintf("c%d", victim))
	diskID := serverDisk(t, c, victim)
	node := map[string]string{"node": fmt.Sprintf("c%d", victim)}
	degraded := metricSum(t, c, "wolke_core_degraded_reads_total", nil)
	// The bad sectors go where c2 keeps the most shards that GETs read
	// (data shards; parity is read only around a failure).
	rl := fd.readLog(fmt.Sprintf("c%d", victim))
	rl.record(true)
	verify(t, mc, "eio", led)
	rl.record(false)
	const badLen = 1792 << 10
	badOff, ok := rl.densest(badLen, 4096)
	if !ok {
		t.Fatalf("no GET read c%d's disk", victim)
	}
	f.Set(disk.Fault{Ops: disk.OpRead, Off: badOff, Len: badLen}) // bad sectors
	cfg.Seed, cfg.Duration = 22, pick(5*time.Second, 30*time.Second)
	st := Load(ctx, mc, "eio", led, cfg)
	t.Logf("load while reads of 1.75 MiB of c%d's disk (from byte %d) fail: %v", victim, badOff, st)
	if st.Errors > 0 || st.Wrong > 0 {
		t.Errorf("%d operations failed and %d GETs were wrong with bad sectors on one disk", st.Errors, st.Wrong)
	}
	verify(t, mc, "eio", led)
	hits := f.Hits()
	chunkErrs := metricSum(t, c, "wolke_chunk_ops_total", map[string]string{"node": node["node"], "op": "get", "result": "unavailable"})
	coreErrs := metricSum(t, c, "wolke_core_shard_errors_total", map[string]string{"op": "read"})
	t.Logf("bad sectors: %d reads failed; %v failed GETs counted by c%d, %v shard read errors and %v degraded reads by the gateway",
		hits, chunkErrs, victim, coreErrs, metricSum(t, c, "wolke_core_degraded_reads_total", nil)-degraded)
	if hits == 0 || chunkErrs == 0 || coreErrs == 0 || metricSum(t, c, "wolke_core_degraded_reads_total", nil) == degraded {
		t.Error("the failing reads were not all seen: injected, counted by the chunk server, by the gateway, and read around")
	}
	if got := metricSum(t, c, "wolke_chunk_disk_failed", node); got != 0 || diskStateOf(t, c, diskID) != metapb.DiskState_DISK_STATE_ACTIVE {
		t.Errorf("bad sectors took the disk out of service (failed gauge %v, state %v)", got, diskStateOf(t, c, diskID))
	}
	// The scrubber finds the unreadable chunks and drops them; repair
	// writes them again (the rewrite remaps the sectors, as a disk's
	// firmware does: the fault goes).
	prog, err := c.Scrub(ctx, victim)
	t.Logf("scrub of c%d: %d chunks, %d unreadable or damaged (%v)", victim, prog.Chunks, prog.Bad, err)
	if err != nil || prog.Bad == 0 {
		t.Errorf("scrub over bad sectors: %d bad chunks found, err %v", prog.Bad, err)
	}
	f.Set()
	waitHealthy(t, c, time.Now(), pick(30*time.Second, 2*time.Minute))
	verify(t, mc, "eio", led)

	f.Set(disk.Fault{Ops: disk.OpAll}) // the disk dies
	died := time.Now()
	cfg.Seed, cfg.Prefix = 23, "b/"
	st = Load(ctx, mc, "eio", led, cfg)
	t.Logf("load while c%d's disk fails every read, write and sync: %v", victim, st)
	if st.Puts == 0 || st.Wrong > 0 {
		t.Errorf("with one disk dead: %d PUTs acknowledged, %d wrong GETs", st.Puts, st.Wrong)
	}
	if got := metricSum(t, c, "wolke_chunk_ops_total", map[string]string{"node": node["node"], "op": "put", "result": "unavailable"}); got == 0 {
		t.Error("no failed chunk PUT counted on the dead disk")
	}
	for deadline := time.Now().Add(20 * time.Second); diskStateOf(t, c, diskID) != metapb.DiskState_DISK_STATE_LOST; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("dead disk %s not declared lost after 20s (failed gauge %v)", diskID, metricSum(t, c, "wolke_chunk_disk_failed", node))
		}
	}
	t.Logf("dead disk marked failed and declared lost %v after it died", time.Since(died).Round(time.Millisecond))
	waitHealthy(t, c, time.Now(), pick(60*time.Second, 3*time.Minute))
	// Acknowledged means five shards: without the dead disk and one more
	// server, four are left, enough.
	if err := c.StopChunk(4); err != nil {
		t.Fatal(err)
	}
	verify(t, mc, "eio", led)
	if err := c.StartChunk(ctx, 4); err != nil {
		t.Fatal(err)
	}
}

// TestBytesFlipped flips bytes in a running chunk server's disk file under
// a mixed load. No GET may return wrong data (the shard checksums catch
// the damage and reads reconstruct); a scrub pass finds the damaged
// chunks, repair rebuilds them, and everything reads back.
func TestBytesFlipped(t *testing.T) {
	c := cluster.Start(t, cluster.Options{RepairAfter: -1, DiskSize: 128 << 20,
		Durability: cluster.DurabilityOptions{Manual: true, GCGrace: -1, RepairRate: -1, ScrubRate: 1 << 30}})
	mc := s3Client(t, c)
	ctx := context.Background()
	if err := mc.MakeBucket(ctx, "rot", minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	led := NewLedger()
	cfg := LoadConfig{Workers: 2, Ops: pick(30, 200), Keys: 32, Duration: pick(8*time.Second, 60*time.Second),
		MaxSize: pick[int64](2<<20, 8<<20), Seed: 31}
	t.Logf("load before: %v", Load(ctx, mc, "rot", led, cfg))

	const victim = 1
	rot := newRotter(t, diskFile(c, victim), 31)
	lctx, stop := context.WithCancel(ctx)
	done := make(chan Stats, 1)
	cfg.Seed, cfg.Duration, cfg.Ops = 32, pick(6*time.Second, 60*time.Second), 100000
	go func() { done <- Load(lctx, mc, "rot", led, cfg) }()
	flips := 0
	for deadline := time.Now().Add(cfg.Duration - time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		flips += rot.flip(8)
	}
	stop()
	st := <-done
	t.Logf("load while bytes were flipped in %d blocks of c%d's disk: %v", flips, victim, st)
	if st.Wrong > 0 {
		t.Errorf("%d GETs returned wrong data", st.Wrong)
	}
	// Reading everything back now serves around the damage.
	verify(t, mc, "rot", led)
	prog, err := c.Scrub(ctx, victim)
	if err != nil {
		t.Fatalf("scrub: %v", err)
	}
	t.Logf("scrub of c%d: %d chunks, %d MB checked, %d damaged", victim, prog.Chunks, prog.Bytes/1e6, prog.Bad)
	if prog.Bad == 0 {
		t.Error("the scrubber found none of the flipped bytes")
	}
	rctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := c.Repair().Pass(rctx); err != nil {
		t.Fatal(err)
	}
	rs := c.Repair().Status()
	t.Logf("repair: %d shards rebuilt, healthy %v", rs.ShardsRebuilt, rs.Healthy())
	if !rs.Healthy() || rs.ShardsRebuilt == 0 {
		t.Errorf("repair after the scrub: %+v", rs)
	}
	// A second scrub finds nothing new: what is stored now is good.
	if prog2, err := c.Scrub(ctx, victim); err != nil || prog2.Bad != prog.Bad {
		t.Errorf("second scrub: %d damaged chunks since start (first: %d), err %v", prog2.Bad, prog.Bad, err)
	}
	verify(t, mc, "rot", led)
}

func diskFile(c *cluster.Cluster, i int) string {
	return strings.TrimSuffix(c.ChunkDir(i), "/") + "/disk0.img"
}

// rotter flips bytes in blocks of a disk file that hold data, as bit rot
// under a running chunk server would.
type rotter struct {
	t    *testing.T
	f    *os.File
	size int64
	rng  *rand.Rand
}

func newRotter(t *testing.T, path string, seed uint64) *rotter {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close() })
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	return &rotter{t: t, f: f, size: fi.Size(), rng: rand.New(rand.NewPCG(seed, 7))}
}

// flip damages one byte in each of up to n blocks that hold data (never
// the superblocks in the first and last block) and returns how many.
func (r *rotter) flip(n int) int {
	const bs = disk.BlockSize
	done := 0
	buf := make([]byte, bs)
	for try := 0; try < 4*n && done < n; try++ {
		off := bs + r.rng.Int64N(r.size/bs-2)*bs
		data, err := unix.Seek(int(r.f.Fd()), off, unix.SEEK_DATA)
		if err != nil || data >= r.size-bs {
			continue
		}
		data = max(data&^(bs-1), bs)
		if _, err := r.f.ReadAt(buf, data); err != nil || allZero(buf) {
			continue
		}
		i := r.rng.IntN(bs)
		if _, err := r.f.WriteAt([]byte{buf[i] ^ byte(1+r.rng.IntN(255))}, data+int64(i)); err != nil {
			r.t.Fatal(err)
		}
		done++
	}
	return done
}

func allZero(b []byte) bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}
