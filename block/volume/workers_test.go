package volume

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestWorkers: tasks run and wg waits for them; a worker that finished
// takes the next task instead of a new goroutine; the workers end when
// stop closes.
func TestWorkers(t *testing.T) {
	before := runtime.NumGoroutine()
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
	time.Sleep(10 * time.Millisecond) // the workers are back in their select
	idle := runtime.NumGoroutine() - before
	if idle < 1 || idle > 4 {
		t.Fatalf("%d idle workers after 4 tasks", idle)
	}
	for range 100 { // one at a time: always an idle worker to take it
		w.Go(&wg, func() { ran.Add(1) })
		wg.Wait()
	}
	if n := runtime.NumGoroutine() - before; n > idle {
		t.Fatalf("%d workers after 100 sequential tasks, %d before: idle workers not reused", n, idle)
	}
	close(stop)
	for deadline := time.Now().Add(5 * time.Second); runtime.NumGoroutine() > before; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines left after stop, %d before", runtime.NumGoroutine(), before)
		}
	}
	w.Go(&wg, func() { ran.Add(1) }) // after stop: still runs
	wg.Wait()
	if ran.Load() != 105 {
		t.Fatalf("%d tasks ran, want 105", ran.Load())
	}
}
