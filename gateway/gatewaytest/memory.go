// Package gatewaytest holds an in-memory object store with the semantics
// the gateway expects of core.Store, for tests of the gateway and of its
// clients.
package gatewaytest

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/meta/metapb"
)

type object struct {
	meta *metapb.Object
	data []byte
}

type upload struct {
	meta  *metapb.Upload
	parts map[int32]*object
}

// Memory is an in-memory store. It reads a body exactly to its declared
// size and never past it, like the real object layer, and commits nothing
// when the body reader fails.
type Memory struct {
	mu      sync.Mutex
	buckets map[string]*metapb.Bucket
	objects map[string]map[string]*object
	uploads map[string]*upload
}

// NewMemory returns an empty store.
func NewMemory() *Memory {
	return &Memory{
		buckets: map[string]*metapb.Bucket{},
		objects: map[string]map[string]*object{},
		uploads: map[string]*upload{},
	}
}

func clone[T proto.Message](m T) T { return proto.Clone(m).(T) }

func notFound(op, what string) error { return errs.E(op, errs.NotFound, what+" not found") }

// CreateBucket adds a bucket; errs.Exists if it is there.
func (m *Memory) CreateBucket(ctx context.Context, b *metapb.Bucket) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.buckets[b.GetName()]; ok {
		return errs.E("mem.CreateBucket", errs.Exists, "bucket exists")
	}
	m.buckets[b.GetName()] = clone(b)
	m.objects[b.GetName()] = map[string]*object{}
	return nil
}

// GetBucket returns a bucket.
func (m *Memory) GetBucket(ctx context.Context, name string) (*metapb.Bucket, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.buckets[name]
	if !ok {
		return nil, notFound("mem.GetBucket", "bucket")
	}
	return clone(b), nil
}

// DeleteBucket removes an empty bucket (errs.Precondition otherwise).
func (m *Memory) DeleteBucket(ctx context.Context, name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.buckets[name]; !ok {
		return notFound("mem.DeleteBucket", "bucket")
	}
	if len(m.objects[name]) > 0 {
		return errs.E("mem.DeleteBucket", errs.Precondition, "bucket not empty")
	}
	delete(m.buckets, name)
	delete(m.objects, name)
	return nil
}

// ListBuckets returns the buckets by name.
func (m *Memory) ListBuckets(ctx context.Context) ([]*metapb.Bucket, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []*metapb.Bucket
	for _, b := range m.buckets {
		out = append(out, clone(b))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].GetName() < out[j].GetName() })
	return out, nil
}

// readBody reads exactly size bytes (or to EOF when size < 0).
func readBody(body io.Reader, size int64) ([]byte, error) {
	if size < 0 {
		return io.ReadAll(body)
	}
	buf := make([]byte, size)
	if _, err := io.ReadFull(body, buf); err != nil {
		return nil, errs.E("mem.readBody", errs.Invalid, err)
	}
	return buf, nil
}

func md5ETag(data []byte) string {
	sum := md5.Sum(data)
	return `"` + hex.EncodeToString(sum[:]) + `"`
}

// PutObject stores an object from tmpl and body.
func (m *Memory) PutObject(ctx context.Context, tmpl *metapb.Object, body io.Reader, size int64) (*metapb.Object, error) {
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
	return m.commit(obj, data)
}

func (m *Memory) commit(obj *metapb.Object, data []byte) (*metapb.Object, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	objs, ok := m.objects[obj.GetBucket()]
	if !ok {
		return nil, notFound("mem.PutObject", "bucket")
	}
	objs[obj.GetKey()] = &object{meta: obj, data: data}
	return clone(obj), nil
}

// HeadObject returns the manifest of a key.
func (m *Memory) HeadObject(ctx context.Context, bucket, key, versionID string) (*metapb.Object, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	o, ok := m.objects[bucket][key]
	if !ok || versionID != "" && versionID != o.meta.GetVersionId() {
		return nil, notFound("mem.HeadObject", "key")
	}
	out := clone(o.meta)
	out.IsLatest = true
	return out, nil
}

// OpenObject reads length bytes from off of the version obj names.
func (m *Memory) OpenObject(ctx context.Context, obj *metapb.Object, off, length int64) (io.ReadCloser, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	o, ok := m.objects[obj.GetBucket()][obj.GetKey()]
	if !ok || o.meta.GetEtag() != obj.GetEtag() {
		return nil, notFound("mem.OpenObject", "key")
	}
	if off < 0 || length < 0 || off+length > int64(len(o.data)) {
		return nil, errs.E("mem.OpenObject", errs.Invalid, "range out of bounds")
	}
	return io.NopCloser(bytes.NewReader(o.data[off : off+length])), nil
}

// DeleteObject removes a key; errs.NotFound if it is not there.
func (m *Memory) DeleteObject(ctx context.Context, bucket, key, versionID string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	objs, ok := m.objects[bucket]
	if !ok {
		return notFound("mem.DeleteObject", "bucket")
	}
	if _, ok := objs[key]; !ok {
		return notFound("mem.DeleteObject", "key")
	}
	delete(objs, key)
	return nil
}

// Keys returns the keys of a bucket in order, for tests.
func (m *Memory) Keys(bucket string) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var keys []string
	for k := range m.objects[bucket] {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// ListObjects lists keys after start_after with the prefix, grouping by
// the delimiter; a start_after that is a common prefix skips its group.
func (m *Memory) ListObjects(ctx context.Context, req *metapb.ListObjectsRequest) (*metapb.ListObjectsResponse, error) {
	if _, err := m.GetBucket(ctx, req.GetBucket()); err != nil {
		return nil, err
	}
	max := int(req.GetMaxKeys())
	if max <= 0 {
		max = 1000
	}
	prefix, delim, after := req.GetPrefix(), req.GetDelimiter(), req.GetStartAfter()
	resp := &metapb.ListObjectsResponse{}
	n := 0
	for _, k := range m.Keys(req.GetBucket()) {
		if !strings.HasPrefix(k, prefix) || k <= after {
			continue
		}
		entry := k
		if delim != "" {
			if i := strings.Index(k[len(prefix):], delim); i >= 0 {
				entry = k[:len(prefix)+i+len(delim)]
			}
		}
		if entry != k && (entry <= after || strings.HasPrefix(after, entry)) {
			continue // the group was returned on an earlier page
		}
		cps := resp.CommonPrefixes
		if entry != k && len(cps) > 0 && cps[len(cps)-1] == entry {
			continue
		}
		if n == max {
			resp.Truncated = true
			break
		}
		if entry != k {
			resp.CommonPrefixes = append(resp.CommonPrefixes, entry)
		} else {
			o, err := m.HeadObject(ctx, req.GetBucket(), k, "")
			if err != nil {
				continue
			}
			resp.Objects = append(resp.Objects, o)
		}
		resp.NextStartAfter = entry
		n++
	}
	return resp, nil
}
