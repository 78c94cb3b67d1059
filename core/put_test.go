package core

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/meta/metapb"
)

func TestRoundTrip(t *testing.T) {
	cases := []struct {
		name    string
		size    int
		stripes int // 0: inline
	}{
		{"empty", 0, 0},
		{"one byte", 1, 0},
		{"inline max - 1", testInline - 1, 0},
		{"inline max", testInline, 1},
		{"stripe - 1", testStripe - 1, 1},
		{"stripe", testStripe, 1},
		{"stripe + 1", testStripe + 1, 2},
		{"several stripes", 3*testStripe + 17, 4},
	}
	e := newEnv(t, testConfig(), 6)
	for _, c := range cases {
		for _, known := range []bool{true, false} {
			name := c.name + map[bool]string{true: "/known size", false: "/unknown size"}[known]
			t.Run(name, func(t *testing.T) {
				data := payload(uint64(c.size), c.size)
				size := int64(len(data))
				var body io.Reader = bytes.NewReader(data)
				if !known {
					size = -1
					body = oneByteReader{body}
				}
				obj, err := e.s.PutObject(context.Background(), &metapb.Object{Bucket: testBucket, Key: name, ContentType: "x/y"}, body, size)
				if err != nil {
					t.Fatal(err)
				}
				if obj.GetSize() != int64(c.size) || obj.GetEtag() != etagOf(data) || obj.GetContentType() != "x/y" {
					t.Fatalf("manifest size %d etag %s type %q, want %d %s", obj.GetSize(), obj.GetEtag(), obj.GetContentType(), c.size, etagOf(data))
				}
				if got := len(obj.GetStripes()); got != c.stripes {
					t.Fatalf("%d stripes, want %d", got, c.stripes)
				}
				if inline := c.stripes == 0; inline != (obj.GetInline() != nil || c.size == 0) {
					t.Fatalf("inline = %v, want %v", !inline, inline)
				}
				for _, st := range obj.GetStripes() {
					if len(st.GetShardCrc32C()) != testK+testM || st.GetShardSize() > testShard {
						t.Fatalf("stripe has %d crcs and shard size %d", len(st.GetShardCrc32C()), st.GetShardSize())
					}
				}
				got, err := e.read(e.head(name), 0, -1)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, data) {
					t.Fatalf("read back %d bytes differing from the %d written", len(got), len(data))
				}
			})
		}
	}
	if e.metric("wolke_core_degraded_reads_total") != 0 {
		t.Fatal("healthy reads counted as degraded")
	}
	if e.metric("wolke_core_stripes_written_total") == 0 || e.metric("wolke_core_put_bytes_total") == 0 {
		t.Fatal("put metrics not counted")
	}
}

func TestPutBodyErrors(t *testing.T) {
	boom := errs.E("checksum", errs.Invalid, "bad content-md5")
	plain := errors.New("connection reset")
	data := payload(7, 2*testStripe+100)
	cases := []struct {
		name string
		body io.Reader
		size int64
		want func(error) bool
	}{
		{"short body", bytes.NewReader(data[:len(data)-1]), int64(len(data)), func(err error) bool { return errs.Is(err, errs.Invalid) }},
		{"long body", bytes.NewReader(data), int64(len(data) - 1), func(err error) bool { return errs.Is(err, errs.Invalid) }},
		{"short inline body", bytes.NewReader(data[:10]), 11, func(err error) bool { return errs.Is(err, errs.Invalid) }},
		{"long inline body", bytes.NewReader(data[:12]), 11, func(err error) bool { return errs.Is(err, errs.Invalid) }},
		{"checksum fails at EOF, known size", &failingReader{bytes.NewReader(data), boom}, int64(len(data)), func(err error) bool { return errors.Is(err, boom) }},
		{"checksum fails at EOF, unknown size", &failingReader{bytes.NewReader(data), boom}, -1, func(err error) bool { return errors.Is(err, boom) }},
		{"checksum fails at EOF, inline", &failingReader{bytes.NewReader(data[:5]), boom}, 5, func(err error) bool { return errors.Is(err, boom) }},
		{"reader breaks mid stripe", io.MultiReader(bytes.NewReader(data[:testStripe+5]), &failingReader{bytes.NewReader(nil), plain}), -1,
			func(err error) bool { return errors.Is(err, plain) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, testConfig(), 6)
			_, err := e.s.PutObject(context.Background(), &metapb.Object{Bucket: testBucket, Key: "k"}, c.body, c.size)
			if err == nil || !c.want(err) {
				t.Fatalf("PutObject error = %v", err)
			}
			if n := e.meta.Calls("PutObject"); n != 0 {
				t.Fatalf("meta PutObject called %d times", n)
			}
			if left := e.shards.Chunks(); len(left) != 0 {
				t.Fatalf("shards left behind: %v", left)
			}
		})
	}
}

