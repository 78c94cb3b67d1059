package core

import (
	"bytes"
	"context"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/meta/metapb"
)

// gateReader serves data but stops at byte at until gate is closed;
// reached is closed when it gets there.
type gateReader struct {
	data    []byte
	off, at int
	gate    chan struct{}
	reached chan struct{}
	once    sync.Once
}

func newGate(data []byte, at int) *gateReader {
	return &gateReader{data: data, at: at, gate: make(chan struct{}), reached: make(chan struct{})}
}

func (g *gateReader) Read(p []byte) (int, error) {
	if g.off == g.at {
		g.once.Do(func() { close(g.reached) })
		<-g.gate
	}
	if g.off < g.at {
		p = p[:min(len(p), g.at-g.off)]
	}
	n := copy(p, g.data[g.off:])
	g.off += n
	if n == 0 {
		return 0, io.EOF
	}
	return n, nil
}

// waitFor polls cond for up to 5s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

// heldChunks reports whether every shard chunk stored belongs to a stripe
// of some recorded intent.
func heldChunks(e *env) (held, total int) {
	ids := map[string]bool{}
	for _, stripes := range e.meta.Intents() {
		for _, s := range stripes {
			ids[s] = true
		}
	}
	for _, c := range e.shards.Chunks() {
		if _, chunk, ok := strings.Cut(c, "/"); ok {
			c = chunk
		}
		total++
		if h, _, _ := strings.Cut(c, "."); ids[h] {
			held++
		}
	}
	return held, total
}

func TestIntentRecordedBeforeFirstShard(t *testing.T) {
	for _, kind := range []string{"put", "part"} {
		t.Run(kind, func(t *testing.T) {
			cfg := testConfig()
			cfg.IntentAfter = -1
			e := newEnv(t, cfg, 6)
			ctx := context.Background()
			data := payload(1, 3*testStripe+100)
			g := newGate(data, 2*testStripe)
			done := make(chan error, 1)
			var upload string
			if kind == "put" {
				go func() {
					_, err := e.s.PutObject(ctx, &metapb.Object{Bucket: testBucket, Key: "k"}, g, int64(len(data)))
					done <- err
				}()
			} else {
				var err error
				if upload, err = e.s.CreateMultipartUpload(ctx, &metapb.Object{Bucket: testBucket, Key: "k"}); err != nil {
					t.Fatal(err)
				}
				go func() {
					_, err := e.s.UploadPart(ctx, testBucket, "k", upload, 1, g, int64(len(data)))
					done <- err
				}()
			}
			<-g.reached
			waitFor(t, "two stripes written", func() bool { return len(e.shards.Chunks()) >= 2*(testK+testM) })
			if held, total := heldChunks(e); held != total {
				t.Fatalf("%d of %d chunks written are held by an intent", held, total)
			}
			close(g.gate)
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			if left := e.meta.Intents(); len(left) != 0 {
				t.Fatalf("intents left after the commit: %v", left)
			}
			if kind == "put" {
				if got, err := e.read(e.head("k"), 0, -1); err != nil || !bytes.Equal(got, data) {
					t.Fatalf("read back: %v", err)
				}
			}
		})
	}
}

func TestIntentLazy(t *testing.T) {
	cfg := testConfig()
	cfg.IntentAfter = time.Hour
	e := newEnv(t, cfg, 6)
	e.put("fast", payload(2, 3*testStripe))
	if n := e.meta.Calls("PutIntent"); n != 0 {
		t.Fatalf("a fast PUT recorded %d intents", n)
	}

	cfg.IntentAfter = 30 * time.Millisecond
	e = newEnv(t, cfg, 6)
	data := payload(3, 3*testStripe)
	g := newGate(data, testStripe)
	done := make(chan error, 1)
	go func() {
		_, err := e.s.PutObject(context.Background(), &metapb.Object{Bucket: testBucket, Key: "slow"}, g, int64(len(data)))
		done <- err
	}()
	<-g.reached
	waitFor(t, "the intent", func() bool { h, total := heldChunks(e); return total > 0 && h == total })
	close(g.gate)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if left := e.meta.Intents(); len(left) != 0 {
		t.Fatalf("intents left after the commit: %v", left)
	}
	if got, err := e.read(e.head("slow"), 0, -1); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read back: %v", err)
	}
}

func TestIntentOfFailedWriteIsDeleted(t *testing.T) {
	cfg := testConfig()
	cfg.IntentAfter = -1
	e := newEnv(t, cfg, 6)
	data := payload(4, 3*testStripe)
	body := &failingReader{r: bytes.NewReader(data[:2*testStripe]), err: errs.E("client", errs.Canceled, "gone")}
	if _, err := e.s.PutObject(context.Background(), &metapb.Object{Bucket: testBucket, Key: "k"}, body, int64(len(data))); err == nil {
		t.Fatal("PUT of a failing body succeeded")
	}
	if left := e.meta.Intents(); len(left) != 0 || e.meta.Calls("DeleteIntent") == 0 {
		t.Fatalf("intents left after a failed PUT: %v (deletes %d)", left, e.meta.Calls("DeleteIntent"))
	}
	// Meta refusing the intent fails the write before any shard is written.
	e.meta.Fail("PutIntent", errs.E("fake", errs.Unavailable, "meta down"))
	_, err := e.s.PutObject(context.Background(), &metapb.Object{Bucket: testBucket, Key: "k2"}, bytes.NewReader(data), int64(len(data)))
	if !errs.Is(err, errs.Unavailable) {
		t.Fatalf("PUT without its intent: %v, want Unavailable", err)
	}
	if len(e.shards.Chunks()) != 0 {
		t.Fatalf("chunks left: %v", e.shards.Chunks())
	}
}
