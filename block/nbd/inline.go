package nbd

import (
	"context"
	"time"
)

// inlineGrace is how long a READ may run on the reader before another
// goroutine takes over reading requests, so that a slow one (a replica
// that does not answer) holds up no request behind it for longer.
const inlineGrace = 500 * time.Microsecond

// readInline reports whether the READ just read should run on the reader
// itself rather than on a worker: when nothing else is in flight or
// waiting to be read, a client at queue depth 1 then waits for no hand-over
// to a worker (a wake-up of another thread, several µs each way). A client
// that sent its next request while an inline READ ran (pipelined) keeps
// more than one in flight: its READs go to workers, which run them in
// parallel, until one arrives to find nothing in flight again.
func (ss *session) readInline() bool {
	if len(ss.sem) > 0 || ss.c.br.Buffered() > 0 {
		return false
	}
	if ss.pipelined {
		ss.pipelined = false
		return false
	}
	return true
}

// runInline runs READ j on the reader, which holds rmu. It holds a slot of
// sem as a worker would. Should the READ take longer than inlineGrace,
// handoff starts a new reader, and runInline reports false: the caller
// is no longer the reader (and no longer holds rmu).
func (ss *session) runInline(ctx context.Context, j job) bool {
	ss.sem <- struct{}{} // free: readInline saw none in flight
	ss.wg.Add(1)
	ss.c.s.m.inflight.Inc()
	ss.rmu.Unlock() // for a reader that takes over
	ss.handoff.Reset(inlineGrace)
	// Whether the client sent more while this one ran (it keeps several
	// in flight, which workers run in parallel) is asked before the
	// reply leaves: after it, a client at depth 1 sends its next. Only
	// the reader may look at the connection's input: the hand-over is
	// called off first.
	reader, more, stopped := false, false, false
	ss.do(ctx, j.req, nil, func() {
		stopped = true
		if reader = ss.handoff.Stop(); reader {
			more = ss.c.pending()
		}
	})
	if !stopped {
		reader = ss.handoff.Stop()
	}
	if reader {
		ss.rmu.Lock()
		ss.pipelined = more
	}
	ss.c.s.m.inflight.Dec()
	<-ss.sem
	ss.budget.release(j.cost)
	ss.wg.Done()
	return reader
}
