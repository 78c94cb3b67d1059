package cluster

import (
	"context"
	"log/slog"
	"os"
	"testing"
	"time"
)

// Start runs a cluster for a test: data in t.TempDir() (unless opts.Dir is
// set), every port on 127.0.0.1:0, 256 MiB disk files, logs to the test's
// output only when WOLKE_TEST_LOG is set (otherwise the last warnings and
// errors are shown if the test fails). It is closed when the test ends.
func Start(t testing.TB, opts Options) *Cluster {
	t.Helper()
	if opts.Dir == "" {
		opts.Dir = t.TempDir()
	}
	if opts.S3Addr == "" {
		opts.S3Addr = "127.0.0.1:0"
	}
	if opts.DiskSize == 0 {
		opts.DiskSize = 256 << 20
	}
	if opts.Logger == nil && os.Getenv("WOLKE_TEST_LOG") != "" {
		opts.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	if opts.Logger == nil {
		ring := &logRing{}
		opts.Logger = slog.New(slog.NewTextHandler(ring, &slog.HandlerOptions{Level: slog.LevelWarn}))
		t.Cleanup(func() { ring.dump(t) }) // runs after Close: cleanups run last first
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := Open(ctx, opts)
	if err != nil {
		t.Fatalf("cluster.Start: %v", err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Errorf("cluster.Close: %v", err)
		}
	})
	return c
}
