package core

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/meta/metapb"
)

func TestRanges(t *testing.T) {
	e := newEnv(t, testConfig(), 6)
	data := payload(9, 3*testStripe+100)
	obj := e.put("k", data)
	size := int64(len(data))
	offsets := []int64{0, 1, testShard - 1, testShard, testShard + 1, testStripe - 1, testStripe, testStripe + 1,
		2*testStripe + 3*testShard, size - 1, size}
	lengths := []int64{0, 1, 2, testShard, testStripe + 1, size, -1}
	for _, off := range offsets {
		for _, n := range lengths {
			want := data[off:]
			if n >= 0 && n < int64(len(want)) {
				want = want[:n]
			}
			got, err := e.read(obj, off, n)
			if err != nil {
				t.Fatalf("read(%d, %d): %v", off, n, err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("read(%d, %d) = %d bytes, want %d", off, n, len(got), len(want))
			}
		}
	}
	for _, off := range []int64{-1, size + 1} {
		if _, err := e.s.OpenObject(context.Background(), obj, off, 1); !errs.Is(err, errs.Invalid) {
			t.Fatalf("OpenObject at %d: %v, want invalid", off, err)
		}
	}
}

func TestRangeReadsOnlyNeededShards(t *testing.T) {
	e := newEnv(t, testConfig(), 6)
	obj := e.put("k", payload(1, 4*testStripe))
	cases := []struct {
		off, n int64
		reads  int
	}{
		{0, 1, 1},
		{testShard - 1, 2, 2},
		{testStripe + 2*testShard, testShard, 1},
		{testStripe - 1, 2, 2}, // last shard of one stripe, first of the next
		{0, testStripe, testK},
	}
	for _, c := range cases {
		before := e.shards.Ops("ReadShard")
		if _, err := e.read(obj, c.off, c.n); err != nil {
			t.Fatal(err)
		}
		if got := e.shards.Ops("ReadShard") - before; got != c.reads {
			t.Fatalf("read(%d, %d) read %d shards, want %d", c.off, c.n, got, c.reads)
		}
	}
}

func TestDegradedReads(t *testing.T) {
	type fault func(e *env, st *metapb.Stripe, i int)
	down := func(e *env, st *metapb.Stripe, i int) { e.shards.SetDown(e.disk(st, i), true) }
	flip := func(e *env, st *metapb.Stripe, i int) { e.shards.FlipByte(e.disk(st, i), ChunkID(st.GetId(), i)) }
	corrupt := func(e *env, st *metapb.Stripe, i int) { e.shards.Corrupt(e.disk(st, i), ChunkID(st.GetId(), i)) }
	lose := func(e *env, st *metapb.Stripe, i int) { e.shards.Lose(e.disk(st, i), ChunkID(st.GetId(), i)) }
	cases := []struct {
		name   string
		fault  fault
		shards []int
		kind   string // shard error label
		ok     bool
	}{
		{"two disks down", down, []int{0, 2}, "unavailable", true},
		{"data and parity down", down, []int{3, 5}, "unavailable", true},
		{"two shards bit-rotted", flip, []int{1, 3}, "checksum", true},
		{"two shards caught corrupt", corrupt, []int{0, 1}, "corrupt", true},
		{"two shards lost", lose, []int{2, 3}, "not_found", true},
		{"three disks down", down, []int{0, 1, 4}, "unavailable", false},
		{"three shards rotted", flip, []int{0, 4, 5}, "checksum", false},
		{"three shards lost", lose, []int{1, 2, 3}, "not_found", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, testConfig(), 6)
			data := payload(5, 2*testStripe+testShard+7)
			obj := e.put("k", data)
			for _, st := range obj.GetStripes() {
				for _, i := range c.shards {
					c.fault(e, st, i)
				}
			}
			got, err := e.read(obj, 0, -1)
			if !c.ok {
				if !errs.Is(err, errs.Unavailable) {
					t.Fatalf("read error %v, want unavailable", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, data) {
				t.Fatal("degraded read returned wrong data")
			}
			dataShardHit := false
			for _, i := range c.shards {
				dataShardHit = dataShardHit || i < testK
			}
			if dataShardHit && e.metric("wolke_core_degraded_reads_total") != float64(len(obj.GetStripes())) {
				t.Fatalf("degraded reads = %v, want %d", e.metric("wolke_core_degraded_reads_total"), len(obj.GetStripes()))
			}
			if dataShardHit && e.metric("wolke_core_shard_errors_total", "op", "read", "kind", c.kind) == 0 {
				t.Fatalf("shard errors of kind %s not counted", c.kind)
			}
			// A range inside one damaged shard is rebuilt too.
			off := int64(c.shards[0]%testK)*testShard + 5
			got, err = e.read(obj, off, 10)
			if err != nil || !bytes.Equal(got, data[off:off+10]) {
				t.Fatalf("range read in a damaged shard: %v", err)
			}
		})
	}
}

func TestHedgedRead(t *testing.T) {
	cfg := testConfig()
	cfg.HedgeAfter = 10 * time.Millisecond
	e := newEnv(t, cfg, 6)
	data := payload(4, testStripe)
	obj := e.put("k", data)
	e.shards.SetSlow(e.disk(obj.GetStripes()[0], 1), time.Hour)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	r, err := e.s.OpenObject(ctx, obj, 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	r.Close()
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("hedged read: %v", err)
	}
	if e.metric("wolke_core_hedged_reads_total") != 1 {
		t.Fatal("hedge not counted")
	}
}

func TestSlowDiskDoesNotStallPut(t *testing.T) {
	e := newEnv(t, testConfig(), 6) // StragglerWait 20ms
	e.shards.SetSlow(e.disks[2], time.Hour)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	data := payload(8, 2*testStripe)
	obj, err := e.s.PutObject(ctx, &metapb.Object{Bucket: testBucket, Key: "k"}, bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	e.shards.SetSlow(e.disks[2], 0)
	got, err := e.read(obj, 0, -1)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read after a straggling write: %v", err)
	}
}

func TestReadSeesReplacedDisk(t *testing.T) {
	e := newEnv(t, testConfig(), 7) // disk06 is spare
	data := payload(2, testStripe)
	obj := e.put("k", data)
	st := obj.GetStripes()[0]
	if _, err := e.read(obj, 0, -1); err != nil { // caches the group
		t.Fatal(err)
	}
	lists := e.meta.Calls("ListPlacementGroups")
	// Repair moves shard 0 to the spare disk; the store's cache is stale.
	chunk := ChunkID(st.GetId(), 0)
	shard, err := e.shards.ReadShard(context.Background(), "disk00", chunk)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.shards.WriteShard(context.Background(), "disk06", chunk, shard); err != nil {
		t.Fatal(err)
	}
	if _, err := e.meta.ReplaceDisk(context.Background(), &metapb.ReplaceDiskRequest{PlacementGroup: st.GetPlacementGroup(), OldDisk: "disk00", NewDisk: "disk06"}); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"disk00", "disk01", "disk02"} {
		e.shards.SetDown(d, true)
	}
	e.s.groups.now = func() time.Time { return time.Now().Add(minRelist) } // past the reload rate limit
	got, err := e.read(obj, 0, -1)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read after disk replacement: %v", err)
	}
	if e.meta.Calls("ListPlacementGroups") != lists+1 {
		t.Fatal("placement groups not reloaded after failed shard reads")
	}
}

