package repair

import (
	"context"
	"slices"

	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/meta/metapb"
)

// restorer gives back a lost copy of a chunk at a generation, only where
// the chunk is missing (*chunkclient.Client): errs.Exists if it is there.
type restorer interface {
	RestoreShard(ctx context.Context, diskID, chunkID string, data []byte, gen uint64) error
}

// restoreVolumeCopies gives back to every volume chunk the copies it lost
// on active disks (scrubbing deletes a damaged chunk): a chunk that meta
// maps on a listed disk whose inventory lacks it, and that the disk still
// answers NotFound for (a chunk committed after the listing is there), is
// missing there. Missing copies are written back to the same disks
// under the same id, so meta's map does not change and chunks of attached
// volumes are restored too: a coded chunk's shards decoded from the
// others (restoreShards), replicas copied from the others at their
// generation (restoreReplicas). It returns how many chunks it restored;
// those left missing copies are added to the volume chunks at risk in the
// status (healVolumes counts those on disks that are not active).
func (w *Worker) restoreVolumeCopies(ctx context.Context, inv map[string]*diskInv, disks map[string]*metapb.Disk, live map[string]bool) (int, error) {
	rep, ok := w.deps.Extents.(ChunkReplacer)
	gr, haveGen := w.deps.Shards.(genReader)
	if !ok || !haveGen || w.deps.Extents == nil {
		return 0, nil
	}
	restored, left, waiting := 0, int64(0), int64(0)
	for after := []byte(nil); ; {
		resp, err := w.deps.Extents.ScanExtents(ctx, &metapb.ScanExtentsRequest{After: after, Limit: int32(w.cfg.ScanPage)})
		if err != nil {
			return restored, err
		}
		for _, ref := range resp.Extents {
			missing := map[string]bool{}
			for _, d := range ref.Disks {
				dd, di := disks[d], inv[d]
				if dd == nil || dd.State != metapb.DiskState_DISK_STATE_ACTIVE || !live[d] || di == nil {
					continue
				}
				if _, listed := di.chunks[ref.ChunkId]; listed {
					continue
				}
				if _, err := gr.ShardGen(ctx, d, ref.ChunkId); errs.Is(err, errs.NotFound) {
					missing[d] = true
				}
			}
			if len(missing) == 0 {
				continue
			}
			var out volumeOutcome
			if ref.DataShards > 0 {
				out, err = w.restoreShards(ctx, ref, disks, live, missing)
			} else {
				out, err = w.restoreReplicas(ctx, rep, ref, disks, live, missing)
			}
			if out == volHealed {
				restored++
				continue
			}
			if err != nil {
				w.log.Warn("volume chunk copy not restored", "chunk", ref.ChunkId, "missing_on", sortedKeys(missing), "err", err)
			}
			if slices.ContainsFunc(ref.Disks, func(d string) bool {
				return disks[d] == nil || disks[d].State != metapb.DiskState_DISK_STATE_ACTIVE
			}) {
				continue // at risk already, counted by healVolumes
			}
			left++
			if out == volAttached {
				waiting++
			}
		}
		if len(resp.Next) == 0 || ctx.Err() != nil {
			break
		}
		after = resp.Next
	}
	if err := ctx.Err(); err != nil {
		return restored, errs.E("repair.restoreVolumeCopies", errs.Canceled, err)
	}
	var atRisk int64
	w.update(func(s *Status) {
		w.unrestored = left
		s.VolumeExtentsAtRisk += left
		s.VolumeChunksWaiting += waiting
		atRisk = s.VolumeExtentsAtRisk
	})
	w.m.volAtRisk.Set(float64(atRisk))
	return restored, nil
}

// restoreReplicas writes back the replicas of chunk ref missing on active
// disks, copied from a replica the others agree with, at their generation
// and under the same id: no map change, so it serves attached volumes too.
// A writer that patches the chunk meanwhile finds the copy missing and
// moves the extent to a new chunk (block/volume), leaving this copy to
// garbage collection; a patch after the restore finds it at the
// generation it expects. Replicas that disagree (a writer stopped
// between them), and shard stores that cannot restore, are healed as for
// a lost disk: moved to other servers under a new id, once no writer
// holds the volume.
func (w *Worker) restoreReplicas(ctx context.Context, rep ChunkReplacer, ref *metapb.ExtentRef, disks map[string]*metapb.Disk, live, missing map[string]bool) (volumeOutcome, error) {
	rs, canRestore := w.deps.Shards.(restorer)
	gr, haveGen := w.deps.Shards.(genReader)
	if !canRestore || !haveGen {
		return w.healChunk(ctx, rep, ref, disks, live, missing)
	}
	var sources []string
	var gens []uint64
	for _, d := range ref.Disks {
		if !usable(disks[d]) || !live[d] || missing[d] {
			continue
		}
		g, err := gr.ShardGen(ctx, d, ref.ChunkId)
		if err != nil || len(gens) > 0 && g != gens[0] {
			return w.healChunk(ctx, rep, ref, disks, live, missing)
		}
		sources, gens = append(sources, d), append(gens, g)
	}
	if len(sources) == 0 {
		return volNoPlace, nil
	}
	data, err := w.readVolumeChunk(ctx, ref.ChunkId, sources, gens, gens[0], true)
	if err != nil {
		return volFailed, err
	}
	n := int64(0)
	for _, d := range ref.Disks {
		if !missing[d] {
			continue
		}
		if err := w.lim.Wait(ctx, len(data)); err != nil {
			return volFailed, err
		}
		if err := rs.RestoreShard(ctx, d, ref.ChunkId, data, gens[0]); err != nil {
			return volFailed, err
		}
		n += int64(len(data))
	}
	w.repaired(n)
	w.log.Info("volume chunk replicas restored", "chunk", ref.ChunkId, "gen", gens[0], "on", sortedKeys(missing))
	return volHealed, nil
}

// restoreCopy writes back one lost copy of a chunk that has never been
// patched: restored where the shard store can (never over a copy written
// meanwhile), else put.
func (w *Worker) restoreCopy(ctx context.Context, disk, chunk string, data []byte) error {
	if rs, ok := w.deps.Shards.(restorer); ok {
		return rs.RestoreShard(ctx, disk, chunk, data, 0)
	}
	return w.deps.Shards.WriteShard(ctx, disk, chunk, data)
}
