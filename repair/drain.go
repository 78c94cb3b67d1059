package repair

import (
	"context"

	"github.com/wolke-cloud/wolke/core"
	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/meta/metapb"
)

// findCopy returns a listed disk other than dst that holds shard i of st
// with the manifest's length and CRC32C: the draining disk the group moved
// away from, the disk a rebalancing move left, or a disk a writer with
// stale groups wrote to. "" if there is none; the shard is then
// reconstructed.
func findCopy(st *metapb.Stripe, i, n int, dst string, order []string, inv map[string]*diskInv) string {
	if len(st.ShardCrc32C) != n {
		return "" // without a checksum a copy cannot be trusted
	}
	id := core.ChunkID(st.Id, i)
	for _, disk := range order {
		if disk == dst {
			continue
		}
		if c, ok := inv[disk].chunks[id]; ok && c.Length == st.ShardSize && c.CRC32C == st.ShardCrc32C[i] {
			return disk
		}
	}
	return ""
}

// drainLeft counts a shard of size bytes still to move off draining disk.
func (p *plan) drainLeft(disk string, size int64) {
	ds := p.drains[disk]
	if ds == nil {
		ds = &DrainStatus{Disk: disk}
		p.drains[disk] = ds
	}
	ds.ShardsLeft++
	ds.BytesLeft += size
}

// drainingOutOfGroups returns the draining disks no group uses.
func drainingOutOfGroups(disks map[string]*metapb.Disk, groups []*metapb.PlacementGroup) map[string]bool {
	out := map[string]bool{}
	for id, d := range disks {
		if d.State == metapb.DiskState_DISK_STATE_DRAINING {
			out[id] = true
		}
	}
	for _, g := range groups {
		for _, d := range g.Disks {
			delete(out, d)
		}
	}
	return out
}

// publishDrains sets the drain entries of the status from the plan.
func (w *Worker) publishDrains(disks map[string]*metapb.Disk, groups map[uint64]*metapb.PlacementGroup, p *plan) {
	in := map[string]int{}
	for _, g := range groups {
		for _, d := range g.Disks {
			in[d]++
		}
	}
	w.update(func(s *Status) {
		kept := s.Drains[:0]
		for _, ds := range s.Drains {
			if d := disks[ds.Disk]; d != nil && (d.State == metapb.DiskState_DISK_STATE_DRAINING || ds.Removed && d.State == metapb.DiskState_DISK_STATE_REMOVED) {
				kept = append(kept, ds)
			}
		}
		s.Drains = kept
		for _, id := range sortedKeys(disks) {
			if disks[id].State != metapb.DiskState_DISK_STATE_DRAINING {
				continue
			}
			ds := s.drain(id)
			ds.InGroups, ds.ShardsLeft, ds.BytesLeft = in[id], 0, 0
			if pd := p.drains[id]; pd != nil {
				ds.ShardsLeft, ds.BytesLeft = pd.ShardsLeft, pd.BytesLeft
			}
		}
	})
}

// finishDrains sets REMOVED the draining disks that were in no placement
// group when this pass began (so its scan saw every stripe that had a
// shard on them in its new place) and for DrainSettle. Called only after a
// clean pass: every shard is where its manifest expects it, with its CRC.
func (w *Worker) finishDrains(ctx context.Context, disks map[string]*metapb.Disk, outAtStart map[string]bool) error {
	now := w.now()
	vols, err := w.volumeReplicas(ctx, disks)
	if err != nil {
		return err
	}
	for _, id := range sortedKeys(disks) {
		d := disks[id]
		if d.State != metapb.DiskState_DISK_STATE_DRAINING || !outAtStart[id] {
			delete(w.outSince, id)
			continue
		}
		if n := vols[id]; n > 0 {
			// Block volume replicas left (healVolumes could not move
			// them yet: an attached volume's writer moves its own).
			w.log.Info("drained disk still holds block volume replicas", "disk", id, "extents", n)
			continue
		}
		since, ok := w.outSince[id]
		if !ok {
			since = now
			w.outSince[id] = now
		}
		if now.Sub(since) < w.cfg.DrainSettle {
			continue
		}
		if _, err := w.deps.Meta.SetDiskState(ctx, &metapb.SetDiskStateRequest{Id: id, State: metapb.DiskState_DISK_STATE_REMOVED}); err != nil {
			return err
		}
		d.State = metapb.DiskState_DISK_STATE_REMOVED
		delete(w.outSince, id)
		w.m.removed.Inc()
		w.log.Info("disk drained and removed", "disk", id, "server", d.Server)
		w.update(func(s *Status) {
			ds := s.drain(id)
			ds.Removed, ds.InGroups, ds.ShardsLeft, ds.BytesLeft = true, 0, 0, 0
		})
	}
	return nil
}

