package gateway

import (
	"context"
	"net/http"
	"strings"

	"github.com/wolke-cloud/wolke/iam/sigv4"
	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/meta/metapb"
)

// Limits of S3 objects.
const (
	MaxKeyLength    = 1024
	MaxUserMetadata = 2 << 10 // bytes of x-amz-meta-* names and values
	maxDeleteKeys   = 1000
)

// storedHeaders are the request headers kept with an object and sent back
// on GET and HEAD.
func storedHeaders() []string {
	return []string{"Content-Encoding", "Content-Disposition", "Cache-Control", "Expires", "Content-Language"}
}

func checkKey(key string) error {
	if len(key) > MaxKeyLength {
		return apiErr(codeKeyTooLong, "your key is too long")
	}
	return nil
}

// objectTemplate collects the metadata a new object gets from the request.
func objectTemplate(rq *request) (*metapb.Object, error) {
	h := rq.r.Header
	if err := checkKey(rq.key); err != nil {
		return nil, err
	}
	if err := unsupportedWriteHeaders(withoutLockHeaders(h)); err != nil {
		return nil, err
	}
	acl, err := objectACLHeader(rq)
	if err != nil {
		return nil, err
	}
	obj := &metapb.Object{
		Bucket:      rq.bucket,
		Key:         rq.key,
		ContentType: h.Get("Content-Type"),
		UserMeta:    map[string]string{},
		Headers:     map[string]string{},
		Acl:         acl,
	}
	if obj.ContentType == "" {
		obj.ContentType = "binary/octet-stream"
	}
	tags, err := headerTags(h)
	if err != nil {
		return nil, err
	}
	obj.Tags = tags
	if obj.StorageClass, err = requestStorageClass(h); err != nil {
		return nil, err
	}
	metaSize := 0
	for name, vs := range h {
		rest, ok := strings.CutPrefix(strings.ToLower(name), "x-amz-meta-")
		if !ok {
			continue
		}
		v := strings.Join(vs, ",")
		obj.UserMeta[rest] = v
		metaSize += len(rest) + len(v)
	}
	if metaSize > MaxUserMetadata {
		return nil, apiErr(codeMetadataTooLarge, "your metadata headers exceed the maximum allowed metadata size")
	}
	for _, name := range storedHeaders() {
		v := h.Get(name)
		if name == "Content-Encoding" {
			v = stripAWSChunked(v)
		}
		if v != "" {
			obj.Headers[name] = v
		}
	}
	if err := applyLockHeaders(rq, obj); err != nil { // objectlock.go
		return nil, err
	}
	return obj, nil
}

// stripAWSChunked drops the aws-chunked transfer coding from a
// Content-Encoding value: it describes the upload, not the object.
func stripAWSChunked(v string) string {
	var keep []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" && !strings.EqualFold(p, "aws-chunked") {
			keep = append(keep, p)
		}
	}
	return strings.Join(keep, ",")
}

// unsupportedWriteHeaders rejects request headers asking for features not
// built yet (tags, encryption, object lock, public ACLs): storing the object
// while ignoring them would be a fake success.
func unsupportedWriteHeaders(h http.Header) error {
	for _, name := range []string{
		"X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id", "X-Amz-Object-Lock-Mode", "X-Amz-Object-Lock-Retain-Until-Date",
		"X-Amz-Object-Lock-Legal-Hold", "X-Amz-Website-Redirect-Location",
	} {
		if h.Get(name) != "" {
			return apiErr(codeNotImplemented, strings.ToLower(name)+" is not implemented")
		}
	}
	switch acl := h.Get("X-Amz-Acl"); acl {
	case "", "private", "bucket-owner-full-control", "bucket-owner-read", "public-read":
	default:
		return apiErr(codeNotImplemented, "canned ACL "+acl+" is not implemented")
	}
	return nil
}

// setVersion names obj's version in the response. The null version is
// named only in buckets that have had versioning (Enabled or Suspended),
// as S3 does; b is the bucket record (nil: unknown, treated as never
// versioned).
func setVersion(w http.ResponseWriter, obj *metapb.Object, b *metapb.Bucket) {
	v := obj.GetVersionId()
	if v == "" || v == "null" {
		if b.GetVersioning() == "" {
			return
		}
		v = "null"
	}
	w.Header().Set("X-Amz-Version-Id", v)
}

func (s *Server) putObject(ctx context.Context, rq *request) error {
	tmpl, err := objectTemplate(rq)
	if err != nil {
		return err
	}
	opts, err := writeConditions(rq.r.Header)
	if err != nil {
		return err
	}
	opts.Hashes = withDefault(opts.Hashes)
	body, size, err := s.body(rq, true)
	if err != nil {
		return err
	}
	obj, err := s.objects.PutObjectWith(ctx, tmpl, body, size, opts)
	if f := body.failure(); f != nil {
		return f
	}
	if err != nil {
		return s.writeFailed(ctx, rq, opts, bucketErr(err))
	}
	rq.w.Header().Set("ETag", obj.GetEtag())
	setVersion(rq.w, obj, rq.bucketRec)
	setChecksums(rq.w, obj.GetChecksums())
	setSSEHeaders(rq.w, obj)
	rq.w.WriteHeader(http.StatusOK)
	return nil
}

// deleteOne deletes a key; a key that is not there is a success, a
// bucket that is not there is not.
func (s *Server) deleteOne(ctx context.Context, bucket, key, versionID string) (*metapb.DeleteObjectResponse, error) {
	resp, err := s.objects.DeleteObjectVersion(ctx, bucket, key, versionID)
	if errs.Is(err, errs.NotFound) && sigv4.CodeOf(err) == "" {
		if _, berr := s.objects.GetBucket(ctx, bucket); berr != nil {
			return nil, bucketErr(berr)
		}
		return &metapb.DeleteObjectResponse{}, nil
	}
	return resp, err
}

func (s *Server) deleteObject(ctx context.Context, rq *request) error {
	vid := rq.q.Get("versionId")
	resp, err := s.deleteOne(ctx, rq.bucket, rq.key, vid)
	if err != nil {
		return err
	}
	setDeleteResult(rq.w, vid, resp)
	rq.w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) deleteObjects(ctx context.Context, rq *request) error {
	body, _, err := s.body(rq, false)
	if err != nil {
		return err
	}
	var req deleteRequest
	if err := readXML(body, 2<<20, &req); err != nil {
		return err
	}
	if len(req.Objects) == 0 || len(req.Objects) > maxDeleteKeys {
		return apiErr(codeMalformedXML, "a delete request names between 1 and 1000 keys")
	}
	b, err := s.objects.GetBucket(ctx, rq.bucket)
	if err != nil {
		return bucketErr(err)
	}
	out := deleteResult{NS: s3NS}
	for _, o := range req.Objects {
		err := s.lockedVersion(ctx, rq, b, o.Key, o.VersionID) // object lock (objectlock.go)
		var resp *metapb.DeleteObjectResponse
		if err == nil {
			resp, err = s.deleteOne(ctx, rq.bucket, o.Key, o.VersionID)
		}
		if err != nil {
			code, _, fault := s3Code(err)
			out.Errors = append(out.Errors, deleteErrorXML{Key: o.Key, Code: code, VersionID: o.VersionID, Message: message(err, fault)})
			continue
		}
		if !req.Quiet {
			out.Deleted = append(out.Deleted, deletedEntry(o.Key, o.VersionID, resp))
		}
	}
	return writeXML(rq.w, out)
}
