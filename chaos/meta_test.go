package chaos

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/wolke-cloud/wolke/cluster"
)

// TestMetaLeaderLoss runs three meta nodes under a mixed load, stops the
// leader again and again (short: 3 trials, long: 20), and measures how
// long the S3 endpoint cannot commit: from StopMeta(leader) to the next
// successful PUT. The old leader comes back as a follower each time.
// Everything acknowledged must read back at the end.
func TestMetaLeaderLoss(t *testing.T) {
	c := cluster.Start(t, cluster.Options{MetaNodes: 3})
	mc := s3Client(t, c)
	ctx := context.Background()
	if err := mc.MakeBucket(ctx, "chaos", minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	led := NewLedger()
	lctx, stop := context.WithCancel(ctx)
	done := make(chan Stats, 1)
	go func() {
		done <- Load(lctx, mc, "chaos", led, LoadConfig{Workers: 1, Ops: 100000, Keys: 64, Duration: 10 * time.Minute,
			MaxSize: 256 << 10, Prefix: "bg/", OpTimeout: 5 * time.Second})
	}()
	trials := pick(3, 20)
	var gaps []time.Duration
	for n := range trials {
		leader := waitLeader(t, c, 20*time.Second)
		if err := c.StopMeta(leader); err != nil {
			t.Fatal(err)
		}
		stopped := time.Now()
		key := fmt.Sprintf("probe/%d", n)
		data := []byte(key)
		for attempt := 0; ; attempt++ {
			pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			_, err := mc.PutObject(pctx, "chaos", key, bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{DisableMultipart: true})
			cancel()
			led.Put(key, int64(len(data)), sha256.Sum256(data), err)
			if err == nil {
				break
			}
			if time.Since(stopped) > 30*time.Second {
				t.Fatalf("trial %d: no write succeeded within 30s of stopping leader m%d: %v", n, leader, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
		gap := time.Since(stopped)
		gaps = append(gaps, gap)
		if err := c.StartMeta(ctx, leader, false); err != nil {
			t.Fatalf("restart m%d: %v", leader, err)
		}
		t.Logf("trial %d: leader m%d stopped, next write after %v", n, leader, gap.Round(time.Millisecond))
		time.Sleep(pick(500*time.Millisecond, time.Second)) // let it catch up before the next kill
	}
	stop()
	t.Logf("load: %v", <-done)
	t.Logf("meta unavailability over %d leader losses: p50 %v, max %v (all: %s)", trials,
		percentile(gaps, 0.5).Round(time.Millisecond), percentile(gaps, 1).Round(time.Millisecond), durs(gaps))
	verify(t, mc, "chaos", led)
}
