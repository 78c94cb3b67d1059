package fsm

import (
	"context"

	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/meta/internal/kv"
	"github.com/wolke-cloud/wolke/meta/metapb"
	"google.golang.org/protobuf/proto"
)

// Reads of volumes, snapshots, extent maps and the garbage list.

func listExtents(r reader, p []byte) ([]*metapb.Extent, error) {
	var out []*metapb.Extent
	err := scan(r, p, func(v []byte) error {
		e := &metapb.Extent{}
		if err := proto.Unmarshal(v, e); err != nil {
			return err
		}
		out = append(out, e)
		return nil
	})
	return out, err
}

// maxExtentPage bounds one ListExtents answer (about 2 MB).
const maxExtentPage = 10000

// pageExtents returns up to limit extents under p from index start on,
// and whether more follow.
func pageExtents(r reader, p []byte, start uint64, limit int) ([]*metapb.Extent, bool, error) {
	it, err := newIter(r, extentKey(p, start), kv.PrefixEnd(p))
	if err != nil {
		return nil, false, err
	}
	defer it.Close()
	var out []*metapb.Extent
	for ok := it.First(); ok; ok = it.Next() {
		if len(out) == limit {
			return out, true, iterErr(it)
		}
		e := &metapb.Extent{}
		if err := proto.Unmarshal(it.Value(), e); err != nil {
			return nil, false, errs.E("fsm.pageExtents", errs.Corrupt, err)
		}
		out = append(out, e)
	}
	return out, false, iterErr(it)
}

// scan calls fn with every value under prefix p, in key order.
func scan(r reader, p []byte, fn func(v []byte) error) error {
	it, err := newIter(r, p, kv.PrefixEnd(p))
	if err != nil {
		return err
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		if err := fn(it.Value()); err != nil {
			return errs.E("fsm.scan", errs.Corrupt, err)
		}
	}
	return iterErr(it)
}

// GetVolume returns one volume.
func (f *FSM) GetVolume(_ context.Context, req *metapb.GetVolumeRequest) (*metapb.GetVolumeResponse, error) {
	resp := &metapb.GetVolumeResponse{}
	err := f.view(func(r reader) error {
		var err error
		resp.Volume, err = (&volTx{tx: &tx{r: r}}).getVolume("meta.GetVolume", req.Id)
		return err
	})
	return resp, err
}

// ListVolumes returns every volume in id order.
func (f *FSM) ListVolumes(_ context.Context, _ *metapb.ListVolumesRequest) (*metapb.ListVolumesResponse, error) {
	resp := &metapb.ListVolumesResponse{}
	err := f.view(func(r reader) error {
		return scan(r, []byte(prefixVolumes), func(b []byte) error {
			v := &metapb.Volume{}
			resp.Volumes = append(resp.Volumes, v)
			return proto.Unmarshal(b, v)
		})
	})
	return resp, err
}

// GetSnapshot returns one snapshot.
func (f *FSM) GetSnapshot(_ context.Context, req *metapb.GetSnapshotRequest) (*metapb.GetSnapshotResponse, error) {
	resp := &metapb.GetSnapshotResponse{}
	err := f.view(func(r reader) error {
		var err error
		resp.Snapshot, err = (&volTx{tx: &tx{r: r}}).getSnapshot("meta.GetSnapshot", req.Id)
		return err
	})
	return resp, err
}

// ListSnapshots returns every snapshot in id order.
func (f *FSM) ListSnapshots(_ context.Context, _ *metapb.ListSnapshotsRequest) (*metapb.ListSnapshotsResponse, error) {
	resp := &metapb.ListSnapshotsResponse{}
	err := f.view(func(r reader) error {
		return scan(r, []byte(prefixSnapshots), func(b []byte) error {
			s := &metapb.Snapshot{}
			resp.Snapshots = append(resp.Snapshots, s)
			return proto.Unmarshal(b, s)
		})
	})
	return resp, err
}

// ListExtents returns the extent map of a volume or snapshot, and which of
// its extents are shared with another map (a write must copy them).
func (f *FSM) ListExtents(_ context.Context, req *metapb.ListExtentsRequest) (*metapb.ListExtentsResponse, error) {
	const op = "meta.ListExtents"
	resp := &metapb.ListExtentsResponse{}
	err := f.view(func(r reader) error {
		v := &volTx{tx: &tx{r: r}, refs: map[string]*metapb.ExtentRef{}}
		var p []byte
		switch {
		case req.VolumeId != "":
			if _, err := v.getVolume(op, req.VolumeId); err != nil {
				return err
			}
			p = volExtentPrefix(req.VolumeId)
		case req.SnapshotId != "":
			if _, err := v.getSnapshot(op, req.SnapshotId); err != nil {
				return err
			}
			p = snapExtentPrefix(req.SnapshotId)
		default:
			return errs.E(op, errs.Invalid, "want a volume or snapshot id")
		}
		limit := int(req.Limit)
		if limit <= 0 || limit > maxExtentPage {
			limit = maxExtentPage
		}
		var err error
		if resp.Extents, resp.Truncated, err = pageExtents(r, p, req.StartIndex, limit); err != nil {
			return err
		}
		if resp.Truncated {
			resp.NextIndex = resp.Extents[len(resp.Extents)-1].Index + 1
		}
		for _, e := range resp.Extents {
			ref, err := v.ref(e)
			if err != nil {
				return err
			}
			if ref.Refs > 1 {
				resp.Shared = append(resp.Shared, e.Index)
			}
		}
		return nil
	})
	return resp, err
}

// ListGarbage returns chunks no map holds any more.
func (f *FSM) ListGarbage(_ context.Context, req *metapb.ListGarbageRequest) (*metapb.ListGarbageResponse, error) {
	resp := &metapb.ListGarbageResponse{}
	err := f.view(func(r reader) error {
		return scan(r, []byte(prefixExtentGarbge), func(b []byte) error {
			if req.Limit > 0 && len(resp.Chunks) >= int(req.Limit) {
				return nil
			}
			g := &metapb.ExtentRef{}
			resp.Chunks = append(resp.Chunks, g)
			return proto.Unmarshal(b, g)
		})
	})
	return resp, err
}
