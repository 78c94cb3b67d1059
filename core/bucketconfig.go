package core

import (
	"context"

	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/meta/metapb"
)

// PutBucketConfig stores one subresource of a bucket (its CORS rules,
// policy, ...) under key; errs.NotFound when the bucket does not exist.
func (s *Store) PutBucketConfig(ctx context.Context, bucket, key string, value []byte) error {
	_, err := s.meta.SetBucketConfig(ctx, &metapb.SetBucketConfigRequest{Name: bucket, Key: key, Value: value})
	if err != nil {
		return errs.E("core.PutBucketConfig", errs.Other, err)
	}
	return nil
}

// DeleteBucketConfig removes one subresource of a bucket; removing an
// absent one succeeds.
func (s *Store) DeleteBucketConfig(ctx context.Context, bucket, key string) error {
	_, err := s.meta.SetBucketConfig(ctx, &metapb.SetBucketConfigRequest{Name: bucket, Key: key, Delete: true})
	if err != nil {
		return errs.E("core.DeleteBucketConfig", errs.Other, err)
	}
	return nil
}
