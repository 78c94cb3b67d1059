package gatewaytest

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"strings"
	"time"

	"github.com/wolke-cloud/wolke/core"
	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/meta/metapb"
)

// checkLocked applies the conditions of a write to the current object.
func (m *Memory) checkLocked(op, bucket, key string, opts core.PutOptions) error {
	cur, exists := m.objects[bucket][key]
	switch {
	case opts.IfNoneMatch == "*" && exists:
		return errs.E(op, errs.Precondition, "key exists")
	case opts.IfMatch != "" && !exists:
		return errs.E(op, errs.Precondition, "key does not exist")
	case opts.IfMatch != "" && opts.IfMatch != "*" && strings.Trim(opts.IfMatch, `"`) != strings.Trim(cur.meta.GetEtag(), `"`):
		return errs.E(op, errs.Precondition, "etag differs")
	}
	return nil
}

// PutObjectWith is PutObject under the conditions of opts.
func (m *Memory) PutObjectWith(ctx context.Context, tmpl *metapb.Object, body io.Reader, size int64, opts core.PutOptions) (*metapb.Object, error) {
	if opts.Encryption != nil {
		return nil, errs.E("mem.PutObject", errs.Invalid, "the in-memory store does not model encryption")
	}
	if _, err := m.GetBucket(ctx, tmpl.GetBucket()); err != nil {
		return nil, err
	}
	data, err := readBody(body, size)
	if err != nil {
		return nil, err
	}
	obj := clone(tmpl)
	obj.Size, obj.Etag, obj.VersionId = int64(len(data)), md5ETag(data), "null"
	obj.MtimeUnixNano = time.Now().UnixNano()
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.checkLocked("mem.PutObject", obj.GetBucket(), obj.GetKey(), opts); err != nil {
		return nil, err
	}
	m.objects[obj.GetBucket()][obj.GetKey()] = &object{meta: obj, data: data}
	return clone(obj), nil
}

// CompleteMultipartUploadWith checks the conditions, then completes. (The
// check and the commit are not atomic: fine for a test double.)
func (m *Memory) CompleteMultipartUploadWith(ctx context.Context, bucket, key, uploadID string, parts []*metapb.CompletedPart, opts core.PutOptions) (*metapb.Object, error) {
	m.mu.Lock()
	err := m.checkLocked("mem.CompleteMultipartUpload", bucket, key, opts)
	m.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return m.complete(bucket, key, uploadID, parts, opts.Checksums)
}

// SetBucketVersioning fails: Memory keeps one version per key, as a
// bucket whose versioning was never enabled.
func (m *Memory) SetBucketVersioning(ctx context.Context, bucket, state string) (*metapb.Bucket, error) {
	return nil, errs.E("mem.SetBucketVersioning", errs.Invalid, "the in-memory store does not model versioning")
}

// ListObjectVersions lists the one ("null") version of each key.
func (m *Memory) ListObjectVersions(ctx context.Context, req *metapb.ListObjectVersionsRequest) (*metapb.ListObjectVersionsResponse, error) {
	if _, err := m.GetBucket(ctx, req.GetBucket()); err != nil {
		return nil, err
	}
	if req.GetDelimiter() != "" {
		return nil, errs.E("mem.ListObjectVersions", errs.Invalid, "the in-memory store does not model delimiters")
	}
	max := int(req.GetMaxKeys())
	if max <= 0 {
		max = 1000
	}
	resp := &metapb.ListObjectVersionsResponse{}
	for _, k := range m.Keys(req.GetBucket()) {
		if !strings.HasPrefix(k, req.GetPrefix()) || k < req.GetKeyMarker() ||
			k == req.GetKeyMarker() && (req.GetVersionIdMarker() == "" || req.GetVersionIdMarker() == "null") {
			continue
		}
		if len(resp.Versions) == max {
			resp.Truncated = true
			break
		}
		o, err := m.HeadObject(ctx, req.GetBucket(), k, "")
		if err != nil {
			continue
		}
		resp.Versions = append(resp.Versions, o)
		resp.NextKeyMarker, resp.NextVersionIdMarker = k, o.GetVersionId()
	}
	if !resp.Truncated {
		resp.NextKeyMarker, resp.NextVersionIdMarker = "", ""
	}
	return resp, nil
}

