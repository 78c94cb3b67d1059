package gateway

import (
	"context"
	"sync"
	"time"

	"github.com/wolke-cloud/wolke/meta/metapb"
)

// Bucket record cache of authorize: every request needs its bucket's
// record (owner, policy, CORS, ownership, versioning), which otherwise
// costs a meta read per request. Records are kept briefly (bucketCacheTTL)
// and dropped whenever this gateway changes a bucket (cachingObjects), so
// a change made here is seen here at once; one made through another
// gateway is seen within the TTL.
const (
	bucketCacheTTL = time.Second
	bucketCacheMax = 4096 // records kept at most; beyond, the cache is cleared
)

type bucketCache struct {
	ttl time.Duration
	now func() time.Time

	mu      sync.Mutex
	entries map[string]bucketEntry
	gen     uint64 // bumped by every invalidation, so a read racing one is not kept
}

type bucketEntry struct {
	b       *metapb.Bucket
	expires time.Time
}

func newBucketCache(ttl time.Duration, now func() time.Time) *bucketCache {
	return &bucketCache{ttl: ttl, now: now, entries: map[string]bucketEntry{}}
}

// get returns a fresh cached record (callers must not change it), or
// reads it with read and keeps it.
func (c *bucketCache) get(ctx context.Context, name string, read func(context.Context, string) (*metapb.Bucket, error)) (*metapb.Bucket, error) {
	if c == nil || c.ttl <= 0 {
		return read(ctx, name)
	}
	c.mu.Lock()
	e, ok := c.entries[name]
	gen := c.gen
	c.mu.Unlock()
	now := c.now()
	if ok && now.Before(e.expires) {
		return e.b, nil
	}
	b, err := read(ctx, name)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.gen == gen {
		if len(c.entries) >= bucketCacheMax {
			clear(c.entries)
		}
		c.entries[name] = bucketEntry{b: b, expires: now.Add(c.ttl)}
	}
	c.mu.Unlock()
	return b, nil
}

// invalidate drops a bucket's record.
func (c *bucketCache) invalidate(name string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	delete(c.entries, name)
	c.gen++
	c.mu.Unlock()
}

// cachingObjects is the object layer as the gateway sees it: every call
// that changes a bucket's record drops it from the cache, after the
// change (and again if it failed: its outcome may be unknown).
type cachingObjects struct {
	Objects
	cache *bucketCache
}

func (o cachingObjects) CreateBucket(ctx context.Context, b *metapb.Bucket) error {
	defer o.cache.invalidate(b.GetName())
	return o.Objects.CreateBucket(ctx, b)
}

func (o cachingObjects) DeleteBucket(ctx context.Context, name string) error {
	defer o.cache.invalidate(name)
	return o.Objects.DeleteBucket(ctx, name)
}

func (o cachingObjects) SetBucketVersioning(ctx context.Context, bucket, state string) (*metapb.Bucket, error) {
	defer o.cache.invalidate(bucket)
	return o.Objects.SetBucketVersioning(ctx, bucket, state)
}

func (o cachingObjects) PutBucketConfig(ctx context.Context, bucket, key string, value []byte) error {
	defer o.cache.invalidate(bucket)
	return o.Objects.PutBucketConfig(ctx, bucket, key, value)
}

func (o cachingObjects) DeleteBucketConfig(ctx context.Context, bucket, key string) error {
	defer o.cache.invalidate(bucket)
	return o.Objects.DeleteBucketConfig(ctx, bucket, key)
}