// volumeReplicas counts, per disk that is not active, the block volume
// chunks with a replica on it, and publishes their total (with the chunks
// left missing copies on active disks). Nil without an extent scanner.
func (w *Worker) volumeReplicas(ctx context.Context, disks map[string]*metapb.Disk) (map[string]int64, error) {
	if w.deps.Extents == nil {
		return nil, nil
	}
	var off []string
	for _, id := range sortedKeys(disks) {
		if disks[id].State != metapb.DiskState_DISK_STATE_ACTIVE {
			off = append(off, id)
		}
	}
	per := map[string]int64{}
	var total int64
	for after := []byte(nil); len(off) > 0; {
		resp, err := w.deps.Extents.ScanExtents(ctx, &metapb.ScanExtentsRequest{After: after, Limit: int32(w.cfg.ScanPage), Disks: off})
		if err != nil {
			return nil, err
		}
		for _, e := range resp.Extents {
			total++
			for _, d := range e.Disks {
				if dd := disks[d]; dd == nil || dd.State != metapb.DiskState_DISK_STATE_ACTIVE {
					per[d]++
				}
			}
		}
		if len(resp.Next) == 0 {
			break
		}
		after = resp.Next
	}
	w.update(func(s *Status) {
		s.VolumeExtentsAtRisk = total + w.unrestored
		for i := range s.Drains {
			s.Drains[i].VolumeExtents = per[s.Drains[i].Disk]
		}
	})
	return per, nil
}

// copyShard copies shard i of the task's stripe from disk src, checking
// its length and CRC32C, to its place in the group.
func (w *Worker) copyShard(ctx context.Context, t *task, i int, src string) error {
	const op = "repair.copyShard"
	st := t.ref.Stripe
	id := core.ChunkID(st.Id, i)
	b, err := w.deps.Shards.ReadShard(ctx, src, id)
	if err != nil {
		return err
	}
	if int64(len(b)) != st.ShardSize || len(st.ShardCrc32C) != len(t.group.Disks) || crc32c(b) != st.ShardCrc32C[i] {
		return errs.Errorf(op, errs.Corrupt, "copy of shard %d of stripe %x on disk %s does not match its manifest", i, st.Id, src)
	}
	if err := w.lim.Wait(ctx, len(b)); err != nil {
		return err
	}
	if err := w.deps.Shards.WriteShard(ctx, t.group.Disks[i], id, b); err != nil {
		return err
	}
	n := int64(len(b))
	w.m.shards.Inc()
	w.m.bytes.Add(float64(n))
	w.m.copied.Inc()
	w.update(func(s *Status) {
		s.ShardsRebuilt++
		s.BytesRebuilt += n
		s.ShardsCopied++
		s.BytesCopied += n
		for j := range s.Drains {
			if ds := &s.Drains[j]; ds.Disk == src && !ds.Removed {
				ds.ShardsMoved++
				ds.BytesMoved += n
				ds.ShardsLeft = max(ds.ShardsLeft-1, 0)
				ds.BytesLeft = max(ds.BytesLeft-n, 0)
			}
		}
	})
	return nil
}
