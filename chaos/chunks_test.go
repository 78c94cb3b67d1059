package chaos

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/wolke-cloud/wolke/cluster"
)

// TestChunkServersKilled stops two random chunk servers at a time (4+2
// survives two) while a mixed load runs, brings them back, and at the end
// reads every acknowledged object.
func TestChunkServersKilled(t *testing.T) {
	c := cluster.Start(t, cluster.Options{})
	mc := s3Client(t, c)
	ctx := context.Background()
	if err := mc.MakeBucket(ctx, "chaos", minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	led := NewLedger()
	rounds := pick(2, 6)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	for r := range rounds {
		lctx, stop := context.WithCancel(ctx)
		done := make(chan Stats, 1)
		go func() {
			done <- Load(lctx, mc, "chaos", led, LoadConfig{Workers: 2, Ops: 2000, Keys: 64, Duration: pick(10*time.Second, 30*time.Second),
				MaxSize: pick[int64](2<<20, 8<<20), MultipartPct: pick(5, 10), Seed: uint64(r)})
		}()
		time.Sleep(500 * time.Millisecond)
		a := rng.IntN(6)
		b := (a + 1 + rng.IntN(5)) % 6
		for _, i := range []int{a, b} {
			if err := c.StopChunk(i); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(pick(time.Second, 4*time.Second))
		for _, i := range []int{a, b} {
			if err := c.StartChunk(ctx, i); err != nil {
				t.Fatalf("restart chunk %d: %v", i, err)
			}
		}
		time.Sleep(500 * time.Millisecond)
		stop()
		st := <-done
		t.Logf("round %d: chunk servers c%d and c%d down for a while: %v", r, a, b, st)
	}
	verify(t, mc, "chaos", led)
}
