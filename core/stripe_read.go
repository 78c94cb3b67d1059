package core

import (
	"context"
	"fmt"
	"hash/crc32"
	"time"

	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/meta/metapb"
)

// readStripe returns the k data shards of st, of which those holding the
// stripe bytes [lo, hi) are guaranteed present and verified. Missing or bad
// shards are rebuilt from parity; fewer than k good shards is
// errs.Unavailable, never wrong data.
func (s *Store) readStripe(ctx context.Context, c *codec, st *metapb.Stripe, lo, hi int64) ([][]byte, error) {
	const op = "core.readStripe"
	g, err := s.groups.group(ctx, st.GetPlacementGroup())
	if err != nil {
		return nil, err
	}
	n := c.k + c.m
	ss := st.GetShardSize()
	if len(g.GetDisks()) != n || len(st.GetShardCrc32C()) != n || ss <= 0 || ss*int64(c.k) < st.GetSize() {
		return nil, errs.Errorf(op, errs.Internal, "stripe %s does not fit its %d+%d code or group %d",
			ChunkID(st.GetId(), 0), c.k, c.m, g.GetId())
	}
	needed := make([]bool, c.k)
	for i := lo / ss; i <= (hi-1)/ss; i++ {
		needed[i] = true
	}
	shards, err := s.gather(ctx, c, g, st, needed)
	if errs.Is(err, errs.Unavailable) {
		// Repair may have moved shards to a new disk since we cached the group.
		if ng, changed := s.groups.suspect(ctx, g); changed {
			shards, err = s.gather(ctx, c, ng, st, needed)
		}
	}
	if err != nil {
		return nil, err
	}
	missing := false
	for i, need := range needed {
		if need && shards[i] == nil {
			missing = true
		}
	}
	if missing {
		s.metrics.degraded.Inc()
		if err := c.enc.ReconstructSome(shards, needed); err != nil {
			return nil, errs.E(op, errs.Unavailable, err)
		}
	}
	return shards[:c.k], nil
}

type shardRead struct {
	i    int
	data []byte
	err  error
}

// gather reads shards of st from g until either every needed data shard is
// good or any k shards are. It starts with the needed data shards; a
// failure, or no answer within HedgeAfter, makes it read more shards (the
// other data shards first, then parity). Every shard is checked against its
// CRC32C. The result has k+m entries, nil where a shard is not good.
func (s *Store) gather(ctx context.Context, c *codec, g *metapb.PlacementGroup, st *metapb.Stripe, needed []bool) ([][]byte, error) {
	const op = "core.readStripe"
	n := c.k + c.m
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()

	order := make([]int, 0, n)
	for i, need := range needed {
		if need {
			order = append(order, i)
		}
	}
	wanted := len(order)
	for i, need := range needed {
		if !need {
			order = append(order, i)
		}
	}
	for i := c.k; i < n; i++ {
		order = append(order, i)
	}

	results := make(chan shardRead, n)
	launched, inflight := 0, 0
	launch := func() bool {
		if launched == n {
			return false
		}
		i := order[launched]
		launched++
		inflight++
		go func() {
			data, err := s.shards.ReadShard(rctx, g.GetDisks()[i], ChunkID(st.GetId(), i))
			results <- shardRead{i, data, err}
		}()
		return true
	}
	for range wanted {
		launch()
	}
	var hedge <-chan time.Time
	if s.cfg.HedgeAfter > 0 {
		t := time.NewTimer(s.cfg.HedgeAfter)
		defer t.Stop()
		hedge = t.C
	}

	shards := make([][]byte, n)
	var (
		good, wantedGood, failed int
		widen                    bool // need any k shards rather than the wanted ones
		last                     error
	)
	for wantedGood < wanted && good < c.k {
		if widen {
			for good+inflight < c.k && launch() {
			}
		}
		if inflight == 0 {
			return nil, errs.E(op, errs.Unavailable,
				fmt.Sprintf("stripe %s: %d of %d shards good, need %d", ChunkID(st.GetId(), 0), good, n, c.k), last)
		}
		select {
		case r := <-results:
			inflight--
			if err := s.checkShard(st, r); err != nil {
				failed++
				last = err
				widen = true
				continue
			}
			shards[r.i] = r.data
			good++
			if r.i < c.k && needed[r.i] {
				wantedGood++
			}
		case <-hedge:
			hedge = nil
			widen = true
			s.metrics.hedgedReads.Inc()
			for extra := inflight; extra > 0 && launch(); extra-- {
			}
		case <-ctx.Done():
			return nil, errs.E(op, errs.Canceled, ctx.Err())
		}
	}
	return shards, nil
}

// checkShard turns a failed or corrupt shard read into an error, counting
// and logging it.
func (s *Store) checkShard(st *metapb.Stripe, r shardRead) error {
	const op = "core.readStripe"
	chunk := ChunkID(st.GetId(), r.i)
	if r.err != nil {
		s.metrics.shardError("read", r.err)
		s.log.Debug("shard read failed", "chunk", chunk, "err", r.err)
		return r.err
	}
	if int64(len(r.data)) != st.GetShardSize() || crc32.Checksum(r.data, s.crc) != st.GetShardCrc32C()[r.i] {
		s.metrics.shardError("read", nil)
		s.log.Warn("shard failed its checksum", "chunk", chunk, "len", len(r.data))
		return errs.Errorf(op, errs.Corrupt, "shard %s failed its checksum", chunk)
	}
	return nil
}
