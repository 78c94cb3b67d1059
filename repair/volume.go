package repair

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	mrand "math/rand/v2"
	"strconv"
	"strings"
	"sync"

	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/internal/spread"
	"github.com/wolke-cloud/wolke/meta/metapb"
	"google.golang.org/grpc"
)

// Re-replication of block volume chunks. A volume extent is one chunk
// replicated on several disks of distinct servers (metapb.Extent); a
// replica on a disk that is no longer active (lost, draining, removed) is
// replaced by a copy on an active disk of a server the chunk does not use
// yet, and meta's ReplaceChunk swaps the disks in every map holding the
// chunk (the volume and its snapshots) at once, as a compare-and-set.
//
// Chunks of a volume attached by a writer are left to that writer
// (block/volume moves its extents off bad disks itself): it may patch
// them in place, and only it knows their current generation. meta
// enforces this: CheckReplaceChunk, read before the copy, answers a raft
// index, and ReplaceChunk refuses if a mapping volume is attached now or
// was attached after that index.

// ChunkReplacer swaps the replicas of a volume chunk in meta
// (metapb.RepairClient). Deps.Extents implementing it turns healing on.
type ChunkReplacer interface {
	CheckReplaceChunk(ctx context.Context, in *metapb.ReplaceChunkRequest, opts ...grpc.CallOption) (*metapb.ReplaceChunkResponse, error)
	ReplaceChunk(ctx context.Context, in *metapb.ReplaceChunkRequest, opts ...grpc.CallOption) (*metapb.ReplaceChunkResponse, error)
}

// genReader tells a chunk replica's generation (*chunkclient.Client); in
// place writes bump it. Without it chunks are taken to be at generation 0.
type genReader interface {
	ShardGen(ctx context.Context, diskID, chunkID string) (uint64, error)
}

// volumeChunkIndex parses a volume chunk id, "<volume id>.<16 hex digits:
// extent index>.<suffix>" (block/volume), into the extent index and the
// part before the suffix.
func volumeChunkIndex(id string) (idx uint64, prefix string, ok bool) {
	parts := strings.Split(id, ".")
	if len(parts) != 3 || len(parts[1]) != 16 {
		return 0, "", false
	}
	idx, err := strconv.ParseUint(parts[1], 16, 64)
	if err != nil {
		return 0, "", false
	}
	return idx, parts[0] + "." + parts[1], true
}

func newChunkSuffix() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// volumeOutcome is what healing one chunk came to.
type volumeOutcome int

const (
	volHealed   volumeOutcome = iota
	volAttached               // a writer holds the volume: it heals its chunks
	volNoPlace                // no source replica or no disk to copy to
	volFailed
)

// healVolumes re-replicates every volume chunk with a replica on a disk
// that is not active and publishes how many are left at risk. It does
// nothing without Deps.Extents implementing ChunkReplacer.
func (w *Worker) healVolumes(ctx context.Context, disks map[string]*metapb.Disk, live map[string]bool) error {
	rep, ok := w.deps.Extents.(ChunkReplacer)
	if !ok || w.deps.Extents == nil {
		return nil
	}
	var off []string
	for _, id := range sortedKeys(disks) {
		if disks[id].State != metapb.DiskState_DISK_STATE_ACTIVE {
			off = append(off, id)
		}
	}
	if len(off) == 0 {
		w.update(func(s *Status) { s.VolumeExtentsAtRisk, s.VolumeChunksWaiting = 0, 0 })
		w.m.volAtRisk.Set(0)
		return nil
	}
	var (
		mu       sync.Mutex
		left     int64
		waiting  int64
		wg       sync.WaitGroup
		firstErr error
	)
	sem := make(chan struct{}, w.cfg.Workers)
	for after := []byte(nil); ; {
		resp, err := w.deps.Extents.ScanExtents(ctx, &metapb.ScanExtentsRequest{After: after, Limit: int32(w.cfg.ScanPage), Disks: off})
		if err != nil {
			firstErr = err
			break
		}
		for _, ref := range resp.Extents {
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				out, err := w.healChunk(ctx, rep, ref, disks, live, nil)
				mu.Lock()
				defer mu.Unlock()
				if out != volHealed {
					left++
				}
				if out == volAttached {
					waiting++
				}
				if err != nil && out == volFailed {
					w.log.Warn("volume chunk re-replication failed", "chunk", ref.ChunkId, "err", err)
				}
			})
		}
		if len(resp.Next) == 0 || ctx.Err() != nil {
			break
		}
		after = resp.Next
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	if err := ctx.Err(); err != nil {
		return errs.E("repair.healVolumes", errs.Canceled, err)
	}
	w.update(func(s *Status) { s.VolumeExtentsAtRisk, s.VolumeChunksWaiting = left, waiting })
	w.m.volAtRisk.Set(float64(left))
	return nil
}

