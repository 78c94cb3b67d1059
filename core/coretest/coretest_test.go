package coretest

import (
	"context"
	"strings"
	"testing"

	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/meta/metapb"
)

func TestShardsContract(t *testing.T) {
	RunShardsSuite(t, func(*testing.T) ShardStore { return NewShards() }, "a", "b")
}

func TestShardFaults(t *testing.T) {
	ctx := context.Background()
	s := NewShards()
	for _, c := range []string{"x.0", "x.1", "x.2"} {
		if err := s.WriteShard(ctx, "d", c, []byte("data")); err != nil {
			t.Fatal(err)
		}
	}
	s.FlipByte("d", "x.0")
	s.Corrupt("d", "x.1")
	s.Lose("d", "x.2")
	if b, err := s.ReadShard(ctx, "d", "x.0"); err != nil || string(b) == "data" {
		t.Fatalf("flipped shard: %q %v", b, err)
	}
	if _, err := s.ReadShard(ctx, "d", "x.1"); !errs.Is(err, errs.Corrupt) {
		t.Fatalf("corrupt shard: %v", err)
	}
	if _, err := s.ReadShard(ctx, "d", "x.2"); !errs.Is(err, errs.NotFound) {
		t.Fatalf("lost shard: %v", err)
	}
	s.SetDown("d", true)
	if _, err := s.ReadShard(ctx, "d", "x.0"); !errs.Is(err, errs.Unavailable) {
		t.Fatalf("down disk: %v", err)
	}
}

func TestListObjects(t *testing.T) {
	ctx := context.Background()
	m := NewMeta()
	if _, err := m.CreateBucket(ctx, &metapb.CreateBucketRequest{Bucket: &metapb.Bucket{Name: "b"}}); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"a", "d/1", "d/2", "e/x/1", "f", "g"} {
		if _, err := m.PutObject(ctx, &metapb.PutObjectRequest{Object: &metapb.Object{Bucket: "b", Key: k}}); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		req  *metapb.ListObjectsRequest
		want string // keys and prefixes in order, "|" when truncated
	}{
		{&metapb.ListObjectsRequest{}, "a d/1 d/2 e/x/1 f g"},
		{&metapb.ListObjectsRequest{Delimiter: "/"}, "a d/ e/ f g"},
		{&metapb.ListObjectsRequest{Delimiter: "/", MaxKeys: 2}, "a d/ |"},
		{&metapb.ListObjectsRequest{Delimiter: "/", StartAfter: "d/"}, "e/ f g"},
		{&metapb.ListObjectsRequest{Prefix: "e/", Delimiter: "/"}, "e/x/"},
		{&metapb.ListObjectsRequest{StartAfter: "d/1", MaxKeys: 1}, "d/2 |"},
	}
	for _, c := range cases {
		c.req.Bucket = "b"
		resp, err := m.ListObjects(ctx, c.req)
		if err != nil {
			t.Fatal(err)
		}
		// Objects and prefixes interleave in key order; rebuild that order.
		var got []string
		oi, pi := 0, 0
		for oi < len(resp.GetObjects()) || pi < len(resp.GetCommonPrefixes()) {
			if pi == len(resp.GetCommonPrefixes()) || oi < len(resp.GetObjects()) && resp.GetObjects()[oi].GetKey() < resp.GetCommonPrefixes()[pi] {
				got = append(got, resp.GetObjects()[oi].GetKey())
				oi++
			} else {
				got = append(got, resp.GetCommonPrefixes()[pi])
				pi++
			}
		}
		if resp.GetTruncated() {
			got = append(got, "|")
		}
		if s := strings.Join(got, " "); s != c.want {
			t.Errorf("ListObjects(%v) = %q, want %q", c.req, s, c.want)
		}
	}
}
