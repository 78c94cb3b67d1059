package repair

import (
	"context"
	"encoding/hex"
	"strconv"
	"strings"

	"github.com/wolke-cloud/wolke/internal/errs"
)

// stripeIDLen is the length of a stripe id (core: 16 random bytes).
const stripeIDLen = 16

// isShardChunk reports whether id names a shard of a stripe ("<32 hex>.<n>").
// Only those are collected: other services may keep chunks of their own.
func isShardChunk(id string) bool {
	h, n, ok := strings.Cut(id, ".")
	if !ok || len(h) != 2*stripeIDLen {
		return false
	}
	if _, err := hex.DecodeString(h); err != nil {
		return false
	}
	_, err := strconv.ParseUint(n, 10, 8)
	return err == nil
}

// collect deletes shard chunks that no manifest expects where they are
// (a PUT cut short, a crash before the commit, shards of freed stripes,
// stale shards on a disk that came back after they were rebuilt) and that
// are older than GCGrace. The listing was taken before the intents were
// read and the manifests scanned, so a chunk committed in between counts
// as referenced, and the stripes of writes in progress (held, by hex
// stripe id) are kept whatever their age. With volumes (every volume
// chunk replica mapped was marked, volumegc.go), volume chunks no map
// holds where they are and older than VolumeGCGrace go too.
func (w *Worker) collect(ctx context.Context, inv map[string]*diskInv, held map[string]bool, volumes bool) {
	now := w.now()
	for _, disk := range sortedKeys(inv) {
		di := inv[disk]
		for _, id := range sortedKeys(di.chunks) {
			c := di.chunks[id]
			if di.refd[id] {
				continue
			}
			switch {
			case isShardChunk(id):
				if now.Sub(c.Created) < w.cfg.GCGrace {
					continue
				}
				if held[id[:2*stripeIDLen]] {
					w.m.gcHeld.Inc()
					continue
				}
			case volumes && isVolumeChunk(id):
				if now.Sub(c.Created) < w.cfg.VolumeGCGrace {
					continue
				}
			default: // another service's, or a volume chunk while the maps are not all read
				continue
			}
			if err := w.deps.Shards.DeleteShard(ctx, disk, id); err != nil && !errs.Is(err, errs.NotFound) {
				w.log.Warn("garbage chunk not deleted", "disk", disk, "chunk", id, "err", err)
				continue
			}
			w.log.Info("garbage chunk deleted", "disk", disk, "chunk", id, "bytes", c.Length)
			w.m.gcChunks.Inc()
			w.m.gcBytes.Add(float64(c.Length))
			w.update(func(s *Status) { s.GCDeleted++ })
		}
	}
}
