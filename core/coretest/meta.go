package coretest

import (
	"context"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/meta/metapb"
)

// Meta is an in-memory metapb.MetaClient with the semantics of a bucket
// whose versioning was never enabled: every key has one version, "null",
// which a PUT replaces. It fakes the bucket, object, multipart and
// placement calls; the other methods (disks, membership, version listing)
// are not faked and panic.
type Meta struct {
	metapb.MetaClient // nil: methods not faked panic

	mu      sync.Mutex
	disks   []string
	groups  []*metapb.PlacementGroup
	buckets map[string]*metapb.Bucket
	objects map[string]map[string]*metapb.Object // bucket → key → object
	uploads map[string]*upload                   // upload id → upload
	segs    map[string][]*metapb.Part            // upload id → segments of the completed object
	// abortGarbage makes AbortUpload leave the parts as garbage segments,
	// as meta does for uploads too big to list.
	abortGarbage bool
	fail         map[string]error
	after        map[string]error // applied, then failed
	calls        map[string]int
	intents      map[string]*metapb.WriteIntent // meta_intents.go
}

type upload struct {
	up    *metapb.Upload
	parts map[int32]*metapb.Part
}

// NewMeta returns an empty metadata service whose placement groups are made
// from the given disks: EnsurePlacementGroups(k, m) cuts the list into
// consecutive groups of k+m.
func NewMeta(disks ...string) *Meta {
	return &Meta{
		disks:   disks,
		buckets: make(map[string]*metapb.Bucket),
		objects: make(map[string]map[string]*metapb.Object),
		uploads: make(map[string]*upload),
		segs:    make(map[string][]*metapb.Part),
		fail:    make(map[string]error),
		after:   make(map[string]error),
		calls:   make(map[string]int),
	}
}

// Fail makes every later call of method (e.g. "PutObject") fail with err;
// nil clears it.
func (m *Meta) Fail(method string, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.fail[method] = err
}

// FailAfterApply makes PutObject or PutPart apply and then fail with err,
// as when the connection breaks after the commit; nil clears it.
func (m *Meta) FailAfterApply(method string, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.after[method] = err
}

// Calls counts the calls of method, failed ones included.
func (m *Meta) Calls(method string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.calls[method]
}

// Objects returns a copy of every stored manifest.
func (m *Meta) Objects() []*metapb.Object {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []*metapb.Object
	for _, keys := range m.objects {
		for _, o := range keys {
			out = append(out, clone(o))
		}
	}
	return out
}

// enter locks m and counts the call; the caller must unlock.
func (m *Meta) enter(method string) error {
	m.mu.Lock()
	m.calls[method]++
	if err := m.fail[method]; err != nil {
		m.mu.Unlock()
		return err
	}
	return nil
}

func clone[T proto.Message](v T) T { return proto.Clone(v).(T) }

func (m *Meta) CreateBucket(_ context.Context, in *metapb.CreateBucketRequest, _ ...grpc.CallOption) (*metapb.CreateBucketResponse, error) {
	if err := m.enter("CreateBucket"); err != nil {
		return nil, err
	}
	defer m.mu.Unlock()
	name := in.GetBucket().GetName()
	if name == "" {
		return nil, errs.E("fakemeta.CreateBucket", errs.Invalid, "no name")
	}
	if _, ok := m.buckets[name]; ok {
		return nil, errs.E("fakemeta.CreateBucket", errs.Exists, name)
	}
	m.buckets[name] = clone(in.GetBucket())
	m.objects[name] = make(map[string]*metapb.Object)
	return &metapb.CreateBucketResponse{}, nil
}

func (m *Meta) GetBucket(_ context.Context, in *metapb.GetBucketRequest, _ ...grpc.CallOption) (*metapb.GetBucketResponse, error) {
	if err := m.enter("GetBucket"); err != nil {
		return nil, err
	}
	defer m.mu.Unlock()
	b, ok := m.buckets[in.GetName()]
	if !ok {
		return nil, errs.E("fakemeta.GetBucket", errs.NotFound, in.GetName())
	}
	return &metapb.GetBucketResponse{Bucket: clone(b)}, nil
}

func (m *Meta) DeleteBucket(_ context.Context, in *metapb.DeleteBucketRequest, _ ...grpc.CallOption) (*metapb.DeleteBucketResponse, error) {
	if err := m.enter("DeleteBucket"); err != nil {
		return nil, err
	}
	defer m.mu.Unlock()
	name := in.GetName()
	if _, ok := m.buckets[name]; !ok {
		return nil, errs.E("fakemeta.DeleteBucket", errs.NotFound, name)
	}
	if len(m.objects[name]) > 0 {
		return nil, errs.E("fakemeta.DeleteBucket", errs.Precondition, "bucket not empty")
	}
	for _, u := range m.uploads {
		if u.up.GetBucket() == name {
			return nil, errs.E("fakemeta.DeleteBucket", errs.Precondition, "bucket has uploads")
		}
	}
	delete(m.buckets, name)
	delete(m.objects, name)
	return &metapb.DeleteBucketResponse{}, nil
}

