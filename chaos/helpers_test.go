package chaos

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/wolke-cloud/wolke/cluster"
	"github.com/wolke-cloud/wolke/meta/metapb"
)

// long reports whether CHAOS=long asks for the long suite.
func long() bool { return os.Getenv("CHAOS") == "long" }

// pick chooses the short or the long value.
func pick[T any](short, lng T) T {
	if long() {
		return lng
	}
	return short
}

func s3Client(t testing.TB, c *cluster.Cluster) *minio.Client {
	t.Helper()
	u, err := url.Parse(c.S3Endpoint())
	if err != nil {
		t.Fatal(err)
	}
	root := c.Root()
	mc, err := minio.New(u.Host, &minio.Options{
		Creds:        credentials.NewStaticV4(root.AccessKey, root.SecretKey, ""),
		Region:       "us-east-1",
		BucketLookup: minio.BucketLookupPath,
		MaxRetries:   1,
	})
	if err != nil {
		t.Fatal(err)
	}
	return mc
}

// verify reads back every object of the ledger and fails the test on any
// lost, corrupt or resurrected object.
func verify(t *testing.T, mc *minio.Client, bucket string, led *Ledger) Report {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	r, err := led.Verify(ctx, mc, bucket)
	if err != nil {
		t.Fatal(err)
	}
	puts, dels, failed := led.Counts()
	t.Logf("verify: %d objects read and equal (%d MB), %d deleted keys absent, %d uncertain; ledger: %d acked PUTs, %d acked DELETEs, %d failed ops",
		r.Checked, r.Bytes/1e6, r.Absent, r.Uncertain, puts, dels, failed)
	for _, p := range append(r.Problems, led.Problems()...) {
		t.Error(p)
	}
	if r.Checked == 0 {
		t.Error("no acknowledged object to check: the load did nothing")
	}
	return r
}

// metaLeader is the index of the meta node that leads now, from Members.
func metaLeader(ctx context.Context, c *cluster.Cluster) (int, error) {
	resp, err := c.Meta().Members(ctx, &metapb.MembersRequest{})
	if err != nil {
		return -1, err
	}
	for _, m := range resp.Members {
		if m.Leader {
			var i int
			if _, err := fmt.Sscanf(m.Id, "m%d", &i); err != nil {
				return -1, err
			}
			return i, nil
		}
	}
	return -1, fmt.Errorf("no leader among %d members", len(resp.Members))
}

// waitLeader polls until a meta leader is known, for at most d.
func waitLeader(t *testing.T, c *cluster.Cluster, d time.Duration) int {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		i, err := metaLeader(ctx, c)
		cancel()
		if err == nil {
			return i
		}
		if time.Now().After(deadline) {
			t.Fatalf("no meta leader after %v: %v", d, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// percentile of sorted durations, p in [0, 1].
func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[int(p*float64(len(s)-1)+0.5)]
}

func durs(d []time.Duration) string {
	var b strings.Builder
	for i, x := range d {
		if i > 0 {
			b.WriteString(" ")
		}
		b.WriteString(x.Round(time.Millisecond).String())
	}
	return b.String()
}
