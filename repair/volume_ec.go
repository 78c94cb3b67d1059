package repair

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/wolke-cloud/wolke/core"
	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/meta/metapb"
)

// healCoded rebuilds the shards of an erasure coded volume chunk
// (ExtentRef.data_shards > 0: disks[i] holds shard i) that are on disks
// no longer active: it decodes them from k readable shards, writes each to
// an active disk of a server the chunk does not use, and swaps the disks
// in meta position by position. Coded chunks are never patched, so the
// rebuilt shards keep the chunk id.
func (w *Worker) healCoded(ctx context.Context, rep ChunkReplacer, ref *metapb.ExtentRef, disks map[string]*metapb.Disk, live map[string]bool) (volumeOutcome, error) {
	const op = "repair.healCoded"
	idx, _, ok := volumeChunkIndex(ref.ChunkId)
	if !ok {
		return volNoPlace, errs.Errorf(op, errs.Invalid, "chunk id %q is not a volume chunk's", ref.ChunkId)
	}
	k := int(ref.DataShards)
	var keep []string
	readable := 0
	for _, d := range ref.Disks {
		dd := disks[d]
		if dd != nil && dd.State == metapb.DiskState_DISK_STATE_ACTIVE {
			keep = append(keep, d)
		}
		if usable(dd) && live[d] {
			readable++
		}
	}
	bad := len(ref.Disks) - len(keep)
	if bad == 0 {
		return volHealed, nil
	}
	if readable < k {
		return volNoPlace, nil
	}
	cands := w.volumeTargets(ref.Disks, keep, disks, live)
	if distinctServers(cands, disks) < bad {
		// No server the chunk does not use yet is left for a shard (k+m
		// servers, one lost): three replicas on the servers there are
		// lose no more to failures.
		return w.replicateCoded(ctx, rep, ref, idx, disks, live)
	}
	req := &metapb.ReplaceChunkRequest{ChunkId: ref.ChunkId, Index: idx, Disks: ref.Disks, NewChunkId: ref.ChunkId,
		NewDisks: tentative(ref.Disks, keep, cands, disks)}
	if out, err := w.checkSwap(ctx, rep, req); out != volHealed {
		return out, err
	}
	shards, err := w.decodeCoded(ctx, ref, disks, live)
	if err != nil {
		return volFailed, err
	}
	var written []string
	undo := func() {
		for _, d := range written {
			_ = w.deps.Shards.DeleteShard(context.WithoutCancel(ctx), d, ref.ChunkId)
		}
	}
	taken := map[string]bool{}
	for _, d := range keep {
		taken[disks[d].Server] = true
	}
	req.NewDisks = make([]string, len(ref.Disks))
	next := 0
	for i, d := range ref.Disks {
		if contains(keep, d) {
			req.NewDisks[i] = d
			continue
		}
		var last error
		for ; req.NewDisks[i] == "" && next < len(cands); next++ {
			c := cands[next]
			if taken[disks[c].Server] {
				continue
			}
			if err := w.lim.Wait(ctx, len(shards[i])); err != nil {
				undo()
				return volFailed, err
			}
			if err := w.deps.Shards.WriteShard(ctx, c, ref.ChunkId, shards[i]); err != nil {
				if ctx.Err() != nil {
					undo()
					return volFailed, err
				}
				last = err
				continue
			}
			written = append(written, c)
			req.NewDisks[i], taken[disks[c].Server] = c, true
		}
		if req.NewDisks[i] == "" {
			undo()
			return volFailed, errs.E(op, errs.Unavailable, "no disk took the shard", last)
		}
	}
	// Shards given up on disks still reachable (draining) go.
	out, err := w.swap(ctx, rep, req, ref, undo, func(d string) bool { return leaving(disks[d]) && live[d] })
	if out == volHealed {
		w.repaired(int64(len(shards[0])) * int64(len(written)))
		w.log.Info("volume chunk shards rebuilt", "chunk", ref.ChunkId, "disks", req.NewDisks, "from", ref.Disks)
	}
	return out, err
}

