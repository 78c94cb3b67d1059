package gateway

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/wolke-cloud/wolke/meta/metapb"
)

// TestBucketCache: records are kept for the TTL, dropped by invalidate,
// and a read that raced an invalidation is not kept.
func TestBucketCache(t *testing.T) {
	now := time.Unix(1000, 0)
	c := newBucketCache(time.Second, func() time.Time { return now })
	reads := 0
	read := func(ctx context.Context, name string) (*metapb.Bucket, error) {
		reads++
		if name == "missing" {
			return nil, errors.New("no such bucket")
		}
		return &metapb.Bucket{Name: name, Versioning: "v" + string(rune('0'+reads))}, nil
	}
	ctx := context.Background()
	get := func(name string) *metapb.Bucket {
		t.Helper()
		b, err := c.get(ctx, name, read)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	if b := get("b"); b.GetVersioning() != "v1" || reads != 1 {
		t.Fatalf("first read: %v, %d reads", b, reads)
	}
	if b := get("b"); b.GetVersioning() != "v1" || reads != 1 {
		t.Errorf("within the TTL: %v, %d reads", b, reads)
	}
	now = now.Add(time.Second)
	if b := get("b"); b.GetVersioning() != "v2" || reads != 2 {
		t.Errorf("after the TTL: %v, %d reads", b, reads)
	}
	c.invalidate("b")
	if b := get("b"); b.GetVersioning() != "v3" || reads != 3 {
		t.Errorf("after invalidate: %v, %d reads", b, reads)
	}
	if _, err := c.get(ctx, "missing", read); err == nil {
		t.Error("an error was not returned")
	}
	if _, err := c.get(ctx, "missing", read); err == nil || reads != 5 {
		t.Errorf("an error was cached: %d reads", reads)
	}
	racing := func(ctx context.Context, name string) (*metapb.Bucket, error) {
		c.invalidate(name) // a config write lands while the read is in flight
		return read(ctx, name)
	}
	c.invalidate("r")
	if _, err := c.get(ctx, "r", racing); err != nil {
		t.Fatal(err)
	}
	if _, ok := c.entries["r"]; ok {
		t.Error("a read that raced an invalidation was kept")
	}
}
