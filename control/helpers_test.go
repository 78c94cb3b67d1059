package control

import (
	"context"
	"log/slog"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// testLogger shows warnings from etcd and our loops in verbose test output.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// startEtcd starts an embedded etcd in a fresh temp dir, closed at cleanup.
func startEtcd(t *testing.T) *Embedded {
	t.Helper()
	return startEtcdIn(t, t.TempDir(), "")
}

func startEtcdIn(t *testing.T, dir, clientAddr string) *Embedded {
	t.Helper()
	start := time.Now()
	e, err := StartEmbedded(testCtx(t), EmbedConfig{Dir: dir, ClientAddr: clientAddr, Logger: testLogger(t)})
	if err != nil {
		t.Fatalf("StartEmbedded: %v", err)
	}
	t.Cleanup(func() { e.Close() })
	t.Logf("etcd up at %v in %v", e.Endpoints(), time.Since(start))
	return e
}

// dialTest opens a separate client, closed at cleanup (closing it early
// simulates a crashed process).
func dialTest(t *testing.T, e *Embedded) *clientv3.Client {
	t.Helper()
	cli, err := Dial(testCtx(t), e.Endpoints())
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

// eventually polls cond every 50 ms until it holds or d passes.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// members lists a kind or fails the test.
func members(t *testing.T, cli *clientv3.Client, cluster, kind string) map[string][]byte {
	t.Helper()
	m, err := List(testCtx(t), cli, cluster, kind)
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	return m
}

func contextWithTimeout(ctx context.Context, ms int) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, time.Duration(ms)*time.Millisecond)
}
