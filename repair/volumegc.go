package repair

import (
	"context"

	"github.com/wolke-cloud/wolke/meta/metapb"
)

// isVolumeChunk reports whether id names a block volume chunk
// ("<volume id>.<16 hex digits>.<suffix>", block/volume).
func isVolumeChunk(id string) bool {
	_, _, ok := volumeChunkIndex(id)
	return ok
}

// markVolumeRefs marks in inv every replica a volume or snapshot maps:
// each chunk ScanExtents lists, on each of its disks. It reports whether
// volume chunks may be collected this pass: VolumeGCGrace is set, there
// is an extent scanner, and the scan went through to the end (a partial
// scan would leave live chunks unmarked). The listing in inv was taken
// before the scan, so a chunk committed in between counts as mapped.
func (w *Worker) markVolumeRefs(ctx context.Context, inv map[string]*diskInv) bool {
	if w.cfg.VolumeGCGrace <= 0 || w.deps.Extents == nil {
		return false
	}
	for after := []byte(nil); ; {
		resp, err := w.deps.Extents.ScanExtents(ctx, &metapb.ScanExtentsRequest{After: after, Limit: int32(w.cfg.ScanPage)})
		if err != nil {
			w.log.Warn("volume extents not scanned; no volume chunks collected this pass", "err", err)
			return false
		}
		for _, ref := range resp.Extents {
			for _, d := range ref.Disks {
				if di := inv[d]; di != nil {
					di.refd[ref.ChunkId] = true
				}
			}
		}
		if len(resp.Next) == 0 {
			return ctx.Err() == nil
		}
		after = resp.Next
	}
}
