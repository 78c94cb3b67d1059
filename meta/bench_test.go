package meta

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wolke-cloud/wolke/meta/metapb"
)

// BenchmarkPutObject runs 1 and 64 concurrent PutObject callers through
// metaclient against a single node: raft batches concurrent proposals,
// so they share the log's fsync.
func BenchmarkPutObject(b *testing.B) {
	for _, w := range []int{1, 64} {
		b.Run(fmt.Sprintf("writers=%d", w), func(b *testing.B) { benchPut(b, w) })
	}
}

func benchPut(b *testing.B, writers int) {
	n := startNode(b, "n1", b.TempDir(), "", true)
	waitLeader(b, n)
	c := dial(b, n)
	ctx := tctx(b)
	if _, err := c.CreateBucket(ctx, &metapb.CreateBucketRequest{Bucket: &metapb.Bucket{Name: "bk"}}); err != nil {
		b.Fatal(err)
	}
	var next atomic.Int64
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1)
				if i > int64(b.N) {
					return
				}
				o := &metapb.Object{Bucket: "bk", Key: fmt.Sprintf("k%09d", i), Etag: `"e"`, Size: 1,
					Stripes: []*metapb.Stripe{{Id: make([]byte, 16), PlacementGroup: 1, Size: 1, ShardSize: 1, ShardCrc32C: make([]uint32, 6)}}}
				if _, err := c.PutObject(ctx, &metapb.PutObjectRequest{Object: o}); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "ops/s")
}
