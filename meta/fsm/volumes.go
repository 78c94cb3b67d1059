package fsm

import (
	"encoding/binary"
	"strings"

	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/meta/metapb"
	"google.golang.org/protobuf/proto"
)

// Block volume commands (range 64–95).
const (
	OpCreateVolume   Op = 64
	OpDeleteVolume   Op = 65
	OpModifyVolume   Op = 66
	OpAttachVolume   Op = 67
	OpDetachVolume   Op = 68
	OpCommitExtent   Op = 69
	OpCreateSnapshot Op = 70
	OpDeleteSnapshot Op = 71
	OpDeleteGarbage  Op = 72
	OpReplaceChunk   Op = 73
)

var volumeOpNames = map[Op]string{
	OpCreateVolume: "CreateVolume", OpDeleteVolume: "DeleteVolume", OpModifyVolume: "ModifyVolume",
	OpAttachVolume: "AttachVolume", OpDetachVolume: "DetachVolume", OpCommitExtent: "CommitExtent",
	OpCreateSnapshot: "CreateSnapshot", OpDeleteSnapshot: "DeleteSnapshot", OpDeleteGarbage: "DeleteGarbage",
	OpReplaceChunk: "ReplaceChunk",
}

// Volume key layout:
//
//	vol/<volume id>                 Volume
//	volx/<volume id>/<index BE64>   Extent of the volume
//	snap/<snapshot id>              Snapshot
//	snapx/<snapshot id>/<index BE64> Extent of the snapshot
//	xref/<chunk id>                 ExtentRef: how many maps hold the chunk
//	xgc/<chunk id>                  ExtentRef of a chunk to delete
const (
	prefixVolumes      = "vol/"
	prefixVolExtents   = "volx/"
	prefixSnapshots    = "snap/"
	prefixSnapExtents  = "snapx/"
	prefixExtentRefs   = "xref/"
	prefixExtentGarbge = "xgc/"
)

func volumeKey(id string) []byte        { return []byte(prefixVolumes + id) }
func snapshotKey(id string) []byte      { return []byte(prefixSnapshots + id) }
func extentRefKey(chunk string) []byte  { return []byte(prefixExtentRefs + chunk) }
func garbageKey(chunk string) []byte    { return []byte(prefixExtentGarbge + chunk) }
func volExtentPrefix(id string) []byte  { return []byte(prefixVolExtents + id + "/") }
func snapExtentPrefix(id string) []byte { return []byte(prefixSnapExtents + id + "/") }

func extentKey(prefix []byte, idx uint64) []byte {
	return binary.BigEndian.AppendUint64(append([]byte(nil), prefix...), idx)
}

// volumeRequest returns an empty request message for a volume op.
func volumeRequest(op Op) (proto.Message, bool) {
	switch op {
	case OpCreateVolume:
		return &metapb.CreateVolumeRequest{}, true
	case OpDeleteVolume:
		return &metapb.DeleteVolumeRequest{}, true
	case OpModifyVolume:
		return &metapb.ModifyVolumeRequest{}, true
	case OpAttachVolume:
		return &metapb.AttachVolumeRequest{}, true
	case OpDetachVolume:
		return &metapb.DetachVolumeRequest{}, true
	case OpCommitExtent:
		return &metapb.CommitExtentRequest{}, true
	case OpCreateSnapshot:
		return &metapb.CreateSnapshotRequest{}, true
	case OpDeleteSnapshot:
		return &metapb.DeleteSnapshotRequest{}, true
	case OpDeleteGarbage:
		return &metapb.DeleteGarbageRequest{}, true
	case OpReplaceChunk:
		return &metapb.ReplaceChunkRequest{}, true
	}
	return nil, false
}

// execVolume runs a volume command; ok is false for other ops.
func (t *tx) execVolume(c *Command) (resp proto.Message, ok bool, err error) {
	v := &volTx{tx: t, refs: map[string]*metapb.ExtentRef{}}
	switch c.Op {
	case OpCreateVolume:
		resp, err = v.createVolume(c.Req.(*metapb.CreateVolumeRequest))
	case OpDeleteVolume:
		resp, err = v.deleteVolume(c.Req.(*metapb.DeleteVolumeRequest))
	case OpModifyVolume:
		resp, err = v.modifyVolume(c.Req.(*metapb.ModifyVolumeRequest))
	case OpAttachVolume:
		resp, err = v.attachVolume(c.Req.(*metapb.AttachVolumeRequest))
	case OpDetachVolume:
		resp, err = v.detachVolume(c.Req.(*metapb.DetachVolumeRequest))
	case OpCommitExtent:
		resp, err = v.commitExtent(c.Req.(*metapb.CommitExtentRequest))
	case OpCreateSnapshot:
		resp, err = v.createSnapshot(c.Req.(*metapb.CreateSnapshotRequest))
	case OpDeleteSnapshot:
		resp, err = v.deleteSnapshot(c.Req.(*metapb.DeleteSnapshotRequest))
	case OpDeleteGarbage:
		resp, err = v.deleteGarbage(c.Req.(*metapb.DeleteGarbageRequest))
	case OpReplaceChunk:
		resp, err = v.replaceChunk(c.Req.(*metapb.ReplaceChunkRequest))
	default:
		return nil, false, nil
	}
	if err == nil {
		err = v.flushRefs()
	}
	return resp, true, err
}

