package core

import (
	"context"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wolke-cloud/wolke/core/coretest"
	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/meta/metapb"
)

func TestChunkID(t *testing.T) {
	cases := []struct {
		id    []byte
		shard int
		want  string
	}{
		{[]byte{0x00, 0xab}, 0, "00ab.0"},
		{[]byte{0xff}, 5, "ff.5"},
		{[]byte{1, 2, 3}, 12, "010203.12"},
	}
	for _, c := range cases {
		if got := ChunkID(c.id, c.shard); got != c.want {
			t.Errorf("ChunkID(%x, %d) = %q, want %q", c.id, c.shard, got, c.want)
		}
	}
}

func TestConfig(t *testing.T) {
	cases := []struct {
		name   string
		cfg    Config
		ok     bool
		quorum int
	}{
		{"defaults", Config{}, true, 4},
		{"k == m needs k+1", Config{DataShards: 3, ParityShards: 3}, true, 4},
		{"8+3", Config{DataShards: 8, ParityShards: 3}, true, 8},
		{"explicit quorum", Config{WriteQuorum: 6}, true, 6},
		{"quorum below k", Config{WriteQuorum: 3}, false, 0},
		{"quorum above k+m", Config{WriteQuorum: 7}, false, 0},
		{"no data shards", Config{DataShards: -1}, false, 0},
		{"no parity", Config{ParityShards: -1}, false, 0},
		{"too wide", Config{DataShards: 200, ParityShards: 100}, false, 0},
		{"bad shard size", Config{ShardSize: -1}, false, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := c.cfg
			cfg.SetDefaults()
			err := cfg.Validate()
			if (err == nil) != c.ok {
				t.Fatalf("Validate() = %v", err)
			}
			if err != nil && !errs.Is(err, errs.Invalid) {
				t.Fatalf("error kind %v", errs.KindOf(err))
			}
			if c.ok && cfg.WriteQuorum != c.quorum {
				t.Fatalf("quorum %d, want %d", cfg.WriteQuorum, c.quorum)
			}
		})
	}
	if _, err := New(Config{}, Deps{}); !errs.Is(err, errs.Invalid) {
		t.Fatalf("New without deps: %v", err)
	}
	reg := prometheus.NewRegistry()
	deps := Deps{Meta: coretest.NewMeta(), Shards: coretest.NewShards(), Registry: reg}
	s, err := New(Config{}, deps)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := New(Config{}, deps); err == nil {
		t.Fatal("registering the metrics twice succeeded")
	}
}

func TestBucketsAndListing(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, testConfig(), 6)
	if err := e.s.CreateBucket(ctx, &metapb.Bucket{Name: testBucket}); !errs.Is(err, errs.Exists) {
		t.Fatalf("CreateBucket twice: %v", err)
	}
	if err := e.s.CreateBucket(ctx, &metapb.Bucket{Name: "c", EcData: 2, EcParity: 1}); err != nil {
		t.Fatal(err)
	}
	b, err := e.s.GetBucket(ctx, "c")
	if err != nil || b.GetCreatedUnixNano() == 0 {
		t.Fatalf("GetBucket: %v %v", b, err)
	}
	bs, err := e.s.ListBuckets(ctx)
	if err != nil || len(bs) != 2 {
		t.Fatalf("ListBuckets: %v %v", bs, err)
	}
	// The bucket's erasure code applies to its new objects.
	obj, err := e.s.PutObject(ctx, &metapb.Object{Bucket: "c", Key: "k"}, strings.NewReader(strings.Repeat("x", testStripe)), -1)
	if err != nil {
		t.Fatal(err)
	}
	if obj.GetEcData() != 2 || obj.GetEcParity() != 1 || len(obj.GetStripes()[0].GetShardCrc32C()) != 3 {
		t.Fatalf("object code %d+%d", obj.GetEcData(), obj.GetEcParity())
	}
	got, err := e.read(obj, 0, -1)
	if err != nil || string(got) != strings.Repeat("x", testStripe) {
		t.Fatalf("read 2+1 object: %v", err)
	}
	if err := e.s.DeleteBucket(ctx, "c"); !errs.Is(err, errs.Precondition) {
		t.Fatalf("DeleteBucket non-empty: %v", err)
	}
	for _, k := range []string{"a/1", "a/2", "b", "c/x/y"} {
		e.put(k, []byte(k))
	}
	resp, err := e.s.ListObjects(ctx, &metapb.ListObjectsRequest{Bucket: testBucket, Delimiter: "/"})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.GetObjects()) != 1 || resp.GetObjects()[0].GetKey() != "b" || strings.Join(resp.GetCommonPrefixes(), ",") != "a/,c/" {
		t.Fatalf("ListObjects: %v", resp)
	}
	if err := e.s.DeleteObject(ctx, "c", "k", ""); err != nil {
		t.Fatal(err)
	}
	if err := e.s.DeleteBucket(ctx, "c"); err != nil {
		t.Fatal(err)
	}
}
