package fsm

import (
	"context"
	"slices"

	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/meta/metapb"
	"google.golang.org/protobuf/proto"
)

// ScanExtents walks the chunks block volumes and snapshots map (xref/<chunk
// id>, one record per chunk however many maps share it) in chunk id order
// and returns those with a replica on one of req.Disks (every chunk when
// empty). It visits at most req.Limit records per call; Next is the cursor
// of the next call, empty once every record has been visited. Chunks only
// waiting for deletion (xgc/) are not visited: nothing reads them.
func (f *FSM) ScanExtents(_ context.Context, req *metapb.ScanExtentsRequest) (*metapb.ScanExtentsResponse, error) {
	const op = "meta.ScanExtents"
	var disks map[string]bool
	if len(req.Disks) > 0 {
		disks = make(map[string]bool, len(req.Disks))
		for _, d := range req.Disks {
			disks[d] = true
		}
	}
	resp := &metapb.ScanExtentsResponse{}
	next, err := f.scanPage(op, prefixExtentRefs, req.After, req.Limit, func(_, v []byte) (bool, error) {
		ref := &metapb.ExtentRef{}
		if err := proto.Unmarshal(v, ref); err != nil {
			return false, errs.E(op, errs.Corrupt, err)
		}
		if disks == nil || slices.ContainsFunc(ref.Disks, func(d string) bool { return disks[d] }) {
			resp.Extents = append(resp.Extents, ref)
		}
		return false, nil
	})
	if err != nil {
		return nil, err
	}
	resp.Next = next
	return resp, nil
}
