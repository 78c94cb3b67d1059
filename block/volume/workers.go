package volume

import (
	"sync"
	"sync/atomic"
)

// workers runs the short tasks a volume fans out (a patch per replica, a
// write-back per extent) on goroutines that outlive them. A new goroutine
// starts with a small stack and grows it, copying, down the deep call path
// of a patch; at tens of thousands of patches a second that copying was
// 8% of the CPU of durable random writes (bench/results round 6). A task
// goes to an idle worker when there is one, else to a new goroutine that
// stays as a worker until stop is closed.
type workers struct {
	tasks chan func()
	stop  <-chan struct{}

	started, running atomic.Int32 // goroutines started, and not yet ended
}

func newWorkers(stop <-chan struct{}) *workers {
	return &workers{tasks: make(chan func()), stop: stop}
}

// Go runs f on a worker, as wg.Go does: wg.Wait waits for it.
func (w *workers) Go(wg *sync.WaitGroup, f func()) {
	wg.Add(1)
	task := func() {
		defer wg.Done()
		f()
	}
	select {
	case w.tasks <- task:
	default:
		go w.work(task)
	}
}

func (w *workers) work(task func()) {
	w.started.Add(1)
	w.running.Add(1)
	defer w.running.Add(-1)
	for {
		task()
		select {
		case task = <-w.tasks:
		case <-w.stop:
			return
		}
	}
}
