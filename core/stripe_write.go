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
	sem    chan struct{}
	wg     sync.WaitGroup

	mu      sync.Mutex
	stripes []*metapb.Stripe // by position in the object; nil while in flight
	err     error            // the first failure
}

func (s *Store) newSink(ctx context.Context, c *codec) *stripeSink {
	ctx, cancel := context.WithCancel(ctx)
	return &stripeSink{s: s, c: c, ctx: ctx, cancel: cancel, sem: make(chan struct{}, s.cfg.StripesInFlight)}
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
		st, err := w.s.writeStripe(w.ctx, w.c, (*buf)[:n])
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
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), freeTimeout)
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
func (s *Store) writeStripe(ctx context.Context, c *codec, data []byte) (*metapb.Stripe, error) {
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
	for attempt := 0; attempt < groupAttempts; attempt++ {
		g, err := s.groups.pick(ctx, c.k, c.m, avoid)
		if err != nil {
			return nil, err
		}
		st := &metapb.Stripe{Id: randomID(16), PlacementGroup: g.GetId(), Size: int64(n), ShardSize: int64(ss), ShardCrc32C: crcs}
		good, err := s.writeShards(ctx, c, g, st.GetId(), shards)
		if err == nil {
			s.metrics.stripes.Inc()
			if good < len(shards) {
				s.log.Warn("stripe written without all shards", "stripe", ChunkID(st.GetId(), 0), "group", g.GetId(), "written", good, "shards", len(shards))
			}
			return st, nil
		}
		// Shards of a failed attempt are garbage whatever happens next.
		s.deleteStripes(ctx, []*metapb.Stripe{st})
		if ctx.Err() != nil {
			return nil, errs.E(op, errs.Canceled, ctx.Err())
		}
		s.groups.invalidate(c.k, c.m)
		avoid, lastErr = g.GetId(), err
	}
	return nil, lastErr
}

// writeShards writes shard i to g.Disks[i] in parallel and returns once
// every write is over. When the write quorum is met, writes still running
// get StragglerWait more before they are abandoned.
func (s *Store) writeShards(ctx context.Context, c *codec, g *metapb.PlacementGroup, id []byte, shards [][]byte) (int, error) {
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
		good, bad int
		noSpace   int // failures for want of space
		last      error
		straggle  *time.Timer
		timeout   <-chan time.Time
	)
	defer func() {
		if straggle != nil {
			straggle.Stop()
		}
	}()
	for good+bad < len(shards) {
		select {
		case r := <-results:
			if r.err == nil {
				good++
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
		}
	}
	if err := ctx.Err(); err != nil {
		return good, errs.E(op, errs.Canceled, err)
	}
	if good < c.quorum {
		kind := errs.Unavailable
		if noSpace > len(shards)-c.quorum {
			kind = errs.NoSpace // full disks alone put the quorum out of reach
		}
		return good, errs.E(op, kind,
			fmt.Sprintf("%d of %d shards written to group %d, need %d", good, len(shards), g.GetId(), c.quorum), last)
	}
	return good, nil
}
