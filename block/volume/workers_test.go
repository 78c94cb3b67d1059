package volume

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestWorkers: tasks run and wg waits for them; a worker that finished
// takes the next task instead of a new goroutine; the workers end when
// stop closes, and a task given after that still runs.
func TestWorkers(t *testing.T) {
	stop := make(chan struct{})
	w := newWorkers(stop)
	var wg sync.WaitGroup
	var ran atomic.Int32
	for range 4 {
		w.Go(&wg, func() { ran.Add(1) })
	}
	wg.Wait()
	if ran.Load() != 4 {
		t.Fatalf("%d tasks ran, want 4", ran.Load())
	}
	started := w.started.Load()
	if started < 1 || started > 4 {
		t.Fatalf("%d workers started for 4 tasks", started)
	}
	time.Sleep(10 * time.Millisecond) // the workers are back in their select
	for range 100 {                   // one at a time: always an idle worker to take it
		w.Go(&wg, func() { ran.Add(1) })
		wg.Wait()
	}
	// A task may come just before its worker is back in its select, and
	// start another; most find one waiting.
	if n := w.started.Load(); n-started > 50 {
		t.Fatalf("%d workers started after 100 sequential tasks, %d before: idle workers not reused", n, started)
	}
	close(stop)
	for deadline := time.Now().Add(5 * time.Second); w.running.Load() > 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d workers still running after stop", w.running.Load())
		}
	}
	w.Go(&wg, func() { ran.Add(1) }) // after stop: still runs
	wg.Wait()
	if ran.Load() != 105 {
		t.Fatalf("%d tasks ran, want 105", ran.Load())
	}
}