// healChunk gives chunk ref a replica on an active disk for each replica
// it has on a disk that is not: it copies the chunk from a readable
// replica and swaps the disks in meta. The copy keeps the chunk id when
// every source replica is at generation 0 (never patched in place: a copy
// is identical, generation included); otherwise the chunk moves to a new
// id written on every disk of the new list, so no replica can ever be
// taken for another generation.
//
// missing names active disks the chunk is mapped on but no longer has
// (scrubbing deleted a damaged copy): they are replaced like disks that
// are not active.
func (w *Worker) healChunk(ctx context.Context, rep ChunkReplacer, ref *metapb.ExtentRef, disks map[string]*metapb.Disk, live, missing map[string]bool) (volumeOutcome, error) {
	const op = "repair.healChunk"
	if ref.DataShards > 0 {
		return w.healCoded(ctx, rep, ref, disks, live)
	}
	idx, prefix, ok := volumeChunkIndex(ref.ChunkId)
	if !ok {
		return volNoPlace, errs.Errorf(op, errs.Invalid, "chunk id %q is not a volume chunk's", ref.ChunkId)
	}
	var keep, sources []string
	bad := 0
	for _, d := range ref.Disks {
		dd := disks[d]
		if dd != nil && dd.State == metapb.DiskState_DISK_STATE_ACTIVE && !missing[d] {
			keep = append(keep, d)
		} else {
			bad++
		}
		if usable(dd) && live[d] && !missing[d] {
			sources = append(sources, d)
		}
	}
	if bad == 0 {
		return volHealed, nil
	}
	cands := w.volumeTargets(ref.Disks, keep, disks, live)
	if len(sources) == 0 || distinctServers(cands, disks) < bad {
		return volNoPlace, nil
	}
	// Generations of the readable replicas: the copy is taken from one at
	// the highest.
	gens := make([]uint64, len(sources))
	gr, haveGen := w.deps.Shards.(genReader)
	best, agree := uint64(0), true
	if haveGen {
		n := 0
		for _, d := range sources {
			g, err := gr.ShardGen(ctx, d, ref.ChunkId)
			if err != nil {
				continue
			}
			if n > 0 && g != best {
				agree = false
			}
			best = max(best, g)
			gens[n], sources[n] = g, d
			n++
		}
		sources, gens = sources[:n], gens[:n]
		if n == 0 {
			return volNoPlace, nil
		}
	}
	req := &metapb.ReplaceChunkRequest{ChunkId: ref.ChunkId, Index: idx, Disks: ref.Disks, NewChunkId: ref.ChunkId}
	newID := !agree || best != 0
	if newID {
		req.NewChunkId = prefix + "." + newChunkSuffix()
	}
	// The check wants the disks the swap would likely take; the swap
	// itself names those the copies went to.
	req.NewDisks = tentative(ref.Disks, keep, cands, disks)
	if out, err := w.checkSwap(ctx, rep, req); out != volHealed {
		return out, err
	}
	data, err := w.readVolumeChunk(ctx, ref.ChunkId, sources, gens, best, haveGen)
	if err != nil {
		return volFailed, err
	}
	var written []string
	undo := func() {
		for _, d := range written {
			_ = w.deps.Shards.DeleteShard(context.WithoutCancel(ctx), d, req.NewChunkId)
		}
	}
	put := func(d string) error {
		if err := w.lim.Wait(ctx, len(data)); err != nil {
			return err
		}
		if err := w.deps.Shards.WriteShard(ctx, d, req.NewChunkId, data); err != nil {
			return err
		}
		written = append(written, d)
		return nil
	}
	// Each replica given up goes to the next candidate of a server not yet
	// used that takes the copy (a full disk is passed over); a new id is
	// written to the kept replicas' disks too.
	taken := map[string]bool{}
	for _, d := range keep {
		taken[disks[d].Server] = true
	}
	req.NewDisks = make([]string, len(ref.Disks))
	next := 0
	for i, d := range ref.Disks {
		if contains(keep, d) {
			if newID {
				if err := put(d); err != nil {
					undo()
					return volFailed, err
				}
			}
			req.NewDisks[i] = d
			continue
		}
		var last error
		for ; req.NewDisks[i] == "" && next < len(cands); next++ {
			c := cands[next]
			if taken[disks[c].Server] {
				continue
			}
			if err := put(c); err != nil {
				if ctx.Err() != nil {
					undo()
					return volFailed, err
				}
				last = err
				continue
			}
			req.NewDisks[i], taken[disks[c].Server] = c, true
		}
		if req.NewDisks[i] == "" {
			undo()
			return volFailed, errs.E("repair.healChunk", errs.Unavailable, "no disk took the copy", last)
		}
	}
	// The replicas given up on disks still reachable (draining) go once
	// nothing maps them there any more.
	out, err := w.swap(ctx, rep, req, ref, undo, func(d string) bool { return leaving(disks[d]) && live[d] })
	if out == volHealed {
		w.repaired(int64(len(data)) * int64(len(written)))
		w.log.Info("volume chunk re-replicated", "chunk", ref.ChunkId, "new_chunk", req.NewChunkId, "disks", req.NewDisks, "from", ref.Disks)
	}
	return out, err
}