func (m *Meta) ListBuckets(_ context.Context, _ *metapb.ListBucketsRequest, _ ...grpc.CallOption) (*metapb.ListBucketsResponse, error) {
	if err := m.enter("ListBuckets"); err != nil {
		return nil, err
	}
	defer m.mu.Unlock()
	resp := &metapb.ListBucketsResponse{}
	for _, name := range sortedKeys(m.buckets) {
		resp.Buckets = append(resp.Buckets, clone(m.buckets[name]))
	}
	return resp, nil
}

// commitLocked stores obj as the "null" version of its key, checking the
// conditions, and returns the stored copy and what it replaced.
func (m *Meta) commitLocked(op string, obj *metapb.Object, ifMatch, ifNoneMatch string) (*metapb.Object, []*metapb.Object, error) {
	keys, ok := m.objects[obj.GetBucket()]
	if !ok {
		return nil, nil, errs.E(op, errs.NotFound, "bucket "+obj.GetBucket())
	}
	cur, exists := keys[obj.GetKey()]
	switch {
	case ifNoneMatch == "*" && exists:
		return nil, nil, errs.E(op, errs.Precondition, "key exists")
	case ifMatch != "" && (!exists || cur.GetEtag() != ifMatch):
		return nil, nil, errs.E(op, errs.Precondition, "etag differs")
	}
	st := clone(obj)
	st.VersionId = "null"
	st.IsLatest = false
	keys[st.GetKey()] = st
	out := clone(st)
	out.IsLatest = true
	var replaced []*metapb.Object
	if exists {
		replaced = append(replaced, cur)
	}
	return out, replaced, nil
}

func (m *Meta) PutObject(_ context.Context, in *metapb.PutObjectRequest, _ ...grpc.CallOption) (*metapb.PutObjectResponse, error) {
	if err := m.enter("PutObject"); err != nil {
		return nil, err
	}
	defer m.mu.Unlock()
	if _, ok := m.intents[in.GetIntentId()]; in.GetIntentId() != "" && !ok {
		return nil, errs.Errorf("fakemeta.PutObject", errs.Unavailable, "write intent %s is gone", in.GetIntentId())
	}
	out, replaced, err := m.commitLocked("fakemeta.PutObject", in.GetObject(), in.GetIfMatch(), in.GetIfNoneMatch())
	if err != nil {
		return nil, err
	}
	_ = m.consumeIntentLocked("fakemeta.PutObject", in.GetIntentId())
	if err := m.after["PutObject"]; err != nil {
		return nil, err
	}
	return &metapb.PutObjectResponse{Object: out, Replaced: replaced}, nil
}

func (m *Meta) GetObject(_ context.Context, in *metapb.GetObjectRequest, _ ...grpc.CallOption) (*metapb.GetObjectResponse, error) {
	if err := m.enter("GetObject"); err != nil {
		return nil, err
	}
	defer m.mu.Unlock()
	keys, ok := m.objects[in.GetBucket()]
	if !ok {
		return nil, errs.E("fakemeta.GetObject", errs.NotFound, "bucket "+in.GetBucket())
	}
	o, ok := keys[in.GetKey()]
	if !ok || (in.GetVersionId() != "" && in.GetVersionId() != "null") {
		return nil, errs.E("fakemeta.GetObject", errs.NotFound, "key "+in.GetKey())
	}
	out := clone(o)
	out.IsLatest = true
	return &metapb.GetObjectResponse{Object: out}, nil
}

func (m *Meta) DeleteObject(_ context.Context, in *metapb.DeleteObjectRequest, _ ...grpc.CallOption) (*metapb.DeleteObjectResponse, error) {
	if err := m.enter("DeleteObject"); err != nil {
		return nil, err
	}
	defer m.mu.Unlock()
	keys, ok := m.objects[in.GetBucket()]
	if !ok {
		return nil, errs.E("fakemeta.DeleteObject", errs.NotFound, "bucket "+in.GetBucket())
	}
	resp := &metapb.DeleteObjectResponse{}
	if v := in.GetVersionId(); v != "" && v != "null" {
		return resp, nil // no such version: S3 deletes succeed anyway
	}
	if o, ok := keys[in.GetKey()]; ok {
		delete(keys, in.GetKey())
		resp.Removed = append(resp.Removed, o)
	}
	return resp, nil
}
