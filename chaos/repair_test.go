package chaos

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/wolke-cloud/wolke/cluster"
	"github.com/wolke-cloud/wolke/meta/metapb"
)

// TestRepairLostDisk measures repair on eight chunk servers with
// --repair-after 0: the time from stopping a server to its disk being
// declared lost, and the rebuild rate, first on an idle cluster, then
// with a foreground load whose throughput is compared with the same load
// on the healthy cluster. Everything acknowledged must read back after.
func TestRepairLostDisk(t *testing.T) {
	c := cluster.Start(t, cluster.Options{ChunkServers: 8, RepairAfter: -1,
		Durability: cluster.DurabilityOptions{Interval: 200 * time.Millisecond, RepairRate: -1}})
	mc := s3Client(t, c)
	ctx := context.Background()
	if err := mc.MakeBucket(ctx, "rep", minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	led := NewLedger()
	fill := LoadConfig{Workers: 2, Ops: pick(12, 40), Keys: 1000, Duration: 2 * time.Minute, MaxSize: 4 << 20, Seed: 1, Prefix: "fill/"}
	fillPuts := func(cfg LoadConfig) { // PUTs only: distinct keys, 4 MiB each
		for w := range cfg.Workers * cfg.Ops {
			b := Body{Size: cfg.MaxSize, Seed: uint64(w) + cfg.Seed<<32}
			key := fmt.Sprintf("%sk%04d", cfg.Prefix, w)
			_, err := mc.PutObject(ctx, "rep", key, b.Reader(), b.Size, minio.PutObjectOptions{DisableMultipart: true})
			led.Put(key, b.Size, b.Sum(), err)
		}
	}
	fillPuts(fill)
	fg := LoadConfig{Workers: 2, Ops: 100000, Keys: 32, Duration: pick(3*time.Second, 10*time.Second), MaxSize: 2 << 20, Seed: 2, Prefix: "fg/"}
	base := Load(ctx, mc, "rep", led, fg)
	t.Logf("foreground load on the healthy cluster: %v", base)

	rebuild := func(server int, withLoad bool) {
		// A PUT is acknowledged at its write quorum (k of k+m shards), and
		// repair then writes the shards it missed: the measured loss comes
		// only after a pass that found every stripe whole, or it could
		// take a stripe below k.
		waitHealthy(t, c, time.Now(), pick(30*time.Second, time.Minute))
		diskID := serverDisk(t, c, server)
		before := c.Durability().Repair.BytesRebuilt
		done := make(chan Stats, 1)
		lctx, stop := context.WithCancel(ctx)
		if withLoad {
			cfg := fg
			cfg.Duration, cfg.Seed = 5*time.Minute, 3
			go func() { done <- Load(lctx, mc, "rep", led, cfg) }()
		}
		stopped := time.Now() // StopChunk revokes the server's lease: detection may end inside it
		if err := c.StopChunk(server); err != nil {
			t.Fatal(err)
		}
		var lost time.Duration
		deadline := stopped.Add(pick(30*time.Second, 3*time.Minute))
		for time.Now().Before(deadline) {
			st := c.Durability().Repair
			if lost == 0 && diskStateOf(t, c, diskID) == metapb.DiskState_DISK_STATE_LOST {
				lost = time.Since(stopped)
			}
			if lost > 0 && st.Healthy() && st.BytesRebuilt > before && st.PassStarted.After(stopped.Add(lost)) {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		total := time.Since(stopped)
		stop()
		st := c.Durability().Repair
		if !st.Healthy() || lost == 0 {
			t.Fatalf("server c%d: not repaired after %v: lost after %v, status %+v", server, total, lost, st)
		}
		bytes := st.BytesRebuilt - before
		window := total - lost
		t.Logf("server c%d (load %v): disk declared lost after %v, rebuilt %.1f MB in %v after that: %.1f MB/s",
			server, withLoad, lost.Round(time.Millisecond), float64(bytes)/1e6,
			window.Round(time.Millisecond), float64(bytes)/window.Seconds()/1e6)
		if withLoad {
			fgst := <-done
			t.Logf("foreground load while repairing: %v; %.0f %% of the healthy %.1f MB/s",
				fgst, 100*fgst.MBps()/base.MBps(), base.MBps())
		}
	}
	rebuild(0, false)
	rebuild(1, true)
	verify(t, mc, "rep", led)
}

func serverDisk(t *testing.T, c *cluster.Cluster, server int) string {
	t.Helper()
	resp, err := c.Meta().ListDisks(context.Background(), &metapb.ListDisksRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range resp.Disks {
		if d.Server == fmt.Sprintf("c%d", server) && d.State == metapb.DiskState_DISK_STATE_ACTIVE {
			return d.Id
		}
	}
	t.Fatalf("no active disk on c%d", server)
	return ""
}

func diskStateOf(t *testing.T, c *cluster.Cluster, id string) metapb.DiskState {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	resp, err := c.Meta().ListDisks(ctx, &metapb.ListDisksRequest{})
	if err != nil {
		return metapb.DiskState_DISK_STATE_UNSPECIFIED
	}
	for _, d := range resp.Disks {
		if d.Id == id {
			return d.State
		}
	}
	return metapb.DiskState_DISK_STATE_UNSPECIFIED
}
