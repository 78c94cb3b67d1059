package core

import (
	"context"
	"fmt"
	"hash/crc32"
	"sync"
	"time"

	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/meta/metapb"
)

// groupAttempts is how many placement groups a stripe tries before the
// write fails.
const groupAttempts = 2

// stripeSink writes the stripes of one body in the background, at most
// StripesInFlight at a time, while the caller reads the next one.
type stripeSink struct {
	s      *Store
	c      *codec
	ctx    context.Context
	cancel context.CancelFunc
	it     *intent // the write's intent: stripes are added before their shards
	sem    chan struct{}
	wg     sync.WaitGroup

	mu      sync.Mutex
	stripes []*metapb.Stripe // by position in the object; nil while in flight
	err     error            // the first failure
}

func (s *Store) newSink(ctx context.Context, c *codec, it *intent) *stripeSink {
	ctx, cancel := context.WithCancel(ctx)
	return &stripeSink{s: s, c: c, ctx: ctx, cancel: cancel, it: it, sem: make(chan struct{}, s.cfg.StripesInFlight)}
}

// submit starts writing the first n bytes of *buf as the next stripe; the
// buffer goes back to the codec's pool when the write is over and hashed is
// closed (the digester is done reading it). It returns the sink's failure,
// if any, instead of accepting more work.
func (w *stripeSink) submit(buf *[]byte, n int, hashed <-chan struct{}) error {
	release := func() {
		<-hashed
		w.c.pool.Put(buf)
	}
	select {
	case w.sem <- struct{}{}:
	case <-w.ctx.Done():
		release()
		return w.failure()
	}
	w.mu.Lock()
	if w.err != nil {
		w.mu.Unlock()
		<-w.sem
		release()
		return w.err
	}
	idx := len(w.stripes)
	w.stripes = append(w.stripes, nil)
	w.mu.Unlock()
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		st, err := w.s.writeStripe(w.ctx, w.c, (*buf)[:n], w.it)
		release()
		<-w.sem
		w.mu.Lock()
		defer w.mu.Unlock()
		if err != nil {
			if w.err == nil {
				w.err = err
				w.cancel()
			}
			return
		}
		w.stripes[idx] = st
	}()
	return nil
}

func (w *stripeSink) failure() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return w.err
	}
	return errs.E("core.writeStripes", errs.Canceled, w.ctx.Err())
}

// finish waits for every stripe and returns them in order.
func (w *stripeSink) finish() ([]*metapb.Stripe, error) {
	w.wg.Wait()
	defer w.cancel()
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return nil, w.err
	}
	if err := w.ctx.Err(); err != nil {
		return nil, errs.E("core.writeStripes", errs.Canceled, err)
	}
	return w.stripes, nil
}

// abort stops the sink, waits for the writes in flight and deletes every
// stripe written so far (best effort: failures are logged).
func (w *stripeSink) abort(ctx context.Context) {
	w.cancel()
	w.wg.Wait()
	w.mu.Lock()
	written := w.stripes
	w.mu.Unlock()
	w.s.deleteStripes(ctx, written)
}

// deleteStripes deletes the shards of stripes now, with a context that
// survives the caller's cancellation.
func (s *Store) deleteStripes(ctx context.Context, stripes []*metapb.Stripe) {
	s.deleteStripesWithin(ctx, stripes, freeTimeout)
}

// deleteStripesWithin is deleteStripes bounded by d.
func (s *Store) deleteStripesWithin(ctx context.Context, stripes []*metapb.Stripe, d time.Duration) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), min(d, freeTimeout))
	defer cancel()
	for _, st := range stripes {
		if st == nil {
			continue
		}
		if err := s.deleteStripe(ctx, st); err != nil {
			s.log.Warn("deleting shards of an uncommitted stripe failed", "stripe", ChunkID(st.GetId(), 0), "err", err)
		}
	}
}

