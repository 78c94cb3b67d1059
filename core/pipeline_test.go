package core

import (
	"bytes"
	"context"
	"io"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/wolke-cloud/wolke/core/coretest"
	"github.com/wolke-cloud/wolke/meta/metapb"
)

// countingShards counts the shard writes that succeeded.
type countingShards struct {
	*coretest.Shards
	written atomic.Int64
}

func (c *countingShards) WriteShard(ctx context.Context, disk, chunk string, data []byte) error {
	err := c.Shards.WriteShard(ctx, disk, chunk, data)
	if err == nil {
		c.written.Add(1)
	}
	return err
}

// watchedReader calls check before every Read with the bytes handed out.
type watchedReader struct {
	r     io.Reader
	n     int64
	check func(n int64)
}

func (w *watchedReader) Read(p []byte) (int, error) {
	w.check(w.n)
	n, err := w.r.Read(p)
	w.n += int64(n)
	return n, err
}

// TestPutIsBounded checks that the body is never read more than
// StripesInFlight stripes ahead of the stripes durably written.
func TestPutIsBounded(t *testing.T) {
	for _, inFlight := range []int{1, 3} {
		cfg := testConfig()
		cfg.StripesInFlight = inFlight
		shards := &countingShards{Shards: coretest.NewShards()}
		meta := coretest.NewMeta("d0", "d1", "d2", "d3", "d4", "d5")
		s, err := New(cfg, Deps{Meta: meta, Shards: shards})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		if err := s.CreateBucket(ctx, &metapb.Bucket{Name: testBucket}); err != nil {
			t.Fatal(err)
		}
		data := payload(1, 40*testStripe)
		worst := 0
		body := &watchedReader{r: bytes.NewReader(data), check: func(n int64) {
			reading := int(n / testStripe)
			done := int(shards.written.Load()) / (testK + testM)
			worst = max(worst, reading-done)
		}}
		obj, err := s.PutObject(ctx, &metapb.Object{Bucket: testBucket, Key: "k"}, body, int64(len(data)))
		if err != nil {
			t.Fatal(err)
		}
		if worst > inFlight {
			t.Fatalf("StripesInFlight %d: body read %d stripes ahead of the writes", inFlight, worst)
		}
		if len(obj.GetStripes()) != 40 {
			t.Fatalf("%d stripes", len(obj.GetStripes()))
		}
		s.Close()
	}
}

func TestConcurrentUse(t *testing.T) {
	e := newEnv(t, testConfig(), 12)
	var wg sync.WaitGroup
	errc := make(chan error, 16)
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key := string(rune('a' + i))
			for j := range 3 {
				data := payload(uint64(i*10+j), (i+1)*testStripe/2+j)
				obj, err := e.s.PutObject(context.Background(), &metapb.Object{Bucket: testBucket, Key: key}, bytes.NewReader(data), -1)
				if err != nil {
					errc <- err
					return
				}
				got, err := e.read(obj, 0, -1)
				if err != nil || !bytes.Equal(got, data) {
					errc <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatalf("concurrent put/get: %v", err)
	}
	e.s.free.waitIdle()
	var live []string
	for _, o := range e.meta.Objects() {
		live = append(live, e.chunksOf(o.GetStripes())...)
	}
	if got := len(e.shards.Chunks()); got != len(live) {
		t.Fatalf("%d chunks stored, %d referenced", got, len(live))
	}
}

func TestCommitAppliedDespiteError(t *testing.T) {
	e := newEnv(t, testConfig(), 6)
	e.meta.FailAfterApply("PutObject", errUnavailable())
	data := payload(1, 2*testStripe)
	obj, err := e.s.PutObject(context.Background(), &metapb.Object{Bucket: testBucket, Key: "k"}, bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatalf("PutObject whose commit applied: %v", err)
	}
	got, err := e.read(e.head("k"), 0, -1)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read back: %v", err)
	}
	if len(e.shards.Chunks()) != len(e.chunksOf(obj.GetStripes())) {
		t.Fatal("shards of a committed object were deleted")
	}

	id, err := e.s.CreateMultipartUpload(context.Background(), &metapb.Object{Bucket: testBucket, Key: "mp"})
	if err != nil {
		t.Fatal(err)
	}
	e.meta.FailAfterApply("PutPart", errUnavailable())
	part, err := e.s.UploadPart(context.Background(), testBucket, "mp", id, 1, bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatalf("UploadPart whose commit applied: %v", err)
	}
	for _, c := range e.chunksOf(part.GetStripes()) {
		if !e.stored(c) {
			t.Fatal("shards of a recorded part were deleted")
		}
	}
}

func TestCloseStopsFreeing(t *testing.T) {
	e := newEnv(t, testConfig(), 6)
	e.put("k", payload(1, testStripe))
	if err := e.s.Close(); err != nil {
		t.Fatal(err)
	}
	// Frees after Close are dropped (logged), not a panic.
	e.s.freeObjects(context.Background(), "test", nil, []*metapb.Object{e.head("k")})
}
