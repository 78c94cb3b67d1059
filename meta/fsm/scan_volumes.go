package fsm

import (
	"bytes"
	"context"
	"slices"

	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/meta/internal/kv"
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
	limit := int(req.Limit)
	if limit <= 0 {
		limit = scanDefaultLimit
	}
	limit = min(limit, scanMaxLimit)
	var disks map[string]bool
	if len(req.Disks) > 0 {
		disks = make(map[string]bool, len(req.Disks))
		for _, d := range req.Disks {
			disks[d] = true
		}
	}
	lo := []byte(prefixExtentRefs)
	if len(req.After) > 0 {
		if !bytes.HasPrefix(req.After, lo) {
			return nil, errs.E(op, errs.Invalid, "bad scan cursor")
		}
		lo = append(slices.Clone(req.After), 0)
	}
	resp := &metapb.ScanExtentsResponse{}
	err := f.view(func(r reader) error {
		it, err := newIter(r, lo, kv.PrefixEnd([]byte(prefixExtentRefs)))
		if err != nil {
			return err
		}
		defer it.Close()
		visited := 0
		var last []byte
		for ok := it.First(); ok; ok = it.Next() {
			if visited == limit {
				resp.Next = last // more records follow
				break
			}
			visited++
			ref := &metapb.ExtentRef{}
			if err := proto.Unmarshal(it.Value(), ref); err != nil {
				return errs.E(op, errs.Corrupt, err)
			}
			if disks == nil || slices.ContainsFunc(ref.Disks, func(d string) bool { return disks[d] }) {
				resp.Extents = append(resp.Extents, ref)
			}
			last = slices.Clone(it.Key())
		}
		return iterErr(it)
	})
	if err != nil {
		return nil, err
	}
	return resp, nil
}