func TestReaderCloseEarly(t *testing.T) {
	e := newEnv(t, testConfig(), 6)
	obj := e.put("k", payload(1, 5*testStripe))
	for _, n := range []int{0, 1, testStripe + 3} {
		r, err := e.s.OpenObject(context.Background(), obj, 0, -1)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(r, make([]byte, n)); err != nil {
			t.Fatal(err)
		}
		if err := r.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := r.Read(make([]byte, 1)); err == nil {
			t.Fatal("read after close succeeded")
		}
	}
}

func TestReaderCanceledIsNotEOF(t *testing.T) {
	e := newEnv(t, testConfig(), 6)
	obj := e.put("k", payload(1, 5*testStripe))
	ctx, cancel := context.WithCancel(context.Background())
	r, err := e.s.OpenObject(ctx, obj, 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := io.ReadFull(r, make([]byte, 10)); err != nil {
		t.Fatal(err)
	}
	cancel()
	_, err = io.ReadAll(r)
	if !errs.Is(err, errs.Canceled) {
		t.Fatalf("ReadAll after cancel: %v, want canceled", err)
	}
}

func TestSegments(t *testing.T) {
	obj := &metapb.Object{Size: 30, Stripes: []*metapb.Stripe{{Size: 10}, {Size: 5}, {Size: 15}}}
	cases := []struct {
		off, end int64
		want     string
	}{
		{0, 30, "[0,10) [0,5) [0,15)"},
		{9, 11, "[9,10) [0,1)"},
		{10, 15, "[0,5)"},
		{14, 16, "[4,5) [0,1)"},
		{29, 30, "[14,15)"},
		{30, 30, ""},
	}
	for _, c := range cases {
		segs, err := segments(obj, c.off, c.end)
		if err != nil {
			t.Fatal(err)
		}
		got := ""
		for i, s := range segs {
			if i > 0 {
				got += " "
			}
			got += fmt.Sprintf("[%d,%d)", s.lo, s.hi)
		}
		if got != c.want {
			t.Errorf("segments(%d, %d) = %q, want %q", c.off, c.end, got, c.want)
		}
	}
	if _, err := segments(&metapb.Object{Size: 31, Stripes: obj.GetStripes()}, 0, 31); !errs.Is(err, errs.Internal) {
		t.Fatalf("size mismatch: %v", err)
	}
}
