package coretest

import (
	"context"
	"slices"

	"google.golang.org/grpc"

	"github.com/wolke-cloud/wolke/meta/metapb"
)

// ListSegmentGarbage lists the segments no object references (those of
// removed versions and big aborted uploads), one upload per marker, in
// upload id order. The fake keeps no bucket or key for segments: the
// markers name the upload only (its other segment calls ignore them).
func (m *Meta) ListSegmentGarbage(_ context.Context, in *metapb.ListSegmentGarbageRequest, _ ...grpc.CallOption) (*metapb.ListSegmentGarbageResponse, error) {
	if err := m.enter("ListSegmentGarbage"); err != nil {
		return nil, err
	}
	defer m.mu.Unlock()
	live := map[string]bool{}
	for _, keys := range m.objects {
		for _, o := range keys {
			live[o.GetSegmentsUploadId()] = true
		}
	}
	var ids []string
	for id := range m.segs {
		if !live[id] && id > string(in.GetAfter()) {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	limit := int(in.GetLimit())
	if limit <= 0 {
		limit = 2 // small pages: callers must page
	}
	resp := &metapb.ListSegmentGarbageResponse{}
	for _, id := range ids {
		if len(resp.Objects) == limit {
			resp.Next = []byte(resp.Objects[limit-1].GetSegmentsUploadId())
			break
		}
		resp.Objects = append(resp.Objects, &metapb.Object{SegmentsUploadId: id})
	}
	return resp, nil
}
