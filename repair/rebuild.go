package repair

import (
	"context"
	"encoding/hex"
	"slices"
	"sync"

	"github.com/wolke-cloud/wolke/core"
	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/meta/metapb"
)

// rebuildAll rebuilds the tasks in order with cfg.Workers at once and
// returns how many failed.
func (w *Worker) rebuildAll(ctx context.Context, tasks []*task) int {
	var (
		mu     sync.Mutex
		failed int
		left   = len(tasks)
		wg     sync.WaitGroup
		next   = make(chan *task)
	)
	for range w.cfg.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for t := range next {
				err := w.rebuild(ctx, t)
				mu.Lock()
				left--
				if err != nil {
					failed++
				}
				q, f := left, failed
				mu.Unlock()
				if err != nil && ctx.Err() == nil {
					w.m.failures.Inc()
					w.update(func(s *Status) { s.Failures++ })
					w.log.Warn("stripe rebuild failed", "bucket", t.ref.Bucket, "key", t.ref.Key, "group", t.group.Id, "shards", t.missing, "err", err)
				}
				w.m.queue.Set(float64(q))
				w.update(func(s *Status) { s.Queue, s.Degraded = q, q+f })
			}
		}()
	}
	for _, t := range tasks {
		if ctx.Err() != nil {
			break
		}
		next <- t
	}
	close(next)
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	return failed + left
}

// rebuild reads good shards of the stripe, reconstructs the missing ones,
// checks them against the manifest's CRC32C and writes them in place.
func (w *Worker) rebuild(ctx context.Context, t *task) error {
	const op = "repair.rebuild"
	st := t.ref.Stripe
	g := t.group
	// Shards with a good copy elsewhere are copied: cheaper than
	// reconstruction. The rest are reconstructed.
	missing := t.missing
	if len(t.from) > 0 {
		missing = nil
		for _, i := range t.missing {
			src, ok := t.from[i]
			if ok {
				err := w.copyShard(ctx, t, i, src)
				if err == nil {
					continue
				}
				if ctx.Err() != nil {
					return err
				}
				w.log.Warn("shard copy failed, reconstructing it", "stripe", hex.EncodeToString(st.Id), "shard", i, "from", src, "err", err)
			}
			missing = append(missing, i)
		}
		if len(missing) == 0 {
			return nil
		}
	}
	k, m := int(g.EcData), int(g.EcParity)
	enc, err := w.codec(k, m)
	if err != nil {
		return err
	}
	shards, bad, err := w.gather(ctx, st, g, missing, k)
	if err != nil {
		return err
	}
	write := append(slices.Clone(missing), bad...)
	if err := enc.Reconstruct(shards); err != nil {
		return errs.E(op, errs.Corrupt, err)
	}
	for _, i := range write {
		if len(st.ShardCrc32C) == len(g.Disks) && crc32c(shards[i]) != st.ShardCrc32C[i] {
			return errs.Errorf(op, errs.Corrupt, "rebuilt shard %d of stripe %x does not match its checksum", i, st.Id)
		}
	}
	for _, i := range write {
		if err := w.lim.Wait(ctx, len(shards[i])); err != nil {
			return err
		}
		if err := w.deps.Shards.WriteShard(ctx, g.Disks[i], core.ChunkID(st.Id, i), shards[i]); err != nil {
			return err
		}
		w.m.shards.Inc()
		w.m.bytes.Add(float64(len(shards[i])))
		w.update(func(s *Status) {
			s.ShardsRebuilt++
			s.BytesRebuilt += int64(len(shards[i]))
		})
	}
	return nil
}

// gather reads shards that are not missing until k good ones are in hand;
// the rest stay nil for Reconstruct. Shards found corrupt are returned in
// bad, to be rewritten too.
func (w *Worker) gather(ctx context.Context, st *metapb.Stripe, g *metapb.PlacementGroup, missing []int, k int) (shards [][]byte, bad []int, err error) {
	n := len(g.Disks)
	shards = make([][]byte, n)
	good := 0
	var lastErr error
	for i := 0; i < n && good < k; i++ {
		if slices.Contains(missing, i) {
			continue
		}
		b, err := w.deps.Shards.ReadShard(ctx, g.Disks[i], core.ChunkID(st.Id, i))
		if err == nil && int64(len(b)) != st.ShardSize {
			err = errs.Errorf("repair.gather", errs.Corrupt, "shard %d is %d bytes, not %d", i, len(b), st.ShardSize)
		}
		if err == nil && len(st.ShardCrc32C) == n && crc32c(b) != st.ShardCrc32C[i] {
			err = errs.Errorf("repair.gather", errs.Corrupt, "shard %d fails its checksum", i)
		}
		if err != nil {
			if errs.Is(err, errs.Corrupt) {
				bad = append(bad, i)
			}
			lastErr = err
			continue
		}
		shards[i] = b
		good++
	}
	if good < k {
		return nil, nil, errs.E("repair.gather", errs.Unavailable, "fewer than k good shards", lastErr)
	}
	return shards, bad, nil
}
