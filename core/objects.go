package core

import (
	"context"

	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/meta/metapb"
)

// CreateBucket creates a bucket; an unset creation time is set to now.
func (s *Store) CreateBucket(ctx context.Context, b *metapb.Bucket) error {
	if b.GetName() == "" {
		return errs.E("core.CreateBucket", errs.Invalid, "bucket name is required")
	}
	if b.GetCreatedUnixNano() == 0 {
		b = cloneBucket(b)
		b.CreatedUnixNano = s.now().UnixNano()
	}
	if _, err := s.meta.CreateBucket(ctx, &metapb.CreateBucketRequest{Bucket: b}); err != nil {
		return errs.E("core.CreateBucket", errs.Other, err)
	}
	return nil
}

func cloneBucket(b *metapb.Bucket) *metapb.Bucket {
	return &metapb.Bucket{
		Name: b.GetName(), CreatedUnixNano: b.GetCreatedUnixNano(), Owner: b.GetOwner(), Region: b.GetRegion(),
		EcData: b.GetEcData(), EcParity: b.GetEcParity(), Versioning: b.GetVersioning(), Config: b.GetConfig(),
	}
}

// GetBucket returns a bucket, errs.NotFound if there is none of that name.
func (s *Store) GetBucket(ctx context.Context, name string) (*metapb.Bucket, error) {
	resp, err := s.meta.GetBucket(ctx, &metapb.GetBucketRequest{Name: name})
	if err != nil {
		return nil, errs.E("core.GetBucket", errs.Other, err)
	}
	return resp.GetBucket(), nil
}

// DeleteBucket deletes an empty bucket (meta refuses others with
// errs.Precondition).
func (s *Store) DeleteBucket(ctx context.Context, name string) error {
	if _, err := s.meta.DeleteBucket(ctx, &metapb.DeleteBucketRequest{Name: name}); err != nil {
		return errs.E("core.DeleteBucket", errs.Other, err)
	}
	return nil
}

// ListBuckets lists every bucket.
func (s *Store) ListBuckets(ctx context.Context) ([]*metapb.Bucket, error) {
	resp, err := s.meta.ListBuckets(ctx, &metapb.ListBucketsRequest{})
	if err != nil {
		return nil, errs.E("core.ListBuckets", errs.Other, err)
	}
	return resp.GetBuckets(), nil
}

// HeadObject returns the manifest of a version (the latest when versionID
// is empty).
func (s *Store) HeadObject(ctx context.Context, bucket, key, versionID string) (*metapb.Object, error) {
	resp, err := s.meta.GetObject(ctx, &metapb.GetObjectRequest{Bucket: bucket, Key: key, VersionId: versionID})
	if err != nil {
		return nil, errs.E("core.HeadObject", errs.Other, err)
	}
	return resp.GetObject(), nil
}

// DeleteObject deletes a version (or, for an empty versionID, the latest
// one or adds a delete marker, as the bucket's versioning says) and frees
// the chunks of the versions meta removed.
func (s *Store) DeleteObject(ctx context.Context, bucket, key, versionID string) error {
	_, err := s.DeleteObjectVersion(ctx, bucket, key, versionID)
	return err
}

// ListObjects lists the latest versions of keys (see metapb.ListObjectsRequest).
func (s *Store) ListObjects(ctx context.Context, req *metapb.ListObjectsRequest) (*metapb.ListObjectsResponse, error) {
	resp, err := s.meta.ListObjects(ctx, req)
	if err != nil {
		return nil, errs.E("core.ListObjects", errs.Other, err)
	}
	return resp, nil
}
