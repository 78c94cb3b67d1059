package s3load

import (
	"context"
	"fmt"
	"sync"
)

// deleteQueue hands each prepared object to exactly one deleter.
type deleteQueue struct {
	mu   sync.Mutex
	objs []object
	next int
}

func (q *deleteQueue) take() (object, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.next >= len(q.objs) {
		return object{}, false
	}
	q.next++
	return q.objs[q.next-1], true
}

// deleteNext deletes the next prepared object; false when none is left.
func (w *worker) deleteNext(ctx context.Context, q *deleteQueue) bool {
	o, ok := q.take()
	if ok {
		w.add(ctx, w.del(ctx, o))
	}
	return ok
}

// mixedOp runs one operation of a mixed or versioned run on the shared
// pool. With no idle object to work on, it writes one instead. In a
// versioned run the pool holds versions: PUT adds a new version of an
// existing key, and GET, STAT and DELETE address one version.
func (w *worker) mixedOp(ctx context.Context, p *pool, op Op, sz sizer, versions bool) {
	var (
		o  object
		ok bool
	)
	if op != OpPut || versions {
		o, ok = p.take(w.rng)
	}
	if !ok && op != OpPut {
		op = OpPut
	}
	switch op {
	case OpPut:
		key := w.newKey()
		seed := key
		if ok { // a new version of o's key; o stays in the pool
			p.give(o)
			key, seed = o.key, fmt.Sprintf("%s#w%d.%d", o.key, w.id, w.seq)
		}
		n, rec := w.put(ctx, key, seed, sz.next(w.rng))
		w.add(ctx, rec)
		if rec.Err == "" {
			p.give(n)
		}
	case OpGet:
		w.add(ctx, w.get(ctx, o))
		p.give(o)
	case OpStat:
		w.add(ctx, w.stat(ctx, o))
		p.give(o)
	case OpDelete:
		// A failed delete leaves the object in doubt; it is not reused
		// (cleanup lists and removes whatever is left).
		w.add(ctx, w.del(ctx, o))
	}
}
