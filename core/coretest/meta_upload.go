package coretest

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"

	"google.golang.org/grpc"

	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/meta/metapb"
)

func (m *Meta) CreateUpload(_ context.Context, in *metapb.CreateUploadRequest, _ ...grpc.CallOption) (*metapb.CreateUploadResponse, error) {
	if err := m.enter("CreateUpload"); err != nil {
		return nil, err
	}
	defer m.mu.Unlock()
	up := in.GetUpload()
	if _, ok := m.buckets[up.GetBucket()]; !ok {
		return nil, errs.E("fakemeta.CreateUpload", errs.NotFound, "bucket "+up.GetBucket())
	}
	if up.GetUploadId() == "" {
		return nil, errs.E("fakemeta.CreateUpload", errs.Invalid, "no upload id")
	}
	if _, ok := m.uploads[up.GetUploadId()]; ok {
		return nil, errs.E("fakemeta.CreateUpload", errs.Exists, up.GetUploadId())
	}
	m.uploads[up.GetUploadId()] = &upload{up: clone(up), parts: make(map[int32]*metapb.Part)}
	return &metapb.CreateUploadResponse{}, nil
}

func (m *Meta) uploadLocked(op, bucket, key, id string) (*upload, error) {
	u, ok := m.uploads[id]
	if !ok || u.up.GetBucket() != bucket || u.up.GetKey() != key {
		return nil, errs.E(op, errs.NotFound, "upload "+id)
	}
	return u, nil
}

func (m *Meta) GetUpload(_ context.Context, in *metapb.GetUploadRequest, _ ...grpc.CallOption) (*metapb.GetUploadResponse, error) {
	if err := m.enter("GetUpload"); err != nil {
		return nil, err
	}
	defer m.mu.Unlock()
	u, err := m.uploadLocked("fakemeta.GetUpload", in.GetBucket(), in.GetKey(), in.GetUploadId())
	if err != nil {
		return nil, err
	}
	return &metapb.GetUploadResponse{Upload: clone(u.up)}, nil
}

func (m *Meta) PutPart(_ context.Context, in *metapb.PutPartRequest, _ ...grpc.CallOption) (*metapb.PutPartResponse, error) {
	if err := m.enter("PutPart"); err != nil {
		return nil, err
	}
	defer m.mu.Unlock()
	u, err := m.uploadLocked("fakemeta.PutPart", in.GetBucket(), in.GetKey(), in.GetUploadId())
	if err != nil {
		return nil, err
	}
	if err := m.consumeIntentLocked("fakemeta.PutPart", in.GetIntentId()); err != nil {
		return nil, err
	}
	p := clone(in.GetPart())
	old := u.parts[p.GetNumber()]
	u.parts[p.GetNumber()] = p
	if err := m.after["PutPart"]; err != nil {
		return nil, err
	}
	return &metapb.PutPartResponse{Replaced: old}, nil
}

func sortedParts(u *upload) []*metapb.Part {
	parts := make([]*metapb.Part, 0, len(u.parts))
	for _, p := range u.parts {
		parts = append(parts, p)
	}
	sort.Slice(parts, func(i, j int) bool { return parts[i].GetNumber() < parts[j].GetNumber() })
	return parts
}

