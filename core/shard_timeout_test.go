package core

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/meta/metapb"
)

// TestShardWriteTimeout: chunk servers that hang (cut off without an
// answer) fail a PUT Unavailable within ShardWriteTimeout, with nothing
// committed, instead of holding it as long as the client waits.
func TestShardWriteTimeout(t *testing.T) {
	cfg := testConfig()
	cfg.ShardWriteTimeout = 100 * time.Millisecond
	e := newEnv(t, cfg, 6)
	for _, d := range e.disks[:3] { // 3 of 6 hang: the quorum of 4 is out of reach
		e.shards.SetSlow(d, time.Hour)
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	data := payload(9, 2*testStripe)
	_, err := e.s.PutObject(ctx, &metapb.Object{Bucket: testBucket, Key: "k"}, bytes.NewReader(data), int64(len(data)))
	if !errs.Is(err, errs.Unavailable) {
		t.Fatalf("PUT to hanging disks: %v, want Unavailable", err)
	}
	t.Logf("PUT failed after %v", time.Since(start))
	if _, err := e.s.HeadObject(ctx, testBucket, "k", ""); !errs.Is(err, errs.NotFound) {
		t.Fatalf("after the failed PUT: %v, want NotFound", err)
	}
	if e.metric("wolke_core_shard_write_timeouts_total") == 0 {
		t.Fatal("no shard write timeout counted")
	}
}

// TestReadSkipsHangingShard: a GET reads around a shard whose disk hangs,
// from k others, without waiting for it.
func TestReadSkipsHangingShard(t *testing.T) {
	cfg := testConfig()
	cfg.HedgeAfter = 20 * time.Millisecond
	e := newEnv(t, cfg, 6)
	data := payload(10, 3*testStripe)
	obj := e.put("k", data)
	e.shards.SetSlow(e.disk(obj.GetStripes()[0], 0), time.Hour)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	r, err := e.s.OpenObject(ctx, obj, 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got := new(bytes.Buffer)
	if _, err := got.ReadFrom(r); err != nil || !bytes.Equal(got.Bytes(), data) {
		t.Fatalf("read around a hanging shard: %v", err)
	}
}