// volTx is a volume command being applied. Reference counts changed by
// the command are kept in refs (the command's own writes are not visible
// to its reads) and written once at the end.
type volTx struct {
	*tx
	refs map[string]*metapb.ExtentRef
}

// ref returns the reference record of chunk, loading it once.
func (v *volTx) ref(e *metapb.Extent) (*metapb.ExtentRef, error) {
	if r, ok := v.refs[e.ChunkId]; ok {
		return r, nil
	}
	r := &metapb.ExtentRef{}
	found, err := getProto(v.r, extentRefKey(e.ChunkId), r)
	if err != nil {
		return nil, err
	}
	if !found {
		r = &metapb.ExtentRef{ChunkId: e.ChunkId, Disks: e.Disks, DataShards: e.DataShards}
	}
	v.refs[e.ChunkId] = r
	return r, nil
}

func (v *volTx) addRef(e *metapb.Extent, delta int) error {
	r, err := v.ref(e)
	if err != nil {
		return err
	}
	if delta < 0 && r.Refs < uint64(-delta) {
		return errs.Errorf("meta.volumes", errs.Internal, "chunk %s: reference count underflow", e.ChunkId)
	}
	r.Refs = uint64(int64(r.Refs) + int64(delta))
	return nil
}

// flushRefs writes the changed reference counts; a chunk nobody refers to
// any more moves to the garbage list.
func (v *volTx) flushRefs() error {
	const op = "meta.volumes"
	for chunk, r := range v.refs {
		if r.Refs == 0 {
			if err := v.del(op, extentRefKey(chunk)); err != nil {
				return err
			}
			if err := v.set(op, garbageKey(chunk), r); err != nil {
				return err
			}
			continue
		}
		if err := v.set(op, extentRefKey(chunk), r); err != nil {
			return err
		}
	}
	return nil
}

func (v *volTx) getVolume(op, id string) (*metapb.Volume, error) {
	vol := &metapb.Volume{}
	found, err := getProto(v.r, volumeKey(id), vol)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, errs.Errorf(op, errs.NotFound, "volume %q", id)
	}
	return vol, nil
}

func (v *volTx) getSnapshot(op, id string) (*metapb.Snapshot, error) {
	s := &metapb.Snapshot{}
	found, err := getProto(v.r, snapshotKey(id), s)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, errs.Errorf(op, errs.NotFound, "snapshot %q", id)
	}
	return s, nil
}

// copyMap copies the extent map under from into to, one more reference
// per chunk.
func (v *volTx) copyMap(op string, from, to []byte) error {
	exts, err := listExtents(v.r, from)
	if err != nil {
		return err
	}
	for _, e := range exts {
		if err := v.addRef(e, 1); err != nil {
			return err
		}
		if err := v.set(op, extentKey(to, e.Index), e); err != nil {
			return err
		}
	}
	return nil
}

// dropMap deletes the extent map under p, one reference less per chunk.
func (v *volTx) dropMap(op string, p []byte) error {
	exts, err := listExtents(v.r, p)
	if err != nil {
		return err
	}
	for _, e := range exts {
		if err := v.addRef(e, -1); err != nil {
			return err
		}
		if err := v.del(op, extentKey(p, e.Index)); err != nil {
			return err
		}
	}
	return nil
}

