package volume

import (
	"context"
	"sync"

	"github.com/wolke-cloud/wolke/internal/errs"
)

// rounds lets concurrent callers share runs of one operation, as fsyncs
// share a journal commit: a caller joins the next round, which starts
// after every caller that joined it did, so its run covers what each of
// them did before joining. One round runs at a time.
type rounds struct {
	run func() error

	mu      sync.Mutex
	next    *round
	running bool
}

type round struct {
	done chan struct{}
	err  error
}

// join returns the next round, starting the runner if none runs.
func (g *rounds) join() *round {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.next == nil {
		g.next = &round{done: make(chan struct{})}
	}
	r := g.next
	if !g.running {
		g.running = true
		go g.loop()
	}
	return r
}

// poke starts a round unless one is waiting or running.
func (g *rounds) poke() {
	g.mu.Lock()
	idle := g.next == nil && !g.running
	g.mu.Unlock()
	if idle {
		g.join()
	}
}

func (g *rounds) loop() {
	for {
		g.mu.Lock()
		r := g.next
		g.next = nil
		if r == nil {
			g.running = false
			g.mu.Unlock()
			return
		}
		g.mu.Unlock()
		r.err = g.run()
		close(r.done)
	}
}

// wait returns the round's result, or op's Canceled when ctx ends first.
func (r *round) wait(ctx context.Context, op string) error {
	select {
	case <-r.done:
		return r.err
	case <-ctx.Done():
		return errs.E(op, errs.Canceled, ctx.Err())
	}
}