// writeStripe encodes data (at most k*ShardSize bytes, with room for the
// parity shards behind it in its backing array) and writes its k+m shards
// to a placement group, trying another group if the first cannot take it.
// Each attempt's stripe id comes from the write intent it (if any), which
// records it in meta before a shard is written once the intent is due.
func (s *Store) writeStripe(ctx context.Context, c *codec, data []byte, it *intent) (*metapb.Stripe, error) {
	const op = "core.writeStripe"
	n := len(data)
	ss := (n + c.k - 1) / c.k
	buf := data[:(c.k+c.m)*ss]
	clear(buf[n : c.k*ss]) // pad the last data shard; pooled buffers hold old bytes
	shards := make([][]byte, c.k+c.m)
	for i := range shards {
		shards[i] = buf[i*ss : (i+1)*ss : (i+1)*ss]
	}
	if err := c.enc.Encode(shards); err != nil {
		return nil, errs.E(op, errs.Internal, err)
	}
	crcs := make([]uint32, len(shards))
	for i, sh := range shards {
		crcs[i] = crc32.Checksum(sh, s.crc)
	}
	var (
		avoid   uint64
		lastErr error
	)
	// Every attempt shares one deadline: unreachable chunk servers fail the
	// stripe within ShardWriteTimeout, not a timeout per group.
	deadline := s.now().Add(s.cfg.ShardWriteTimeout)
	for attempt := 0; attempt < groupAttempts; attempt++ {
		if attempt > 0 && !s.now().Before(deadline) {
			break
		}
		g, err := s.groups.pick(ctx, c.k, c.m, avoid)
		if err != nil {
			return nil, err
		}
		id := randomID(16)
		if it != nil {
			if id, err = it.newStripeID(ctx); err != nil {
				return nil, err
			}
		}
		st := &metapb.Stripe{Id: id, PlacementGroup: g.GetId(), GroupEpoch: g.GetEpoch(), Size: int64(n), ShardSize: int64(ss), ShardCrc32C: crcs}
		written := make([]bool, len(shards))
		good, timedOut, err := s.writeShards(ctx, c, g, st.GetId(), shards, deadline, written)
		if good < len(shards) && !timedOut && ctx.Err() == nil {
			// A failed member may have been replaced since the groups were
			// cached: reload them, and move the shards of replaced members.
			if ng, changed := s.groups.suspect(ctx, g); changed {
				good, err = s.moveShards(ctx, c, g, ng, st, shards, written, deadline)
				g = ng
			}
		}
		if err == nil {
			s.metrics.stripes.Inc()
			if good < len(shards) {
				s.log.Warn("stripe written without all shards", "stripe", ChunkID(st.GetId(), 0), "group", g.GetId(), "written", good, "shards", len(shards))
			}
			return st, nil
		}
		// Shards of a failed attempt are garbage whatever happens next.
		// After a timeout the disks may be unreachable: the shards are
		// deleted in the background, and what is left goes to garbage
		// collection. After a cancel (maybe a sibling stripe's timeout) the
		// delete gets ShardWriteTimeout at most.
		switch {
		case timedOut:
			s.free.enqueue(ctx, freeJob{why: "stripe write timed out", stripes: []*metapb.Stripe{st}, timeout: s.cfg.ShardWriteTimeout})
		case ctx.Err() != nil:
			s.deleteStripesWithin(ctx, []*metapb.Stripe{st}, s.cfg.ShardWriteTimeout)
		default:
			s.deleteStripes(ctx, []*metapb.Stripe{st})
		}
		if ctx.Err() != nil {
			return nil, errs.E(op, errs.Canceled, ctx.Err())
		}
		s.groups.invalidate(c.k, c.m)
		avoid, lastErr = g.GetId(), err
	}
	if lastErr == nil {
		lastErr = errs.Errorf(op, errs.Unavailable, "no shard write quorum within %v", s.cfg.ShardWriteTimeout)
	}
	return nil, lastErr
}