func (v *volTx) createVolume(req *metapb.CreateVolumeRequest) (proto.Message, error) {
	const op = "meta.CreateVolume"
	vol := proto.CloneOf(req.GetVolume())
	if vol == nil || !strings.HasPrefix(vol.Id, "vol-") {
		return nil, errs.E(op, errs.Invalid, "missing or invalid volume id")
	}
	if err := checkID(op, "volume id", vol.Id); err != nil {
		return nil, err
	}
	if vol.ExtentSize <= 0 || vol.ExtentSize%4096 != 0 {
		return nil, errs.Errorf(op, errs.Invalid, "extent size %d", vol.ExtentSize)
	}
	if found, err := getProto(v.r, volumeKey(vol.Id), &metapb.Volume{}); err != nil {
		return nil, err
	} else if found {
		return nil, errs.Errorf(op, errs.Exists, "volume %q", vol.Id)
	}
	if vol.SnapshotId != "" {
		s, err := v.getSnapshot(op, vol.SnapshotId)
		if err != nil {
			return nil, err
		}
		if s.ExtentSize != vol.ExtentSize {
			return nil, errs.Errorf(op, errs.Invalid, "extent size %d differs from the snapshot's %d", vol.ExtentSize, s.ExtentSize)
		}
		if vol.Size == 0 {
			vol.Size = s.VolumeSize
		}
		if vol.Size < s.VolumeSize {
			return nil, errs.Errorf(op, errs.Invalid, "size %d is below the snapshot's %d", vol.Size, s.VolumeSize)
		}
		if err := v.copyMap(op, snapExtentPrefix(s.Id), volExtentPrefix(vol.Id)); err != nil {
			return nil, err
		}
	}
	if vol.Size <= 0 || vol.Size%(1<<20) != 0 {
		return nil, errs.Errorf(op, errs.Invalid, "size %d: want a positive multiple of 1 MiB", vol.Size)
	}
	if vol.CreatedUnixNano == 0 {
		vol.CreatedUnixNano = v.now
	}
	vol.State = "available"
	vol.AttachHolder, vol.AttachExpiryUnixNano = "", 0
	if err := v.set(op, volumeKey(vol.Id), vol); err != nil {
		return nil, err
	}
	return &metapb.CreateVolumeResponse{Volume: vol}, nil
}

// attached reports whether someone holds the volume's writer lease at now.
func attached(vol *metapb.Volume, now int64) bool {
	return vol.AttachHolder != "" && vol.AttachExpiryUnixNano > now
}

func (v *volTx) deleteVolume(req *metapb.DeleteVolumeRequest) (proto.Message, error) {
	const op = "meta.DeleteVolume"
	vol, err := v.getVolume(op, req.Id)
	if err != nil {
		return nil, err
	}
	if attached(vol, v.now) {
		return nil, errs.Errorf(op, errs.Precondition, "volume %q is in use", req.Id)
	}
	if err := v.dropMap(op, volExtentPrefix(vol.Id)); err != nil {
		return nil, err
	}
	if err := v.del(op, volumeKey(vol.Id)); err != nil {
		return nil, err
	}
	return &metapb.DeleteVolumeResponse{}, nil
}

func (v *volTx) modifyVolume(req *metapb.ModifyVolumeRequest) (proto.Message, error) {
	const op = "meta.ModifyVolume"
	vol, err := v.getVolume(op, req.Id)
	if err != nil {
		return nil, err
	}
	if req.Size != 0 {
		if req.Size < vol.Size || req.Size%(1<<20) != 0 {
			return nil, errs.Errorf(op, errs.Invalid, "size %d: volumes only grow, in whole MiB (now %d)", req.Size, vol.Size)
		}
		vol.Size = req.Size
	}
	if req.VolumeType != "" {
		vol.VolumeType = req.VolumeType
	}
	if req.Iops != 0 {
		vol.Iops = req.Iops
	}
	if req.Throughput != 0 {
		vol.Throughput = req.Throughput
	}
	if err := v.set(op, volumeKey(vol.Id), vol); err != nil {
		return nil, err
	}
	return &metapb.ModifyVolumeResponse{Volume: vol}, nil
}

func (v *volTx) attachVolume(req *metapb.AttachVolumeRequest) (proto.Message, error) {
	const op = "meta.AttachVolume"
	if req.Holder == "" || req.TtlNanos <= 0 {
		return nil, errs.E(op, errs.Invalid, "attach needs a holder and a ttl")
	}
	vol, err := v.getVolume(op, req.Id)
	if err != nil {
		return nil, err
	}
	if vol.MultiAttach {
		vol.State = "in-use"
		return &metapb.AttachVolumeResponse{Volume: vol}, v.set(op, volumeKey(vol.Id), vol)
	}
	if attached(vol, v.now) && vol.AttachHolder != req.Holder {
		return nil, errs.Errorf(op, errs.Precondition, "volume %q is attached to another writer", req.Id)
	}
	vol.AttachHolder, vol.AttachExpiryUnixNano, vol.State = req.Holder, v.now+req.TtlNanos, "in-use"
	vol.AttachIndex = v.idx
	if err := v.set(op, volumeKey(vol.Id), vol); err != nil {
		return nil, err
	}
	return &metapb.AttachVolumeResponse{Volume: vol}, nil
}

func (v *volTx) detachVolume(req *metapb.DetachVolumeRequest) (proto.Message, error) {
	const op = "meta.DetachVolume"
	vol, err := v.getVolume(op, req.Id)
	if err != nil {
		return nil, err
	}
	if vol.AttachHolder != req.Holder {
		return &metapb.DetachVolumeResponse{}, nil // someone else's lease by now
	}
	vol.AttachHolder, vol.AttachExpiryUnixNano, vol.State = "", 0, "available"
	return &metapb.DetachVolumeResponse{}, v.set(op, volumeKey(vol.Id), vol)
}

