package s3load

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// prepare writes the objects every benchmark but put and multipart works on, with
// --concurrent writers; it is not timed, and any failure stops the run.
func (r *runner) prepare(ctx context.Context) error {
	switch r.cfg.Benchmark {
	case BenchPut, BenchMultipart:
		return nil
	}
	n := r.cfg.Objects
	r.objs = make([]object, n)
	sz := sizer{max: r.cfg.ObjectSize, rand: r.cfg.RandSize}
	pctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	idx := make(chan int)
	var (
		wg    sync.WaitGroup
		count counters
	)
	writers := r.cfg.PrepareConcurrent
	if writers == 0 {
		writers = r.cfg.Concurrent
	}
	for wid := range writers {
		w := r.newWorker(wid, &count)
		wg.Go(func() {
			for i := range idx {
				key := fmt.Sprintf("%sp%d", w.prefix(), i)
				if r.cfg.Benchmark == BenchList {
					// list: worker j lists prefix wj/, so object i goes to the prefix
					// of worker i mod --concurrent.
					key = fmt.Sprintf("%sw%d/p%d", r.res.Prefix, i%r.cfg.Concurrent, i)
				}
				o, rec := w.put(pctx, key, key, sz.next(w.rng))
				if rec.Err != "" {
					cancel(fmt.Errorf("prepare: put %s: %s", key, rec.Err))
					return
				}
				r.objs[i] = o
				count.ops.Add(1)
			}
		})
	}
	stopPrint := r.printPrepare(pctx, &count, n)
feed:
	for i := range n {
		select {
		case idx <- i:
		case <-pctx.Done():
			break feed
		}
	}
	close(idx)
	wg.Wait()
	stopPrint()
	if err := context.Cause(pctx); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("prepare interrupted after %d of %d objects: %w", count.ops.Load(), n, ctx.Err())
		}
		return err
	}
	r.res.Prepared = n
	return nil
}

// printPrepare reports preparation progress like the measured phase does.
func (r *runner) printPrepare(ctx context.Context, count *counters, n int) (stop func()) {
	if r.cfg.Progress == nil {
		return func() {}
	}
	pctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		last, shown := time.Now(), false
		for {
			select {
			case <-pctx.Done():
				if r.cfg.Interactive && shown {
					fmt.Fprintln(r.cfg.Progress)
				}
				return
			case now := <-t.C:
				switch {
				case r.cfg.Interactive:
					fmt.Fprintf(r.cfg.Progress, "\rpreparing: %d/%d objects", count.ops.Load(), n)
					shown = true
				case now.Sub(last) >= 5*time.Second:
					fmt.Fprintf(r.cfg.Progress, "preparing: %d/%d objects\n", count.ops.Load(), n)
					last = now
				}
			}
		}
	}()
	return func() { cancel(); <-done }
}