func (m *Meta) ListParts(_ context.Context, in *metapb.ListPartsRequest, _ ...grpc.CallOption) (*metapb.ListPartsResponse, error) {
	if err := m.enter("ListParts"); err != nil {
		return nil, err
	}
	defer m.mu.Unlock()
	u, err := m.uploadLocked("fakemeta.ListParts", in.GetBucket(), in.GetKey(), in.GetUploadId())
	if err != nil {
		return nil, err
	}
	limit := int(in.GetMaxParts())
	if limit <= 0 {
		limit = 1000
	}
	resp := &metapb.ListPartsResponse{Upload: clone(u.up)}
	for _, p := range sortedParts(u) {
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
	return resp, nil
}

// CompleteUpload checks the listed parts as S3 does, builds the object from
// their stripes with the multipart ETag, commits it and drops the upload.
func (m *Meta) CompleteUpload(_ context.Context, in *metapb.CompleteUploadRequest, _ ...grpc.CallOption) (*metapb.CompleteUploadResponse, error) {
	const op = "fakemeta.CompleteUpload"
	if err := m.enter("CompleteUpload"); err != nil {
		return nil, err
	}
	defer m.mu.Unlock()
	u, err := m.uploadLocked(op, in.GetBucket(), in.GetKey(), in.GetUploadId())
	if err != nil {
		return nil, err
	}
	if len(in.GetParts()) == 0 {
		return nil, errs.E(op, errs.Invalid, "no parts")
	}
	obj := clone(u.up.GetTmpl())
	obj.Bucket, obj.Key, obj.VersionId = in.GetBucket(), in.GetKey(), in.GetVersionId()
	obj.MtimeUnixNano = in.GetMtimeUnixNano()
	obj.Size, obj.Stripes, obj.Inline = 0, nil, nil
	obj.SegmentsUploadId = in.GetUploadId() // as meta: the parts stay, as segments
	var segs []*metapb.Part
	sums := md5.New()
	used := make(map[int32]bool)
	var prev int32
	for i, cp := range in.GetParts() {
		p, ok := u.parts[cp.GetNumber()]
		switch {
		case cp.GetNumber() <= prev:
			return nil, errs.E(op, errs.Invalid, "parts not in ascending order")
		case !ok || strings.Trim(cp.GetEtag(), `"`) != strings.Trim(p.GetEtag(), `"`):
			return nil, errs.E(op, errs.Invalid, fmt.Sprintf("part %d missing or etag differs", cp.GetNumber()))
		case i < len(in.GetParts())-1 && p.GetSize() < in.GetMinPartSize():
			return nil, errs.E(op, errs.Invalid, fmt.Sprintf("part %d too small", cp.GetNumber()))
		}
		prev = cp.GetNumber()
		used[p.GetNumber()] = true
		raw, err := hex.DecodeString(strings.Trim(p.GetEtag(), `"`))
		if err != nil {
			return nil, errs.E(op, errs.Internal, "part etag not hex")
		}
		sums.Write(raw)
		obj.Size += p.GetSize()
		segs = append(segs, clone(p))
		obj.PartNumbers = append(obj.PartNumbers, p.GetNumber())
		obj.PartSizes = append(obj.PartSizes, p.GetSize())
		if obj.Encryption != nil {
			obj.PartSizes[len(obj.PartSizes)-1] = p.GetPlainSize()
		}
	}
	if obj.Encryption != nil { // as meta: sealed bytes in the stripes, plaintext sizes for clients
		obj.Encryption.StoredSize, obj.Size = obj.Size, 0
		for _, n := range obj.PartSizes {
			obj.Size += n
		}
	}
	obj.Checksums = in.GetChecksums()
	obj.Etag = fmt.Sprintf(`"%s-%d"`, hex.EncodeToString(sums.Sum(nil)), len(in.GetParts()))
	out, replaced, err := m.commitLocked(op, obj, in.GetIfMatch(), in.GetIfNoneMatch())
	if err != nil {
		return nil, err
	}
	resp := &metapb.CompleteUploadResponse{Object: out, Replaced: replaced}
	for _, p := range sortedParts(u) {
		if !used[p.GetNumber()] {
			resp.Unused = append(resp.Unused, p)
		}
	}
	delete(m.uploads, in.GetUploadId())
	m.segs[in.GetUploadId()] = segs
	return resp, nil
}

func (m *Meta) AbortUpload(_ context.Context, in *metapb.AbortUploadRequest, _ ...grpc.CallOption) (*metapb.AbortUploadResponse, error) {
	if err := m.enter("AbortUpload"); err != nil {
		return nil, err
	}
	defer m.mu.Unlock()
	u, err := m.uploadLocked("fakemeta.AbortUpload", in.GetBucket(), in.GetKey(), in.GetUploadId())
	if err != nil {
		return nil, err
	}
	delete(m.uploads, in.GetUploadId())
	if m.abortGarbage {
		m.segs[in.GetUploadId()] = sortedParts(u)
		return &metapb.AbortUploadResponse{SegmentsGarbage: true}, nil
	}
	return &metapb.AbortUploadResponse{Parts: sortedParts(u)}, nil
}

func (m *Meta) ListUploads(_ context.Context, in *metapb.ListUploadsRequest, _ ...grpc.CallOption) (*metapb.ListUploadsResponse, error) {
	if err := m.enter("ListUploads"); err != nil {
		return nil, err
	}
	defer m.mu.Unlock()
	var ups []*metapb.Upload
	for _, u := range m.uploads {
		up := u.up
		if up.GetBucket() != in.GetBucket() || !strings.HasPrefix(up.GetKey(), in.GetPrefix()) {
			continue
		}
		if km := in.GetKeyMarker(); km != "" && (up.GetKey() < km ||
			up.GetKey() == km && (in.GetUploadIdMarker() == "" || up.GetUploadId() <= in.GetUploadIdMarker())) {
			continue
		}
		ups = append(ups, up)
	}
	sort.Slice(ups, func(i, j int) bool {
		if ups[i].GetKey() != ups[j].GetKey() {
			return ups[i].GetKey() < ups[j].GetKey()
		}
		return ups[i].GetUploadId() < ups[j].GetUploadId()
	})
	limit := int(in.GetMaxUploads())
	if limit <= 0 {
		limit = 1000
	}
	resp := &metapb.ListUploadsResponse{}
	for _, up := range ups {
		if len(resp.Uploads) == limit {
			resp.Truncated = true
			break
		}
		resp.Uploads = append(resp.Uploads, clone(up))
		resp.NextKeyMarker, resp.NextUploadIdMarker = up.GetKey(), up.GetUploadId()
	}
	return resp, nil
}
