package gatewaytest

import (
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/wolke-cloud/wolke/gateway"
	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/meta/metapb"
)

func newUploadID() string {
	var b [12]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// CreateMultipartUpload starts an upload whose object gets tmpl's metadata.
func (m *Memory) CreateMultipartUpload(ctx context.Context, tmpl *metapb.Object) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.buckets[tmpl.GetBucket()]; !ok {
		return "", notFound("mem.CreateMultipartUpload", "bucket")
	}
	id := newUploadID()
	m.uploads[id] = &upload{
		meta: &metapb.Upload{Bucket: tmpl.GetBucket(), Key: tmpl.GetKey(), UploadId: id,
			InitiatedUnixNano: time.Now().UnixNano(), Tmpl: clone(tmpl)},
		parts: map[int32]*object{},
	}
	return id, nil
}

func (m *Memory) upload(bucket, key, id string) (*upload, error) {
	u, ok := m.uploads[id]
	if !ok || u.meta.GetBucket() != bucket || u.meta.GetKey() != key {
		return nil, notFound("mem.upload", "upload")
	}
	return u, nil
}

// UploadPart stores one part.
func (m *Memory) UploadPart(ctx context.Context, bucket, key, uploadID string, n int32, body io.Reader, size int64) (*metapb.Part, error) {
	m.mu.Lock()
	_, err := m.upload(bucket, key, uploadID)
	m.mu.Unlock()
	if err != nil {
		return nil, err
	}
	data, err := readBody(body, size)
	if err != nil {
		return nil, err
	}
	p := &metapb.Part{Number: n, Etag: md5ETag(data), Size: int64(len(data)), MtimeUnixNano: time.Now().UnixNano()}
	m.mu.Lock()
	defer m.mu.Unlock()
	u, err := m.upload(bucket, key, uploadID)
	if err != nil {
		return nil, err
	}
	u.parts[n] = &object{meta: &metapb.Object{Size: p.Size, Etag: p.Etag, MtimeUnixNano: p.MtimeUnixNano}, data: data}
	return clone(p), nil
}

// CompleteMultipartUpload builds the object from the listed parts: they
// must be ascending, match their etags, and all but the last be at least
// gateway.MinPartSize (errs.Invalid otherwise).
func (m *Memory) CompleteMultipartUpload(ctx context.Context, bucket, key, uploadID string, parts []*metapb.CompletedPart) (*metapb.Object, error) {
	return m.complete(bucket, key, uploadID, parts, nil)
}

// complete is CompleteMultipartUpload giving the object checksums as its
// checksums (the template's are the upload's, not the object's).
func (m *Memory) complete(bucket, key, uploadID string, parts []*metapb.CompletedPart, checksums map[string]string) (*metapb.Object, error) {
	const op = "mem.CompleteMultipartUpload"
	m.mu.Lock()
	u, err := m.upload(bucket, key, uploadID)
	if err != nil {
		m.mu.Unlock()
		return nil, err
	}
	var data []byte
	sums := md5.New()
	for i, cp := range parts {
		p, ok := u.parts[cp.GetNumber()]
		switch {
		case !ok || p.meta.GetEtag() != `"`+strings.Trim(cp.GetEtag(), `"`)+`"`:
			m.mu.Unlock()
			return nil, errs.E(op, errs.Invalid, "bad part")
		case i > 0 && cp.GetNumber() <= parts[i-1].GetNumber():
			m.mu.Unlock()
			return nil, errs.E(op, errs.Invalid, "parts out of order")
		case i < len(parts)-1 && p.meta.GetSize() < gateway.MinPartSize:
			m.mu.Unlock()
			return nil, errs.E(op, errs.Invalid, "part too small")
		}
		data = append(data, p.data...)
		raw, _ := hex.DecodeString(strings.Trim(p.meta.GetEtag(), `"`))
		sums.Write(raw)
	}
	delete(m.uploads, uploadID)
	m.mu.Unlock()
	obj := clone(u.meta.GetTmpl())
	obj.Size, obj.VersionId, obj.Checksums = int64(len(data)), "null", checksums
	obj.Etag = `"` + hex.EncodeToString(sums.Sum(nil)) + "-" + strconv.Itoa(len(parts)) + `"`
	obj.MtimeUnixNano = time.Now().UnixNano()
	return m.commit(obj, data)
}

// AbortMultipartUpload drops an upload and its parts.
func (m *Memory) AbortMultipartUpload(ctx context.Context, bucket, key, uploadID string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, err := m.upload(bucket, key, uploadID); err != nil {
		return err
	}
	delete(m.uploads, uploadID)
	return nil
}

// ListParts lists parts after part_number_marker.
func (m *Memory) ListParts(ctx context.Context, req *metapb.ListPartsRequest) (*metapb.ListPartsResponse, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	u, err := m.upload(req.GetBucket(), req.GetKey(), req.GetUploadId())
	if err != nil {
		return nil, err
	}
	max := int(req.GetMaxParts())
	if max <= 0 {
		max = 1000
	}
	var nums []int32
	for n := range u.parts {
		if n > req.GetPartNumberMarker() {
			nums = append(nums, n)
		}
	}
	sort.Slice(nums, func(i, j int) bool { return nums[i] < nums[j] })
	resp := &metapb.ListPartsResponse{Upload: clone(u.meta)}
	for _, n := range nums {
		if len(resp.Parts) == max {
			resp.Truncated = true
			break
		}
		p := u.parts[n].meta
		resp.Parts = append(resp.Parts, &metapb.Part{Number: n, Etag: p.GetEtag(), Size: p.GetSize(), MtimeUnixNano: p.GetMtimeUnixNano(), Checksums: p.GetChecksums()})
		resp.NextPartNumberMarker = n
	}
	return resp, nil
}

// ListMultipartUploads lists uploads by key, then upload id.
func (m *Memory) ListMultipartUploads(ctx context.Context, req *metapb.ListUploadsRequest) (*metapb.ListUploadsResponse, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.buckets[req.GetBucket()]; !ok {
		return nil, notFound("mem.ListMultipartUploads", "bucket")
	}
	var ups []*metapb.Upload
	for _, u := range m.uploads {
		k, id := u.meta.GetKey(), u.meta.GetUploadId()
		if u.meta.GetBucket() != req.GetBucket() || !strings.HasPrefix(k, req.GetPrefix()) {
			continue
		}
		if km := req.GetKeyMarker(); km != "" && (k < km || k == km && id <= req.GetUploadIdMarker()) {
			continue
		}
		ups = append(ups, u.meta)
	}
	sort.Slice(ups, func(i, j int) bool {
		if ups[i].GetKey() != ups[j].GetKey() {
			return ups[i].GetKey() < ups[j].GetKey()
		}
		return ups[i].GetUploadId() < ups[j].GetUploadId()
	})
	max := int(req.GetMaxUploads())
	if max <= 0 {
		max = 1000
	}
	resp := &metapb.ListUploadsResponse{}
	for _, u := range ups {
		if len(resp.Uploads) == max {
			resp.Truncated = true
			break
		}
		resp.Uploads = append(resp.Uploads, clone(u))
		resp.NextKeyMarker, resp.NextUploadIdMarker = u.GetKey(), u.GetUploadId()
	}
	return resp, nil
}