// DeleteObjectVersion deletes a key and reports the version removed.
func (m *Memory) DeleteObjectVersion(ctx context.Context, bucket, key, versionID string) (*metapb.DeleteObjectResponse, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	objs, ok := m.objects[bucket]
	if !ok {
		return nil, notFound("mem.DeleteObject", "bucket")
	}
	o, ok := objs[key]
	if !ok || versionID != "" && versionID != o.meta.GetVersionId() {
		return &metapb.DeleteObjectResponse{}, nil
	}
	delete(objs, key)
	return &metapb.DeleteObjectResponse{Removed: []*metapb.Object{clone(o.meta)}}, nil
}

// SetObjectACL sets the canned ACL of a key.
func (m *Memory) SetObjectACL(ctx context.Context, bucket, key, versionID, acl string) (*metapb.Object, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	o, ok := m.objects[bucket][key]
	if !ok || versionID != "" && versionID != o.meta.GetVersionId() {
		return nil, notFound("mem.SetObjectACL", "key")
	}
	o.meta.Acl = acl
	return clone(o.meta), nil
}

// SetObjectTags replaces the tags of a key.
func (m *Memory) SetObjectTags(ctx context.Context, bucket, key, versionID string, tags map[string]string) (*metapb.Object, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	o, ok := m.objects[bucket][key]
	if !ok || versionID != "" && versionID != o.meta.GetVersionId() {
		return nil, notFound("mem.SetObjectTags", "key")
	}
	o.meta.Tags = nil
	if len(tags) > 0 {
		o.meta.Tags = map[string]string{}
		for k, v := range tags {
			o.meta.Tags[k] = v
		}
	}
	return clone(o.meta), nil
}

// CopyObject stores src's content under tmpl.
func (m *Memory) CopyObject(ctx context.Context, src, tmpl *metapb.Object, opts core.PutOptions) (*metapb.Object, error) {
	rc, err := m.OpenObject(ctx, src, 0, src.GetSize())
	if err != nil {
		return nil, err
	}
	data, _ := io.ReadAll(rc)
	t := clone(tmpl)
	t.VersionId = ""
	return m.PutObjectWith(ctx, t, bytes.NewReader(data), int64(len(data)), opts)
}

// UploadPartCopy stores a range of src as a part.
func (m *Memory) UploadPartCopy(ctx context.Context, bucket, key, uploadID string, partNumber int32, src *metapb.Object, off, length int64) (*metapb.Part, error) {
	if length < 0 {
		length = src.GetSize() - off
	}
	rc, err := m.OpenObject(ctx, src, off, length)
	if err != nil {
		return nil, err
	}
	data, _ := io.ReadAll(rc)
	return m.UploadPart(ctx, bucket, key, uploadID, partNumber, bytes.NewReader(data), int64(len(data)))
}

// UploadPartWith stores a part and the sums of hashes fed its body.
func (m *Memory) UploadPartWith(ctx context.Context, bucket, key, uploadID string, partNumber int32, body io.Reader, size int64, opts core.PartOptions) (*metapb.Part, error) {
	hashes := opts.Hashes
	data, err := readBody(body, size)
	if err != nil {
		return nil, err
	}
	part, err := m.UploadPart(ctx, bucket, key, uploadID, partNumber, bytes.NewReader(data), int64(len(data)))
	if err != nil || len(hashes) == 0 {
		return part, err
	}
	part.Checksums = map[string]string{}
	for alg, h := range hashes {
		h.Write(data)
		part.Checksums[alg] = base64.StdEncoding.EncodeToString(h.Sum(nil))
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if u, ok := m.uploads[uploadID]; ok {
		if p, ok := u.parts[partNumber]; ok {
			p.meta.Checksums = part.Checksums
		}
	}
	return part, nil
}

// OpenObjectWith reads a range: Memory keeps no encrypted objects.
func (m *Memory) OpenObjectWith(ctx context.Context, obj *metapb.Object, off, length int64, ro core.ReadOptions) (io.ReadCloser, error) {
	return m.OpenObject(ctx, obj, off, length)
}

// CreateMultipartUploadWith starts an upload; Memory keeps no encrypted
// objects.
func (m *Memory) CreateMultipartUploadWith(ctx context.Context, tmpl *metapb.Object, enc *core.Encryption) (string, error) {
	if enc != nil {
		return "", errs.E("mem.CreateMultipartUpload", errs.Invalid, "the in-memory store does not model encryption")
	}
	return m.CreateMultipartUpload(ctx, tmpl)
}