func (v *volTx) commitExtent(req *metapb.CommitExtentRequest) (proto.Message, error) {
	const op = "meta.CommitExtent"
	vol, err := v.getVolume(op, req.VolumeId)
	if err != nil {
		return nil, err
	}
	if !vol.MultiAttach && (vol.AttachHolder != req.Holder || !attached(vol, v.now)) {
		return nil, errs.Errorf(op, errs.Precondition, "volume %q: writer lease not held", vol.Id)
	}
	if uint64(vol.Size+vol.ExtentSize-1)/uint64(vol.ExtentSize) <= req.Index {
		return nil, errs.Errorf(op, errs.Invalid, "extent %d is past the end", req.Index)
	}
	key := extentKey(volExtentPrefix(vol.Id), req.Index)
	cur := &metapb.Extent{}
	found, err := getProto(v.r, key, cur)
	if err != nil {
		return nil, err
	}
	if (found && cur.ChunkId != req.OldChunkId) || (!found && req.OldChunkId != "") {
		return nil, errs.Errorf(op, errs.Precondition, "volume %q extent %d moved", vol.Id, req.Index)
	}
	if found {
		if err := v.addRef(cur, -1); err != nil {
			return nil, err
		}
	}
	if e := req.GetExtent(); e != nil {
		if e.ChunkId == "" || len(e.Disks) == 0 {
			return nil, errs.E(op, errs.Invalid, "extent without chunk or disks")
		}
		if e.DataShards > 0 && len(e.Disks) <= int(e.DataShards) {
			return nil, errs.Errorf(op, errs.Invalid, "erasure coded extent of %d data shards on %d disks: no parity", e.DataShards, len(e.Disks))
		}
		if found && e.ChunkId == cur.ChunkId {
			return nil, errs.E(op, errs.Invalid, "new chunk id equals the old one")
		}
		e = proto.CloneOf(e)
		e.Index = req.Index
		if r, err := v.ref(e); err != nil {
			return nil, err
		} else if r.Refs != 0 {
			return nil, errs.Errorf(op, errs.Exists, "chunk %s is already mapped", e.ChunkId)
		}
		if err := v.addRef(e, 1); err != nil {
			return nil, err
		}
		return &metapb.CommitExtentResponse{}, v.set(op, key, e)
	}
	if found {
		return &metapb.CommitExtentResponse{}, v.del(op, key)
	}
	return &metapb.CommitExtentResponse{}, nil
}

func (v *volTx) createSnapshot(req *metapb.CreateSnapshotRequest) (proto.Message, error) {
	const op = "meta.CreateSnapshot"
	s := proto.CloneOf(req.GetSnapshot())
	if s == nil || !strings.HasPrefix(s.Id, "snap-") {
		return nil, errs.E(op, errs.Invalid, "missing or invalid snapshot id")
	}
	if err := checkID(op, "snapshot id", s.Id); err != nil {
		return nil, err
	}
	if found, err := getProto(v.r, snapshotKey(s.Id), &metapb.Snapshot{}); err != nil {
		return nil, err
	} else if found {
		return nil, errs.Errorf(op, errs.Exists, "snapshot %q", s.Id)
	}
	vol, err := v.getVolume(op, s.VolumeId)
	if err != nil {
		return nil, err
	}
	s.VolumeSize, s.ExtentSize, s.State = vol.Size, vol.ExtentSize, "completed"
	if s.CreatedUnixNano == 0 {
		s.CreatedUnixNano = v.now
	}
	if err := v.copyMap(op, volExtentPrefix(vol.Id), snapExtentPrefix(s.Id)); err != nil {
		return nil, err
	}
	if err := v.set(op, snapshotKey(s.Id), s); err != nil {
		return nil, err
	}
	vol.SnapshotSeq++
	if err := v.set(op, volumeKey(vol.Id), vol); err != nil {
		return nil, err
	}
	return &metapb.CreateSnapshotResponse{Snapshot: s}, nil
}

func (v *volTx) deleteSnapshot(req *metapb.DeleteSnapshotRequest) (proto.Message, error) {
	const op = "meta.DeleteSnapshot"
	s, err := v.getSnapshot(op, req.Id)
	if err != nil {
		return nil, err
	}
	if err := v.dropMap(op, snapExtentPrefix(s.Id)); err != nil {
		return nil, err
	}
	return &metapb.DeleteSnapshotResponse{}, v.del(op, snapshotKey(s.Id))
}

func (v *volTx) deleteGarbage(req *metapb.DeleteGarbageRequest) (proto.Message, error) {
	for _, c := range req.ChunkIds {
		if err := v.del("meta.DeleteGarbage", garbageKey(c)); err != nil {
			return nil, err
		}
	}
	return &metapb.DeleteGarbageResponse{}, nil
}
