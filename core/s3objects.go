package core

import (
	"context"
	"encoding/base64"
	"hash"
	"io"

	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/meta/metapb"
)

// PutOptions are conditions a write puts on the version it replaces,
// checked by meta atomically with the commit (S3 conditional writes).
type PutOptions struct {
	// IfMatch: the latest version's ETag must equal it ("*": any existing
	// object). A delete marker counts as no object.
	IfMatch string
	// IfNoneMatch "*": the key must have no object.
	IfNoneMatch string
	// Hashes (S3 checksum algorithm → fresh hash) are fed the body of a
	// PUT; their sums, base64, become the object's checksums.
	Hashes map[string]hash.Hash
	// Checksums are stored as the object's checksums as given (the
	// composite checksums of a multipart upload, computed by the caller);
	// Hashes win for an algorithm named in both.
	Checksums map[string]string
	// Encryption, if set, encrypts the object at rest (PUT and copies).
	Encryption *Encryption
	// SourceKey is the SSE-C key of a copy's source.
	SourceKey []byte

	seal *sealer // the body being encrypted, set by PutObjectWith
}

// hashBody feeds what is read from body to every hash.
func hashBody(body io.Reader, hashes map[string]hash.Hash) io.Reader {
	if len(hashes) == 0 {
		return body
	}
	ws := make([]io.Writer, 0, len(hashes))
	for _, h := range hashes {
		ws = append(ws, h)
	}
	return io.TeeReader(body, io.MultiWriter(ws...))
}

// checksums are the checksums opts give an object whose body was read.
func checksums(opts PutOptions) map[string]string {
	if len(opts.Hashes) == 0 && len(opts.Checksums) == 0 {
		return nil
	}
	out := make(map[string]string, len(opts.Hashes)+len(opts.Checksums))
	for alg, v := range opts.Checksums {
		out[alg] = v
	}
	for alg, h := range opts.Hashes {
		out[alg] = base64.StdEncoding.EncodeToString(h.Sum(nil))
	}
	return out
}

// SetBucketVersioning turns a bucket's versioning "Enabled" or
// "Suspended" and returns the bucket.
func (s *Store) SetBucketVersioning(ctx context.Context, bucket, state string) (*metapb.Bucket, error) {
	resp, err := s.meta.SetBucketVersioning(ctx, &metapb.SetBucketVersioningRequest{Name: bucket, Versioning: state})
	if err != nil {
		return nil, errs.E("core.SetBucketVersioning", errs.Other, err)
	}
	return resp.GetBucket(), nil
}

// ListObjectVersions lists versions and delete markers (see
// metapb.ListObjectVersionsRequest).
func (s *Store) ListObjectVersions(ctx context.Context, req *metapb.ListObjectVersionsRequest) (*metapb.ListObjectVersionsResponse, error) {
	resp, err := s.meta.ListObjectVersions(ctx, req)
	if err != nil {
		return nil, errs.E("core.ListObjectVersions", errs.Other, err)
	}
	return resp, nil
}

// DeleteObjectVersion is DeleteObject that tells what happened: the
// versions removed (a delete marker among them when one was deleted by
// version id) and the delete marker created, if any.
func (s *Store) DeleteObjectVersion(ctx context.Context, bucket, key, versionID string) (*metapb.DeleteObjectResponse, error) {
	resp, err := s.meta.DeleteObject(ctx, &metapb.DeleteObjectRequest{Bucket: bucket, Key: key, VersionId: versionID})
	if err != nil {
		return nil, errs.E("core.DeleteObject", errs.Other, err)
	}
	s.freeObjects(ctx, "deleted", nil, resp.GetRemoved())
	return resp, nil
}

// SetObjectTags replaces the tags of a version (the latest when versionID
// is empty; nil or empty tags remove them) and returns the version.
func (s *Store) SetObjectTags(ctx context.Context, bucket, key, versionID string, tags map[string]string) (*metapb.Object, error) {
	resp, err := s.meta.SetObjectTags(ctx, &metapb.SetObjectTagsRequest{Bucket: bucket, Key: key, VersionId: versionID, Tags: tags})
	if err != nil {
		return nil, errs.E("core.SetObjectTags", errs.Other, err)
	}
	return resp.GetObject(), nil
}

// SetObjectACL sets the canned ACL of a version (the latest when versionID
// is empty): "" (private) or "public-read".
func (s *Store) SetObjectACL(ctx context.Context, bucket, key, versionID, acl string) (*metapb.Object, error) {
	resp, err := s.meta.SetObjectAcl(ctx, &metapb.SetObjectAclRequest{Bucket: bucket, Key: key, VersionId: versionID, Acl: acl})
	if err != nil {
		return nil, errs.E("core.SetObjectACL", errs.Other, err)
	}
	return resp.GetObject(), nil
}
