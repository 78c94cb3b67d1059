package volume

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestRounds: callers that join while a round runs share the next one,
// which starts after they joined; callers that join together share one.
func TestRounds(t *testing.T) {
	var runs atomic.Int32
	release := make(chan struct{})
	g := &rounds{run: func() error {
		runs.Add(1)
		<-release
		return nil
	}}
	first := g.join()
	for runs.Load() == 0 {
		time.Sleep(time.Millisecond) // the first round is running
	}
	var wg sync.WaitGroup
	for range 5 {
		wg.Go(func() {
			if err := g.join().wait(context.Background(), "test"); err != nil {
				t.Error(err)
			}
		})
	}
	time.Sleep(20 * time.Millisecond) // all five joined the second round
	close(release)
	if err := first.wait(context.Background(), "test"); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if n := runs.Load(); n != 2 {
		t.Fatalf("%d runs, want 2: the five waiting callers share one round after the first", n)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	g.run = func() error { time.Sleep(50 * time.Millisecond); return nil }
	if err := g.join().wait(ctx, "test"); err == nil {
		t.Fatal("wait with a canceled context returned nil")
	}
}
