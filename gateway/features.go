package gateway

import (
	"context"
	"errors"
	"io"
	"net/http"

	"github.com/wolke-cloud/wolke/core"
	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/meta/metaerr"
	"github.com/wolke-cloud/wolke/meta/metapb"
)

// ObjectFeatures is the part of Objects behind versioning, conditional
// writes, copies and tags; core.Store implements it.
type ObjectFeatures interface {
	// PutObjectWith and CompleteMultipartUploadWith fail with
	// errs.Precondition when opts do not hold, committing nothing.
	PutObjectWith(ctx context.Context, tmpl *metapb.Object, body io.Reader, size int64, opts core.PutOptions) (*metapb.Object, error)
	CompleteMultipartUploadWith(ctx context.Context, bucket, key, uploadID string, parts []*metapb.CompletedPart, opts core.PutOptions) (*metapb.Object, error)
	// CreateMultipartUploadWith starts an upload encrypted at rest (enc set).
	CreateMultipartUploadWith(ctx context.Context, tmpl *metapb.Object, enc *core.Encryption) (string, error)
	// UploadPartWith also stores the part's checksums and takes the SSE-C
	// key of an upload encrypted with one.
	UploadPartWith(ctx context.Context, bucket, key, uploadID string, partNumber int32, body io.Reader, size int64, opts core.PartOptions) (*metapb.Part, error)

	// OpenObjectWith reads an object that may be encrypted at rest.
	OpenObjectWith(ctx context.Context, obj *metapb.Object, off, length int64, ro core.ReadOptions) (io.ReadCloser, error)

	SetBucketVersioning(ctx context.Context, bucket, state string) (*metapb.Bucket, error)
	ListObjectVersions(ctx context.Context, req *metapb.ListObjectVersionsRequest) (*metapb.ListObjectVersionsResponse, error)
	// DeleteObjectVersion tells the delete marker it made, or the
	// versions it removed.
	DeleteObjectVersion(ctx context.Context, bucket, key, versionID string) (*metapb.DeleteObjectResponse, error)

	// SetObjectTags replaces a version's tags (empty versionID: the latest).
	SetObjectTags(ctx context.Context, bucket, key, versionID string, tags map[string]string) (*metapb.Object, error)
	// SetObjectACL sets a version's canned ACL: "" (private) or
	// "public-read" (empty versionID: the latest).
	SetObjectACL(ctx context.Context, bucket, key, versionID, acl string) (*metapb.Object, error)

	// CopyObject writes src's content as a new object made from tmpl.
	CopyObject(ctx context.Context, src, tmpl *metapb.Object, opts core.PutOptions) (*metapb.Object, error)
	UploadPartCopy(ctx context.Context, bucket, key, uploadID string, partNumber int32, src *metapb.Object, off, length int64) (*metapb.Part, error)
}

// Codes of the object features.
const (
	codeNoSuchVersion     = "NoSuchVersion"
	codeInvalidTag        = "InvalidTag"
	codeIllegalVersioning = "IllegalVersioningConfigurationException"
)

// featureCodeInfo extends codeInfo with the codes of the object features.
func featureCodeInfo(code string) (status int, kind errs.Kind, ok bool) {
	switch code {
	case codeNoSuchVersion:
		return 404, errs.NotFound, true
	case codeInvalidTag, codeIllegalVersioning, codeInvalidStorageClass:
		return 400, errs.Invalid, true
	case codeInvalidPartNumber:
		return 416, errs.Invalid, true
	}
	return 0, errs.Other, false
}

// writeConditions reads If-Match / If-None-Match of a write. S3 accepts
// only "*" in If-None-Match.
func writeConditions(h http.Header) (core.PutOptions, error) {
	opts := core.PutOptions{IfMatch: h.Get("If-Match"), IfNoneMatch: h.Get("If-None-Match"), Hashes: requestHashes(h)}
	if opts.IfNoneMatch != "" && opts.IfNoneMatch != "*" {
		return opts, apiErr(codeNotImplemented, "If-None-Match on writes takes only *")
	}
	enc, err := writeEncryption(h)
	opts.Encryption = enc
	return opts, err
}

// writeFailed maps a failed conditional write: If-Match against a key
// that is not there is NoSuchKey, any other failed condition 412.
func (s *Server) writeFailed(ctx context.Context, rq *request, opts core.PutOptions, err error) error {
	if !errs.Is(err, errs.Precondition) || opts.IfMatch == "" || opts.IfMatch == "*" {
		return err
	}
	if _, herr := s.objects.HeadObject(ctx, rq.bucket, rq.key, ""); errs.Is(herr, errs.NotFound) {
		return apiErr(codeNoSuchKey, notFoundMessage(codeNoSuchKey))
	}
	return err
}

// versionMissing maps a NotFound of a read by version id: NoSuchVersion
// when meta says so, else as s.missing does.
func (s *Server) versionMissing(ctx context.Context, bucket string, err error) error {
	if errors.Is(err, metaerr.ErrNoSuchVersion) {
		return apiErr(codeNoSuchVersion, "the specified version does not exist")
	}
	return s.missing(ctx, bucket, err, codeNoSuchKey)
}

// markDeleted sets the delete marker headers on a 404 of the latest
// version when that version is a delete marker.
func (s *Server) markDeleted(ctx context.Context, rq *request) {
	resp, err := s.objects.ListObjectVersions(ctx, &metapb.ListObjectVersionsRequest{Bucket: rq.bucket, Prefix: rq.key, MaxKeys: 1})
	if err != nil || len(resp.GetVersions()) == 0 {
		return
	}
	if v := resp.GetVersions()[0]; v.GetKey() == rq.key && v.GetDeleteMarker() {
		rq.w.Header().Set("X-Amz-Delete-Marker", "true")
		rq.w.Header().Set("X-Amz-Version-Id", v.GetVersionId())
	}
}