// writeShards writes shard i to g.Disks[i] in parallel and returns once
// every write is over. When the write quorum is met, writes still running
// get StragglerWait more before they are abandoned; at the deadline every
// write still running is abandoned, and short of the quorum the stripe
// fails errs.Unavailable (timedOut tells).
func (s *Store) writeShards(ctx context.Context, c *codec, g *metapb.PlacementGroup, id []byte, shards [][]byte, deadline time.Time, written []bool) (good int, timedOut bool, err error) {
	const op = "core.writeShards"
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type result struct {
		i   int
		err error
	}
	results := make(chan result, len(shards))
	for i, disk := range g.GetDisks() {
		go func() {
			results <- result{i, s.shards.WriteShard(wctx, disk, ChunkID(id, i), shards[i])}
		}()
	}
	var (
		bad      int
		noSpace  int // failures for want of space
		last     error
		straggle *time.Timer
		timeout  <-chan time.Time
	)
	defer func() {
		if straggle != nil {
			straggle.Stop()
		}
	}()
	dl := time.NewTimer(deadline.Sub(s.now()))
	defer dl.Stop()
	expired := dl.C
	for good+bad < len(shards) {
		select {
		case r := <-results:
			if r.err == nil {
				good++
				written[r.i] = true
			} else {
				bad++
				last = r.err
				if errs.Is(r.err, errs.NoSpace) {
					noSpace++
				}
				if ctx.Err() == nil {
					s.metrics.shardError("write", r.err)
					s.log.Debug("shard write failed", "disk", g.GetDisks()[r.i], "chunk", ChunkID(id, r.i), "err", r.err)
				}
			}
			switch {
			case len(shards)-bad < c.quorum:
				cancel() // the quorum is out of reach: stop the others
			case good >= c.quorum && straggle == nil && good+bad < len(shards):
				straggle = time.NewTimer(s.cfg.StragglerWait)
				timeout = straggle.C
			}
		case <-timeout:
			timeout = nil
			cancel()
		case <-expired:
			expired = nil
			if good < c.quorum {
				timedOut = true
				s.metrics.shardTimeouts.Inc()
			}
			cancel()
		}
	}
	if err := ctx.Err(); err != nil {
		return good, false, errs.E(op, errs.Canceled, err)
	}
	if good < c.quorum {
		kind := errs.Unavailable
		if noSpace > len(shards)-c.quorum {
			kind = errs.NoSpace // full disks alone put the quorum out of reach
		}
		msg := fmt.Sprintf("%d of %d shards written to group %d, need %d", good, len(shards), g.GetId(), c.quorum)
		if timedOut {
			msg += fmt.Sprintf(" (no quorum within %v)", s.cfg.ShardWriteTimeout)
		}
		return good, timedOut, errs.E(op, kind, msg, last)
	}
	return good, false, nil
}

// moveShards writes the shards of st at the positions where group ng (the
// same group at a newer epoch) has another member than old, and reports
// how many of st's shards are now on ng's members. The stripe takes ng's
// epoch when every moved shard was written; otherwise it keeps the old
// one, and its commit leaves meta a repair hint.
func (s *Store) moveShards(ctx context.Context, c *codec, old, ng *metapb.PlacementGroup, st *metapb.Stripe, shards [][]byte, written []bool, deadline time.Time) (int, error) {
	const op = "core.writeShards"
	if len(ng.GetDisks()) != len(shards) {
		return 0, errs.Errorf(op, errs.Internal, "placement group %d changed size", ng.GetId())
	}
	wctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		moved = true
	)
	for i, d := range ng.GetDisks() {
		if d == old.GetDisks()[i] {
			continue
		}
		written[i] = false
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := s.shards.WriteShard(wctx, d, ChunkID(st.GetId(), i), shards[i])
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				moved = false
				s.log.Debug("moved shard write failed", "disk", d, "chunk", ChunkID(st.GetId(), i), "err", err)
				return
			}
			written[i] = true
		}()
	}
	wg.Wait()
	good := 0
	for _, w := range written {
		if w {
			good++
		}
	}
	if moved {
		st.GroupEpoch = ng.GetEpoch()
	}
	if good < c.quorum {
		return good, errs.E(op, errs.Unavailable,
			fmt.Sprintf("%d of %d shards written to group %d at epoch %d, need %d", good, len(shards), ng.GetId(), ng.GetEpoch(), c.quorum))
	}
	return good, nil
}