// checkSwap asks meta's CheckReplaceChunk for req and fills in the raft
// index and maps ReplaceChunk wants. It answers volHealed when the caller
// may copy and swap, volAttached when a writer holds a mapping volume (or
// the chunk moved since the scan: the next pass sees it).
func (w *Worker) checkSwap(ctx context.Context, rep ChunkReplacer, req *metapb.ReplaceChunkRequest) (volumeOutcome, error) {
	chk, err := rep.CheckReplaceChunk(ctx, req)
	if errs.Is(err, errs.Precondition) {
		return volAttached, nil
	}
	if err != nil {
		return volFailed, err
	}
	req.ReadIndex, req.Volumes, req.Snapshots = chk.ReadIndex, chk.Volumes, chk.Snapshots
	return volHealed, nil
}

// swap commits req, for which the caller wrote copies (undo deletes them),
// with meta's ReplaceChunk, then deletes ref's chunk from the disks of
// ref.Disks that req.NewDisks gave up and gone names (those still
// reachable: nothing maps the chunk there any more).
func (w *Worker) swap(ctx context.Context, rep ChunkReplacer, req *metapb.ReplaceChunkRequest, ref *metapb.ExtentRef, undo func(), gone func(disk string) bool) (volumeOutcome, error) {
	if _, err := rep.ReplaceChunk(ctx, req); err != nil {
		if errs.Is(err, errs.Precondition) || errs.Is(err, errs.Exists) || errs.Is(err, errs.Invalid) {
			undo() // surely not committed
		}
		if errs.Is(err, errs.Precondition) {
			return volAttached, nil
		}
		return volFailed, err
	}
	for _, d := range ref.Disks {
		if gone(d) && !contains(req.NewDisks, d) {
			_ = w.deps.Shards.DeleteShard(ctx, d, ref.ChunkId)
		}
	}
	return volHealed, nil
}

