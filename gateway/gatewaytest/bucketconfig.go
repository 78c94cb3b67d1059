package gatewaytest

import (
	"context"
	"slices"

	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/meta/metapb"
)

// PutBucketConfig stores one subresource of a bucket, as core.Store does.
func (m *Memory) PutBucketConfig(ctx context.Context, bucket, key string, value []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.buckets[bucket]
	if !ok {
		return notFound("mem.PutBucketConfig", "bucket")
	}
	if len(value) == 0 {
		return errs.E("mem.PutBucketConfig", errs.Invalid, "empty config value")
	}
	if b.Config == nil {
		b.Config = map[string][]byte{}
	}
	b.Config[key] = slices.Clone(value)
	return nil
}

// DeleteBucketConfig removes one subresource of a bucket.
func (m *Memory) DeleteBucketConfig(ctx context.Context, bucket, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.buckets[bucket]
	if !ok {
		return notFound("mem.DeleteBucketConfig", "bucket")
	}
	delete(b.Config, key)
	return nil
}

// SetObjectLock sets a version's retention or legal hold. The rules for
// weakening a retention are meta's (core.Store); this store applies any
// change, in a bucket with an object lock configuration.
func (m *Memory) SetObjectLock(ctx context.Context, req *metapb.SetObjectLockRequest) (*metapb.Object, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.buckets[req.Bucket]
	if !ok {
		return nil, notFound("mem.SetObjectLock", "bucket")
	}
	if len(b.Config["object-lock"]) == 0 {
		return nil, errs.E("mem.SetObjectLock", errs.Precondition, "no object lock configuration")
	}
	o, ok := m.objects[req.Bucket][req.Key]
	if !ok || req.VersionId != "" && req.VersionId != o.meta.GetVersionId() {
		return nil, notFound("mem.SetObjectLock", "key")
	}
	if req.SetRetention {
		o.meta.LockMode, o.meta.LockRetainUntilUnixNano = req.Mode, req.RetainUntilUnixNano
	}
	if req.SetLegalHold {
		o.meta.LegalHold = req.LegalHold
	}
	return clone(o.meta), nil
}
