package fsm

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/meta/metapb"
	"google.golang.org/protobuf/proto"
)

// Re-replication of block volume chunks (the repair worker's ReplaceChunk).
//
// A chunk is mapped at one extent index by the volume that wrote it and by
// every snapshot and volume copied from it (copyMap keeps indexes), so the
// maps holding it are found by looking that index up in every volume and
// snapshot: one point read per map, no reverse index to keep. That search
// runs in CheckReplaceChunk, a read off the raft log; ReplaceChunk is
// given the maps found and only checks them (their count must equal the
// chunk's reference count), so applying it costs a few reads whatever the
// number of volumes and snapshots.

// chunkMap is one extent record that maps a chunk.
type chunkMap struct {
	key []byte
	ext *metapb.Extent
	vol *metapb.Volume // nil for a snapshot
}

// chunkMaps returns the extent records that map chunk at idx.
func (v *volTx) chunkMaps(chunk string, idx uint64) ([]chunkMap, error) {
	var out []chunkMap
	look := func(prefix []byte, vol *metapb.Volume) error {
		key := extentKey(prefix, idx)
		e := &metapb.Extent{}
		found, err := getProto(v.r, key, e)
		if err != nil || !found || e.ChunkId != chunk {
			return err
		}
		out = append(out, chunkMap{key: key, ext: e, vol: vol})
		return nil
	}
	err := scan(v.r, []byte(prefixVolumes), func(b []byte) error {
		vol := &metapb.Volume{}
		if err := proto.Unmarshal(b, vol); err != nil {
			return err
		}
		return look(volExtentPrefix(vol.Id), vol)
	})
	if err != nil {
		return nil, err
	}
	err = scan(v.r, []byte(prefixSnapshots), func(b []byte) error {
		s := &metapb.Snapshot{}
		if err := proto.Unmarshal(b, s); err != nil {
			return err
		}
		return look(snapExtentPrefix(s.Id), nil)
	})
	return out, err
}