// leaving reports whether d is a disk that is not active.
func leaving(d *metapb.Disk) bool {
	return d != nil && d.State != metapb.DiskState_DISK_STATE_ACTIVE
}

// repaired counts one volume chunk repaired with n bytes written.
func (w *Worker) repaired(n int64) {
	w.m.volChunks.Inc()
	w.m.volBytes.Add(float64(n))
	w.update(func(s *Status) {
		s.VolumeChunksRepaired++
		s.VolumeBytesRepaired += n
	})
}

// readVolumeChunk reads the chunk from a source at generation best and
// checks the generation did not move while it read.
func (w *Worker) readVolumeChunk(ctx context.Context, chunk string, sources []string, gens []uint64, best uint64, haveGen bool) ([]byte, error) {
	const op = "repair.readVolumeChunk"
	var last error
	for i, d := range sources {
		if haveGen && gens[i] != best {
			continue
		}
		data, err := w.deps.Shards.ReadShard(ctx, d, chunk)
		if err == nil && haveGen {
			var g uint64
			g, err = w.deps.Shards.(genReader).ShardGen(ctx, d, chunk)
			if err == nil && g != best {
				err = errs.Errorf(op, errs.Precondition, "chunk %s on %s moved to generation %d while copied", chunk, d, g)
			}
		}
		if err == nil {
			return data, nil
		}
		last = err
	}
	if last == nil {
		last = errs.Errorf(op, errs.Unavailable, "no replica of chunk %s at generation %d", chunk, best)
	}
	return nil, last
}

// volumeTargets returns the active, live disks a chunk now on onDisks may
// be copied to, in the order block volume placement would take them
// (internal/spread: servers none of keep uses, then zones least used).
func (w *Worker) volumeTargets(onDisks, keep []string, disks map[string]*metapb.Disk, live map[string]bool) []string {
	servers := map[string]bool{}
	var used []spread.Place
	for _, d := range keep {
		dd := disks[d]
		servers[dd.Server] = true
		used = append(used, spread.Place{Server: dd.Server, Zone: dd.Zone})
	}
	var cands []string
	var places []spread.Place
	for _, id := range sortedKeys(disks) {
		d := disks[id]
		if d.State != metapb.DiskState_DISK_STATE_ACTIVE || !live[id] || servers[d.Server] || contains(onDisks, id) {
			continue
		}
		cands = append(cands, id)
		places = append(places, spread.Place{Server: d.Server, Zone: d.Zone})
	}
	out := make([]string, 0, len(cands))
	for _, i := range spread.Order(places, used, mrand.IntN) {
		out = append(out, cands[i])
	}
	return out
}

// distinctServers counts the servers of cands.
func distinctServers(cands []string, disks map[string]*metapb.Disk) int {
	seen := map[string]bool{}
	for _, c := range cands {
		seen[disks[c].Server] = true
	}
	return len(seen)
}

// tentative is the disk list a swap would have if the first candidates of
// distinct servers took the copies.
func tentative(onDisks, keep, cands []string, disks map[string]*metapb.Disk) []string {
	taken := map[string]bool{}
	out := make([]string, 0, len(onDisks))
	next := 0
	for _, d := range onDisks {
		if contains(keep, d) {
			out = append(out, d)
			continue
		}
		for next < len(cands) && taken[disks[cands[next]].Server] {
			next++
		}
		if next < len(cands) {
			taken[disks[cands[next]].Server] = true
			out = append(out, cands[next])
			next++
		}
	}
	return out
}

func contains(s []string, x string) bool {
	for _, y := range s {
		if y == x {
			return true
		}
	}
	return false
}
