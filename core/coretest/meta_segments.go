package coretest

import (
	"context"

	"google.golang.org/grpc"

	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/meta/metapb"
)

// GetObjectSegments pages through the segments of a completed upload.
func (m *Meta) GetObjectSegments(_ context.Context, in *metapb.GetObjectSegmentsRequest, _ ...grpc.CallOption) (*metapb.GetObjectSegmentsResponse, error) {
	if err := m.enter("GetObjectSegments"); err != nil {
		return nil, err
	}
	defer m.mu.Unlock()
	// Small pages, as meta's are when parts hold many stripes: readers
	// must page.
	limit := min(int(in.GetMaxParts()), 2)
	if limit <= 0 {
		limit = 2
	}
	resp := &metapb.GetObjectSegmentsResponse{}
	for _, p := range m.segs[in.GetUploadId()] {
		if p.GetNumber() <= in.GetPartNumberMarker() {
			continue
		}
		if len(resp.Parts) == limit {
			resp.Truncated = true
			break
		}
		resp.Parts = append(resp.Parts, clone(p))
		resp.NextPartNumberMarker = p.GetNumber()
	}
	if !resp.Truncated {
		resp.NextPartNumberMarker = 0
	}
	return resp, nil
}

// DeleteSegments drops the segments of an upload no object references.
func (m *Meta) DeleteSegments(_ context.Context, in *metapb.DeleteSegmentsRequest, _ ...grpc.CallOption) (*metapb.DeleteSegmentsResponse, error) {
	if err := m.enter("DeleteSegments"); err != nil {
		return nil, err
	}
	defer m.mu.Unlock()
	for _, keys := range m.objects {
		for _, o := range keys {
			if o.GetSegmentsUploadId() == in.GetUploadId() {
				return nil, errs.E("fakemeta.DeleteSegments", errs.Precondition, "segments still referenced")
			}
		}
	}
	n := len(m.segs[in.GetUploadId()])
	delete(m.segs, in.GetUploadId())
	return &metapb.DeleteSegmentsResponse{Deleted: int32(n)}, nil
}

// Segments returns a copy of the segments of every completed upload that
// were not dropped yet, by upload id.
func (m *Meta) Segments() map[string][]*metapb.Part {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string][]*metapb.Part, len(m.segs))
	for id, ps := range m.segs {
		for _, p := range ps {
			out[id] = append(out[id], clone(p))
		}
	}
	return out
}

// AbortAsGarbage makes later AbortUpload calls leave the parts as garbage
// segments (segments_garbage), as meta does for uploads too big to list.
func (m *Meta) AbortAsGarbage(on bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.abortGarbage = on
}