func TestPutQuorum(t *testing.T) {
	cases := []struct {
		name  string
		k, m  int
		down  int
		fails bool
	}{
		{"4+2, 2 down", 4, 2, 2, false},
		{"4+2, k-1 reachable", 4, 2, 3, true},
		{"2+2 needs k+1, 1 down", 2, 2, 1, false},
		{"2+2 needs k+1, 2 down", 2, 2, 2, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.DataShards, cfg.ParityShards = c.k, c.m
			e := newEnv(t, cfg, c.k+c.m)
			for _, d := range e.disks[:c.down] {
				e.shards.SetDown(d, true)
			}
			data := payload(3, 3*testStripe)
			_, err := e.s.PutObject(context.Background(), &metapb.Object{Bucket: testBucket, Key: "k"}, bytes.NewReader(data), int64(len(data)))
			if !c.fails {
				if err != nil {
					t.Fatal(err)
				}
				got, err := e.read(e.head("k"), 0, -1)
				if err != nil || !bytes.Equal(got, data) {
					t.Fatalf("read back: %v", err)
				}
				return
			}
			if !errs.Is(err, errs.Unavailable) {
				t.Fatalf("PutObject error = %v, want unavailable", err)
			}
			if n := e.meta.Calls("PutObject"); n != 0 {
				t.Fatalf("meta PutObject called %d times", n)
			}
			if left := e.shards.Chunks(); len(left) != 0 {
				t.Fatalf("shards left behind: %v", left)
			}
			if e.metric("wolke_core_shard_errors_total", "op", "write", "kind", "unavailable") == 0 {
				t.Fatal("write errors not counted")
			}
		})
	}
}

func TestPutTriesAnotherGroup(t *testing.T) {
	e := newEnv(t, testConfig(), 12) // two groups
	for _, d := range e.disks[:3] {
		e.shards.SetDown(d, true) // the first group cannot take a stripe
	}
	for i := range 8 {
		data := payload(uint64(i), testStripe)
		obj := e.put("k", data)
		if g := obj.GetStripes()[0].GetPlacementGroup(); g != 2 {
			t.Fatalf("stripe in group %d", g)
		}
	}
	e.s.free.waitIdle()
	for _, d := range e.disks[3:6] {
		for _, c := range e.shards.Chunks() {
			if bytes.HasPrefix([]byte(c), []byte(d+"/")) {
				t.Fatalf("failed attempt left %s", c)
			}
		}
	}
}

// TestPutCommitFailure: after a failed commit the shards are deleted only
// when the commit surely did not and cannot apply: a refusal, or an
// ambiguous failure once the write intent the commit named is deleted
// (a raft entry may apply after its request gave up). A commit that named
// no intent stays unsettled: its shards are left to garbage collection.
func TestPutCommitFailure(t *testing.T) {
	cases := []struct {
		name        string
		err         error
		intentAfter time.Duration
		left        bool // shards left for garbage collection
	}{
		{"refused", errs.E("meta", errs.Precondition, "if-match"), 0, false},
		{"ambiguous, intent recorded", errs.E("meta", errs.Unavailable, "leader lost"), -1, false},
		{"ambiguous, no intent", errs.E("meta", errs.Unavailable, "leader lost"), 0, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.IntentAfter = c.intentAfter
			e := newEnv(t, cfg, 6)
			e.meta.Fail("PutObject", c.err)
			data := payload(1, 2*testStripe)
			_, err := e.s.PutObject(context.Background(), &metapb.Object{Bucket: testBucket, Key: "k"}, bytes.NewReader(data), int64(len(data)))
			if errs.KindOf(err) != errs.KindOf(c.err) {
				t.Fatalf("error %v, want kind %v", err, errs.KindOf(c.err))
			}
			if left := len(e.shards.Chunks()); (left != 0) != c.left {
				t.Fatalf("%d shards left behind, want them left: %v", left, c.left)
			}
			if n := e.metric("wolke_core_unsettled_commits_total"); (n == 1) != c.left {
				t.Fatalf("unsettled commits counted %v", n)
			}
			if c.intentAfter < 0 {
				// The intent is gone: the commit, applied now, fails.
				if n := e.meta.Calls("DeleteIntent"); n != 1 {
					t.Fatalf("DeleteIntent called %d times, want once", n)
				}
				if ids := e.meta.Intents(); len(ids) != 0 {
					t.Fatalf("intents left: %v", ids)
				}
			}
		})
	}
}