// namedMaps returns the extent records of the named volumes and
// snapshots that map chunk at idx.
func (v *volTx) namedMaps(op, chunk string, idx uint64, vols, snaps []string) ([]chunkMap, error) {
	var out []chunkMap
	look := func(prefix []byte, vol *metapb.Volume) error {
		key := extentKey(prefix, idx)
		e := &metapb.Extent{}
		found, err := getProto(v.r, key, e)
		if err != nil {
			return err
		}
		if !found || e.ChunkId != chunk {
			return errs.Errorf(op, errs.Precondition, "extent %d of %s no longer maps chunk %s", idx, prefix, chunk)
		}
		out = append(out, chunkMap{key: key, ext: e, vol: vol})
		return nil
	}
	for _, id := range vols {
		vol, err := v.getVolume(op, id)
		if errs.Is(err, errs.NotFound) {
			return nil, errs.Errorf(op, errs.Precondition, "volume %q is gone", id)
		} else if err != nil {
			return nil, err
		}
		if err := look(volExtentPrefix(id), vol); err != nil {
			return nil, err
		}
	}
	for _, id := range snaps {
		if _, err := v.getSnapshot(op, id); errs.Is(err, errs.NotFound) {
			return nil, errs.Errorf(op, errs.Precondition, "snapshot %q is gone", id)
		} else if err != nil {
			return nil, err
		}
		if err := look(snapExtentPrefix(id), nil); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// checkReplace makes the compare-and-set checks of a ReplaceChunk at time
// now and returns the chunk's reference record and the maps to change:
// with search those found in every volume and snapshot, else the ones the
// request names.
func (v *volTx) checkReplace(op string, req *metapb.ReplaceChunkRequest, now int64, search bool) (*metapb.ExtentRef, []chunkMap, error) {
	if req.ChunkId == "" || req.NewChunkId == "" || len(req.NewDisks) == 0 {
		return nil, nil, errs.E(op, errs.Invalid, "want a chunk, a new chunk and new disks")
	}
	if dupes(req.NewDisks) {
		return nil, nil, errs.E(op, errs.Invalid, "new disks repeat")
	}
	ref := &metapb.ExtentRef{}
	found, err := getProto(v.r, extentRefKey(req.ChunkId), ref)
	if err != nil {
		return nil, nil, err
	}
	if !found {
		return nil, nil, errs.Errorf(op, errs.Precondition, "chunk %s is no longer mapped", req.ChunkId)
	}
	if !slices.Equal(ref.Disks, req.Disks) {
		return nil, nil, errs.Errorf(op, errs.Precondition, "chunk %s moved: disks %v, expected %v", req.ChunkId, ref.Disks, req.Disks)
	}
	switch {
	case req.Replicate && (ref.DataShards == 0 || req.NewChunkId == req.ChunkId):
		return nil, nil, errs.Errorf(op, errs.Invalid, "chunk %s: only a coded chunk is replicated, to a new chunk id", req.ChunkId)
	case !req.Replicate && ref.DataShards > 0 && len(req.NewDisks) != len(ref.Disks):
		// disks[i] holds shard i: a shard is replaced where it was.
		return nil, nil, errs.Errorf(op, errs.Invalid, "erasure coded chunk %s has %d shards, not %d", req.ChunkId, len(ref.Disks), len(req.NewDisks))
	}
	var maps []chunkMap
	if search {
		maps, err = v.chunkMaps(req.ChunkId, req.Index)
	} else {
		maps, err = v.namedMaps(op, req.ChunkId, req.Index, req.Volumes, req.Snapshots)
	}
	if err != nil {
		return nil, nil, err
	}
	if uint64(len(maps)) != ref.Refs {
		if !search {
			// A map was made from one of these since the check.
			return nil, nil, errs.Errorf(op, errs.Precondition, "chunk %s: %d maps named, %d references", req.ChunkId, len(maps), ref.Refs)
		}
		// A wrong index (the caller's parse of the chunk id) or a broken
		// reference count: nothing a retry fixes.
		return nil, nil, errs.Errorf(op, errs.Internal, "chunk %s: %d maps at extent %d, %d references", req.ChunkId, len(maps), req.Index, ref.Refs)
	}
	for _, m := range maps {
		if m.vol == nil {
			continue
		}
		if attached(m.vol, now) {
			return nil, nil, errs.Errorf(op, errs.Precondition, "volume %q is attached: its writer moves its chunks", m.vol.Id)
		}
		if req.ReadIndex != 0 && m.vol.AttachIndex > req.ReadIndex {
			return nil, nil, errs.Errorf(op, errs.Precondition, "volume %q was attached since index %d", m.vol.Id, req.ReadIndex)
		}
	}
	if req.NewChunkId != req.ChunkId {
		other := &metapb.ExtentRef{}
		if found, err := getProto(v.r, extentRefKey(req.NewChunkId), other); err != nil {
			return nil, nil, err
		} else if found {
			return nil, nil, errs.Errorf(op, errs.Exists, "chunk %s is already mapped", req.NewChunkId)
		}
	}
	return ref, maps, nil
}

// snapshotOfKey returns the snapshot id of a snapx/<id>/<index> key.
func snapshotOfKey(key []byte) string {
	k := string(key[len(prefixSnapExtents) : len(key)-8])
	return strings.TrimSuffix(k, "/")
}

func dupes(s []string) bool {
	seen := map[string]bool{}
	for _, x := range s {
		if seen[x] {
			return true
		}
		seen[x] = true
	}
	return false
}

// replaceChunk moves every map of req.ChunkId to req.NewChunkId on
// req.NewDisks. A ReplaceChunk without read_index is refused: the caller
// must have checked (CheckReplaceChunk) before it copied.
func (v *volTx) replaceChunk(req *metapb.ReplaceChunkRequest) (proto.Message, error) {
	const op = "meta.ReplaceChunk"
	if req.ReadIndex == 0 {
		return nil, errs.E(op, errs.Invalid, "missing read index")
	}
	ref, maps, err := v.checkReplace(op, req, v.now, false)
	if err != nil {
		return nil, err
	}
	for _, m := range maps {
		e := proto.CloneOf(m.ext)
		e.ChunkId, e.Disks = req.NewChunkId, slices.Clone(req.NewDisks)
		if req.Replicate {
			e.DataShards = 0
		}
		if err := v.set(op, m.key, e); err != nil {
			return nil, err
		}
	}
	if req.NewChunkId == req.ChunkId {
		ref.Disks = slices.Clone(req.NewDisks)
		if err := v.set(op, extentRefKey(ref.ChunkId), ref); err != nil {
			return nil, err
		}
		return &metapb.ReplaceChunkResponse{Maps: uint64(len(maps))}, nil
	}
	if err := v.del(op, extentRefKey(req.ChunkId)); err != nil {
		return nil, err
	}
	// The old chunk is deleted from the disks it keeps sharing with the new
	// one; the disks given up are lost or leaving.
	var keep []string
	for _, d := range ref.Disks {
		if slices.Contains(req.NewDisks, d) {
			keep = append(keep, d)
		}
	}
	if err := v.set(op, garbageKey(req.ChunkId), &metapb.ExtentRef{ChunkId: req.ChunkId, Disks: keep}); err != nil {
		return nil, err
	}
	nref := &metapb.ExtentRef{ChunkId: req.NewChunkId, Disks: slices.Clone(req.NewDisks), Refs: ref.Refs, DataShards: ref.DataShards}
	if req.Replicate {
		nref.DataShards = 0
	}
	if err := v.set(op, extentRefKey(req.NewChunkId), nref); err != nil {
		return nil, err
	}
	return &metapb.ReplaceChunkResponse{Maps: uint64(len(maps))}, nil
}

// CheckReplaceChunk makes ReplaceChunk's checks without changing anything
// and answers the raft index it read at: the caller copies the chunk after
// this and passes the index on, so a volume attached in between (whose
// writer may have changed the chunk in place) refuses the swap.
func (f *FSM) CheckReplaceChunk(_ context.Context, req *metapb.ReplaceChunkRequest) (*metapb.ReplaceChunkResponse, error) {
	const op = "meta.CheckReplaceChunk"
	resp := &metapb.ReplaceChunkResponse{}
	err := f.view(func(r reader) error {
		idx, err := readApplied(r)
		if err != nil {
			return err
		}
		v := &volTx{tx: &tx{r: r}, refs: map[string]*metapb.ExtentRef{}}
		c := proto.CloneOf(req)
		c.ReadIndex = 0
		_, maps, err := v.checkReplace(op, c, time.Now().UnixNano(), true)
		if err != nil {
			return err
		}
		resp.Maps, resp.ReadIndex = uint64(len(maps)), idx
		for _, m := range maps {
			if m.vol != nil {
				resp.Volumes = append(resp.Volumes, m.vol.Id)
			} else {
				resp.Snapshots = append(resp.Snapshots, snapshotOfKey(m.key))
			}
		}
		return nil
	})
	return resp, err
}
