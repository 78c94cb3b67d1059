package core

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"

	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/meta/metapb"
)

// waitCalls waits until meta got more than n calls of method.
func waitCalls(t *testing.T, e *env, method string, n int) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); e.meta.Calls(method) <= n; {
		if time.Now().After(deadline) {
			t.Fatalf("no %s call", method)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestSegmentSweeper: a delete whose remover could not free the segments
// (it "died" between marking them garbage and dropping them) leaves the
// marker and the chunks; the sweeper frees them once it has seen the
// marker for its grace, and a read of the removed version then answers
// NotFound, not Corrupt.
func TestSegmentSweeper(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, testConfig(), 6)
	var mu sync.Mutex
	clock := time.Now()
	e.s.now = func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	advance := func(d time.Duration) { mu.Lock(); clock = clock.Add(d); mu.Unlock() }

	id, err := e.s.CreateMultipartUpload(ctx, &metapb.Object{Bucket: testBucket, Key: "mp"})
	if err != nil {
		t.Fatal(err)
	}
	var done []*metapb.CompletedPart
	for n := int32(1); n <= 3; n++ {
		data := payload(uint64(n), 2*testStripe+1)
		if _, err := e.s.UploadPart(ctx, testBucket, "mp", id, n, bytes.NewReader(data), int64(len(data))); err != nil {
			t.Fatal(err)
		}
		done = append(done, &metapb.CompletedPart{Number: n, Etag: etagOf(data)})
	}
	obj, err := e.s.CompleteMultipartUpload(ctx, testBucket, "mp", id, done)
	if err != nil {
		t.Fatal(err)
	}
	var chunks []string
	for _, p := range e.meta.Segments()[id] {
		chunks = append(chunks, e.chunksOf(p.GetStripes())...)
	}
	if len(chunks) == 0 {
		t.Fatal("no segment chunks")
	}

	// The remover cannot read the segments: it frees nothing, drops nothing.
	e.meta.Fail("GetObjectSegments", errUnavailable())
	calls := e.meta.Calls("GetObjectSegments")
	if err := e.s.DeleteObject(ctx, testBucket, "mp", ""); err != nil {
		t.Fatal(err)
	}
	waitCalls(t, e, "GetObjectSegments", calls)
	e.meta.Fail("GetObjectSegments", nil)
	if _, ok := e.meta.Segments()[id]; !ok {
		t.Fatal("segments dropped although the remover failed")
	}

	w := e.s.NewSegmentSweeper(time.Hour)
	for _, step := range []struct {
		advance time.Duration
		want    int
	}{{0, 0}, {59 * time.Minute, 0}, {time.Minute, 1}, {time.Hour, 0}} {
		advance(step.advance)
		n, err := w.Sweep(ctx)
		if err != nil || n != step.want {
			t.Fatalf("after %v: swept %d (%v), want %d", step.advance, n, err, step.want)
		}
	}
	if _, ok := e.meta.Segments()[id]; ok {
		t.Fatal("segments not dropped by the sweep")
	}
	for _, c := range chunks {
		if e.stored(c) {
			t.Fatalf("chunk %s not freed by the sweep", c)
		}
	}
	if len(w.seen) != 0 {
		t.Fatalf("sweeper still remembers %d markers", len(w.seen))
	}
	if _, err := e.read(obj, 0, -1); !errs.Is(err, errs.NotFound) {
		t.Fatalf("read of the swept version: %v, want NotFound", err)
	}

	// A plain object read after its delete freed the chunks: NotFound too.
	plain := e.put("plain", payload(9, 3*testStripe))
	frees := e.meta.Calls("DeleteObject")
	if err := e.s.DeleteObject(ctx, testBucket, "plain", ""); err != nil {
		t.Fatal(err)
	}
	waitCalls(t, e, "DeleteObject", frees)
	for deadline := time.Now().Add(5 * time.Second); e.stored(e.chunksOf(plain.GetStripes())[0]); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("chunks of the deleted object not freed")
		}
	}
	if _, err := e.read(plain, 0, -1); !errs.Is(err, errs.NotFound) {
		t.Fatalf("read of a deleted object: %v, want NotFound", err)
	}
}