// TestUploadPartCommitFailure: the same for a part whose commit failed
// without a definite answer.
func TestUploadPartCommitFailure(t *testing.T) {
	for _, intentAfter := range []time.Duration{-1, 0} {
		cfg := testConfig()
		cfg.IntentAfter = intentAfter
		e := newEnv(t, cfg, 6)
		id, err := e.s.CreateMultipartUpload(context.Background(), &metapb.Object{Bucket: testBucket, Key: "mp"})
		if err != nil {
			t.Fatal(err)
		}
		e.meta.Fail("PutPart", errs.E("meta", errs.Unavailable, "leader lost"))
		data := payload(1, 2*testStripe)
		if _, err := e.s.UploadPart(context.Background(), testBucket, "mp", id, 1, bytes.NewReader(data), int64(len(data))); !errs.Is(err, errs.Unavailable) {
			t.Fatalf("intent after %v: UploadPart: %v, want Unavailable", intentAfter, err)
		}
		if left, want := len(e.shards.Chunks()) != 0, intentAfter >= 0; left != want {
			t.Fatalf("intent after %v: shards left %v, want %v", intentAfter, left, want)
		}
	}
}

func TestPutMissingBucket(t *testing.T) {
	e := newEnv(t, testConfig(), 6)
	for _, n := range []int{10, 3 * testStripe} {
		data := payload(1, n)
		_, err := e.s.PutObject(context.Background(), &metapb.Object{Bucket: "nope", Key: "k"}, bytes.NewReader(data), int64(n))
		if !errs.Is(err, errs.NotFound) {
			t.Fatalf("%d bytes: error %v, want not found", n, err)
		}
	}
	if e.shards.Ops("WriteShard") != 0 {
		t.Fatal("shards written for a missing bucket")
	}
}

func TestReplacedAndDeletedVersionsFreed(t *testing.T) {
	e := newEnv(t, testConfig(), 6)
	first := e.put("k", payload(1, 2*testStripe+1))
	old := e.chunksOf(first.GetStripes())
	second := e.put("k", payload(2, testStripe))
	e.s.free.waitIdle()
	for _, c := range old {
		if e.stored(c) {
			t.Fatalf("chunk %s of the replaced version still stored", c)
		}
	}
	cur := e.chunksOf(second.GetStripes())
	for _, c := range cur {
		if !e.stored(c) {
			t.Fatalf("chunk %s of the current version missing", c)
		}
	}
	e.put("k", []byte("small")) // inline replaces striped
	e.s.free.waitIdle()
	if left := e.shards.Chunks(); len(left) != 0 {
		t.Fatalf("chunks left after an inline overwrite: %v", left)
	}
	third := e.put("k", payload(3, testStripe))
	if err := e.s.DeleteObject(context.Background(), testBucket, "k", ""); err != nil {
		t.Fatal(err)
	}
	e.s.free.waitIdle()
	if left := e.shards.Chunks(); len(left) != 0 {
		t.Fatalf("chunks left after delete of %d stripes: %v", len(third.GetStripes()), left)
	}
	if _, err := e.s.HeadObject(context.Background(), testBucket, "k", ""); !errs.Is(err, errs.NotFound) {
		t.Fatalf("HeadObject after delete: %v", err)
	}
	if e.metric("wolke_core_freed_stripes_total") != 5 {
		t.Fatalf("freed stripes = %v, want 5", e.metric("wolke_core_freed_stripes_total"))
	}
}

func TestPlacementCached(t *testing.T) {
	e := newEnv(t, testConfig(), 6)
	for i := range 5 {
		e.put("k", payload(uint64(i), 2*testStripe))
	}
	if n := e.meta.Calls("EnsurePlacementGroups"); n != 1 {
		t.Fatalf("EnsurePlacementGroups called %d times, want 1", n)
	}
}