// decodeCoded reads every readable shard of ref and decodes the others.
func (w *Worker) decodeCoded(ctx context.Context, ref *metapb.ExtentRef, disks map[string]*metapb.Disk, live map[string]bool) ([][]byte, error) {
	const op = "repair.decodeCoded"
	k, m := int(ref.DataShards), len(ref.Disks)-int(ref.DataShards)
	enc, err := core.NewCodec(k, m)
	if err != nil {
		return nil, err
	}
	shards := make([][]byte, len(ref.Disks))
	errl := make([]error, len(ref.Disks))
	var wg sync.WaitGroup
	for i, d := range ref.Disks {
		if !usable(disks[d]) || !live[d] {
			continue
		}
		wg.Go(func() {
			b, err := w.deps.Shards.ReadShard(ctx, d, ref.ChunkId)
			if err == nil {
				shards[i] = b
			}
			errl[i] = err
		})
	}
	wg.Wait()
	got, size := 0, -1
	for i, b := range shards {
		if b == nil {
			continue
		}
		if size >= 0 && len(b) != size {
			return nil, errs.Errorf(op, errs.Corrupt, "chunk %s: shard %d is %d bytes, shard sizes differ", ref.ChunkId, i, len(b))
		}
		size = len(b)
		got++
	}
	if got < k {
		return nil, errs.E(op, errs.Unavailable, fmt.Sprintf("chunk %s: %d shards readable, %d needed", ref.ChunkId, got, k), errors.Join(errl...))
	}
	if err := enc.Reconstruct(shards); err != nil {
		return nil, errs.E(op, errs.Corrupt, err)
	}
	return shards, nil
}

// replicateCoded moves the coded chunk ref to a new chunk replicated on
// 3 active disks of distinct servers: decoded from k readable shards,
// written, swapped in meta (ReplaceChunkRequest.replicate); the old
// shards still reachable are deleted then (those on lost disks never
// come back: meta no longer maps them, and volume garbage collection
// deletes any it meets).
func (w *Worker) replicateCoded(ctx context.Context, rep ChunkReplacer, ref *metapb.ExtentRef, idx uint64, disks map[string]*metapb.Disk, live map[string]bool) (volumeOutcome, error) {
	const op = "repair.replicateCoded"
	const replicas = 3
	_, prefix, _ := volumeChunkIndex(ref.ChunkId)
	cands := w.volumeTargets(nil, nil, disks, live)
	if distinctServers(cands, disks) < replicas {
		return volNoPlace, nil
	}
	req := &metapb.ReplaceChunkRequest{ChunkId: ref.ChunkId, Index: idx, Disks: ref.Disks,
		NewChunkId: prefix + "." + newChunkSuffix(), Replicate: true,
		NewDisks: tentative(make([]string, replicas), nil, cands, disks)}
	if out, err := w.checkSwap(ctx, rep, req); out != volHealed {
		return out, err
	}
	shards, err := w.decodeCoded(ctx, ref, disks, live)
	if err != nil {
		return volFailed, err
	}
	var data []byte
	for _, b := range shards[:ref.DataShards] {
		data = append(data, b...)
	}
	var written []string
	undo := func() {
		for _, d := range written {
			_ = w.deps.Shards.DeleteShard(context.WithoutCancel(ctx), d, req.NewChunkId)
		}
	}
	taken := map[string]bool{}
	var last error
	for _, c := range cands {
		if len(written) == replicas {
			break
		}
		if taken[disks[c].Server] {
			continue
		}
		if err := w.lim.Wait(ctx, len(data)); err != nil {
			undo()
			return volFailed, err
		}
		if err := w.deps.Shards.WriteShard(ctx, c, req.NewChunkId, data); err != nil {
			if ctx.Err() != nil {
				undo()
				return volFailed, err
			}
			last = err
			continue
		}
		written = append(written, c)
		taken[disks[c].Server] = true
	}
	if len(written) < replicas {
		undo()
		return volFailed, errs.E(op, errs.Unavailable, "too few disks took a replica", last)
	}
	req.NewDisks = written
	// Every old shard still reachable goes: the new id is all meta maps.
	out, err := w.swap(ctx, rep, req, ref, undo, func(d string) bool { return live[d] })
	if out == volHealed {
		w.repaired(int64(len(data)) * replicas)
		w.log.Info("volume coded chunk replicated", "chunk", ref.ChunkId, "new_chunk", req.NewChunkId, "disks", req.NewDisks, "from", ref.Disks)
	}
	return out, err
}

// restoreShards writes back the shards of the coded chunk ref that are
// missing on active disks, decoded from the others, under the same id:
// no map changes.
func (w *Worker) restoreShards(ctx context.Context, ref *metapb.ExtentRef, disks map[string]*metapb.Disk, live, missing map[string]bool) (volumeOutcome, error) {
	readable := map[string]bool{}
	for d := range live {
		readable[d] = live[d] && !missing[d]
	}
	shards, err := w.decodeCoded(ctx, ref, disks, readable)
	if err != nil {
		return volFailed, err
	}
	n := int64(0)
	for i, d := range ref.Disks {
		if !missing[d] {
			continue
		}
		if err := w.lim.Wait(ctx, len(shards[i])); err != nil {
			return volFailed, err
		}
		if err := w.restoreCopy(ctx, d, ref.ChunkId, shards[i]); err != nil {
			return volFailed, err
		}
		n += int64(len(shards[i]))
	}
	w.repaired(n)
	w.log.Info("volume chunk shards restored", "chunk", ref.ChunkId, "on", sortedKeys(missing))
	return volHealed, nil
}
