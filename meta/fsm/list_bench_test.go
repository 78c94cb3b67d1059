package fsm

import (
	"fmt"
	"testing"

	"github.com/hashicorp/raft"
	"github.com/wolke-cloud/wolke/meta/metapb"
	"google.golang.org/protobuf/proto"
)

// BenchmarkListObjects100k lists a bucket of 100,000 keys (each a 1 MiB
// object of one 4+2 stripe, as the gateway stores them) from start to end
// in pages of 1000, as ListObjectsV2 does; keys/s is the figure to watch.
func BenchmarkListObjects100k(b *testing.B) {
	const keys = 100_000
	f, err := Open(b.TempDir(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	var idx uint64
	apply := func(op Op, req proto.Message) {
		idx++
		data, err := (&Command{Op: op, Now: int64(idx), ID: fmt.Sprintf("id%08d", idx), Req: req}).Encode()
		if err != nil {
			b.Fatal(err)
		}
		if _, err := result(f.Apply(&raft.Log{Index: idx, Type: raft.LogCommand, Data: data})); err != nil {
			b.Fatal(err)
		}
	}
	apply(OpCreateBucket, &metapb.CreateBucketRequest{Bucket: &metapb.Bucket{Name: "bk"}})
	for i := range keys {
		apply(OpPutObject, &metapb.PutObjectRequest{Object: &metapb.Object{
			Bucket: "bk", Key: fmt.Sprintf("data/%03d/obj-%08d", i%500, i), Etag: `"0123456789abcdef0123456789abcdef"`,
			VersionId: "null", Size: 1 << 20, ContentType: "binary/octet-stream", EcData: 4, EcParity: 2,
			Stripes: []*metapb.Stripe{{Id: make([]byte, 16), PlacementGroup: 7, Size: 1 << 20, ShardSize: 1 << 18,
				ShardCrc32C: []uint32{1, 2, 3, 4, 5, 6}}},
		}})
	}
	b.ResetTimer()
	for b.Loop() {
		n, after := 0, ""
		for {
			resp, err := f.ListObjects(ctx, &metapb.ListObjectsRequest{Bucket: "bk", StartAfter: after, MaxKeys: 1000})
			if err != nil {
				b.Fatal(err)
			}
			n += len(resp.Objects)
			if !resp.Truncated {
				break
			}
			after = resp.NextStartAfter
		}
		if n != keys {
			b.Fatalf("listed %d keys, want %d", n, keys)
		}
	}
	b.ReportMetric(float64(keys*b.N)/b.Elapsed().Seconds(), "keys/s")
}
