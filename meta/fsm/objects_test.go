package fsm

import (
	"errors"
	"slices"
	"testing"

	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/meta/metaerr"
	"github.com/wolke-cloud/wolke/meta/metapb"
	"google.golang.org/protobuf/proto"
)

func TestBuckets(t *testing.T) {
	h := newHarness(t)
	h.bucket("b1", "")
	h.bucket("b1.x", "Enabled")
	h.bucket("a", "")
	h.put("b1", "k", `"e"`, "")
	h.must(OpCreateUpload, &metapb.CreateUploadRequest{Upload: &metapb.Upload{Bucket: "a", Key: "k", UploadId: "u1"}})

	tests := []struct {
		name   string
		op     Op
		req    proto.Message
		kind   errs.Kind
		reason error
	}{
		{"exists", OpCreateBucket, &metapb.CreateBucketRequest{Bucket: &metapb.Bucket{Name: "b1"}}, errs.Exists, metaerr.ErrBucketExists},
		{"bad name", OpCreateBucket, &metapb.CreateBucketRequest{Bucket: &metapb.Bucket{Name: "a/b"}}, errs.Invalid, nil},
		{"bad versioning", OpCreateBucket, &metapb.CreateBucketRequest{Bucket: &metapb.Bucket{Name: "v", Versioning: "On"}}, errs.Invalid, nil},
		{"delete missing", OpDeleteBucket, &metapb.DeleteBucketRequest{Name: "nope"}, errs.NotFound, metaerr.ErrNoSuchBucket},
		{"delete with object", OpDeleteBucket, &metapb.DeleteBucketRequest{Name: "b1"}, errs.Precondition, metaerr.ErrBucketNotEmpty},
		{"delete with upload", OpDeleteBucket, &metapb.DeleteBucketRequest{Name: "a"}, errs.Precondition, metaerr.ErrBucketNotEmpty},
		{"delete empty", OpDeleteBucket, &metapb.DeleteBucketRequest{Name: "b1.x"}, errs.Other, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := h.do(tc.op, tc.req)
			checkErr(t, err, tc.kind, tc.reason)
		})
	}
	list, err := h.f.ListBuckets(ctx, &metapb.ListBucketsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, b := range list.Buckets {
		names = append(names, b.Name)
		if b.CreatedUnixNano == 0 {
			t.Errorf("bucket %s has no creation time", b.Name)
		}
	}
	if !slices.Equal(names, []string{"a", "b1"}) {
		t.Fatalf("buckets = %v", names)
	}
	if _, err := h.f.GetBucket(ctx, &metapb.GetBucketRequest{Name: "b1.x"}); !errs.Is(err, errs.NotFound) {
		t.Fatalf("deleted bucket: %v", err)
	}
}

func checkErr(t *testing.T, err error, kind errs.Kind, reason error) {
	t.Helper()
	if kind == errs.Other {
		if err != nil {
			t.Fatalf("unexpected error %v", err)
		}
		return
	}
	if !errs.Is(err, kind) {
		t.Fatalf("err = %v (kind %v), want kind %v", err, errs.KindOf(err), kind)
	}
	if reason != nil && !errors.Is(err, reason) {
		t.Fatalf("err = %v, want reason %v", err, reason)
	}
}

type versionStep struct {
	op       string // put, del, delv (delete version), get, getv
	key, vid string
	etag     string
	// expectations
	kind       errs.Kind
	removed    []string // version ids removed / replaced
	marker     bool     // a delete marker was created
	wantETag   string
	wantLatest bool
}

func runSteps(t *testing.T, h *harness, bucket string, steps []versionStep) {
	t.Helper()
	for i, s := range steps {
		var err error
		var removed []*metapb.Object
		var marker *metapb.Object
		var got *metapb.Object
		switch s.op {
		case "put":
			var resp proto.Message
			resp, err = h.do(OpPutObject, &metapb.PutObjectRequest{Object: &metapb.Object{Bucket: bucket, Key: s.key, Etag: s.etag, VersionId: s.vid}})
			if err == nil {
				r := resp.(*metapb.PutObjectResponse)
				removed, got = r.Replaced, r.Object
			}
		case "del", "delv":
			var resp proto.Message
			resp, err = h.do(OpDeleteObject, &metapb.DeleteObjectRequest{Bucket: bucket, Key: s.key, VersionId: s.vid})
			if err == nil {
				r := resp.(*metapb.DeleteObjectResponse)
				removed, marker = r.Removed, r.DeleteMarker
			}
		case "get":
			var r *metapb.GetObjectResponse
			r, err = h.f.GetObject(ctx, &metapb.GetObjectRequest{Bucket: bucket, Key: s.key, VersionId: s.vid})
			if err == nil {
				got = r.Object
			}
		}
		if s.kind != errs.Other {
			if !errs.Is(err, s.kind) {
				t.Fatalf("step %d %s %s: err %v, want %v", i, s.op, s.key, err, s.kind)
			}
			continue
		}
		if err != nil {
			t.Fatalf("step %d %s %s: %v", i, s.op, s.key, err)
		}
		var ids []string
		for _, o := range removed {
			ids = append(ids, o.VersionId)
		}
		if !slices.Equal(ids, s.removed) {
			t.Fatalf("step %d %s %s: removed %v, want %v", i, s.op, s.key, ids, s.removed)
		}
		if (marker != nil) != s.marker {
			t.Fatalf("step %d: marker %v, want %v", i, marker, s.marker)
		}
		if s.wantETag != "" && (got == nil || got.Etag != s.wantETag) {
			t.Fatalf("step %d: got %v, want etag %s", i, got, s.wantETag)
		}
		if s.op == "get" && got.IsLatest != s.wantLatest {
			t.Fatalf("step %d: is_latest %v, want %v", i, got.IsLatest, s.wantLatest)
		}
	}
}

func versionIDs(t *testing.T, h *harness, bucket, key string) []string {
	t.Helper()
	resp, err := h.f.ListObjectVersions(ctx, &metapb.ListObjectVersionsRequest{Bucket: bucket, Prefix: key})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, o := range resp.Versions {
		s := o.VersionId
		if o.DeleteMarker {
			s += "(dm)"
		}
		if o.IsLatest {
			s += "*"
		}
		out = append(out, s)
	}
	return out
}

func TestVersioning(t *testing.T) {
	tests := []struct {
		name       string
		versioning string
		steps      []versionStep
		versions   []string // ListObjectVersions of key "k" at the end
	}{
		{
			name: "unversioned", versioning: "",
			steps: []versionStep{
				{op: "get", key: "k", kind: errs.NotFound},
				{op: "put", key: "k", etag: "e1"},
				{op: "put", key: "k", etag: "e2", removed: []string{"null"}},
				{op: "get", key: "k", wantETag: "e2", wantLatest: true},
				{op: "get", key: "k", vid: "null", wantETag: "e2", wantLatest: true},
				{op: "del", key: "k", removed: []string{"null"}},
				{op: "get", key: "k", kind: errs.NotFound},
				{op: "del", key: "k"}, // missing: no-op
				{op: "put", key: "k", etag: "e3"},
			},
			versions: []string{"null*"},
		},
		{
			name: "enabled", versioning: "Enabled",
			steps: []versionStep{
				{op: "put", key: "k", etag: "e1", vid: "v1"},
				{op: "put", key: "k", etag: "e2", vid: "v2"},
				{op: "put", key: "k", etag: "dup", vid: "v2", kind: errs.Exists},
				{op: "put", key: "k", etag: "none", vid: "", kind: errs.Invalid},
				{op: "get", key: "k", wantETag: "e2", wantLatest: true},
				{op: "get", key: "k", vid: "v1", wantETag: "e1", wantLatest: false},
				{op: "get", key: "k", vid: "v9", kind: errs.NotFound},
				{op: "del", key: "k", marker: true},
				{op: "get", key: "k", kind: errs.NotFound},
				{op: "get", key: "k", vid: "v2", wantETag: "e2"},
				{op: "put", key: "k", etag: "e3", vid: "v3"},
				{op: "delv", key: "k", vid: "v1", removed: []string{"v1"}},
				{op: "delv", key: "k", vid: "v1"}, // already gone: no-op
			},
			versions: []string{"v3*", "id000006(dm)", "v2"},
		},
		{
			name: "remove delete marker restores", versioning: "Enabled",
			steps: []versionStep{
				{op: "put", key: "k", etag: "e1", vid: "v1"},
				{op: "del", key: "k", marker: true},
				{op: "delv", key: "k", vid: "id000003", removed: []string{"id000003"}},
				{op: "get", key: "k", wantETag: "e1", wantLatest: true},
			},
			versions: []string{"v1*"},
		},
		{
			name: "suspended", versioning: "Suspended",
			steps: []versionStep{
				{op: "put", key: "k", etag: "e1", vid: "ignored"},
				{op: "put", key: "k", etag: "e2", removed: []string{"null"}},
				{op: "del", key: "k", marker: true, removed: []string{"null"}},
				{op: "get", key: "k", kind: errs.NotFound},
			},
			versions: []string{"null(dm)*"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.bucket("bk", tc.versioning)
			runSteps(t, h, "bk", tc.steps)
			if got := versionIDs(t, h, "bk", "k"); !slices.Equal(got, tc.versions) {
				t.Fatalf("versions = %v, want %v", got, tc.versions)
			}
		})
	}
}

func TestConditionalPut(t *testing.T) {
	tests := []struct {
		name                 string
		existing             string // etag of the existing object, "" for none, "dm" for a delete marker
		ifMatch, ifNoneMatch string
		ok                   bool
	}{
		{"none-match * on missing", "", "", "*", true},
		{"none-match * on existing", `"abc"`, "", "*", false},
		{"none-match * on delete marker", "dm", "", "*", true},
		{"match on missing", "", `"abc"`, "", false},
		{"match equal", `"abc"`, `"abc"`, "", true},
		{"match equal unquoted", `"abc"`, `abc`, "", true},
		{"match differs", `"abc"`, `"def"`, "", false},
		{"match * existing", `"abc"`, "*", "", true},
		{"match * on delete marker", "dm", "*", "", false},
		{"none-match etag equal", `"abc"`, "", `"abc"`, false},
		{"none-match etag differs", `"abc"`, "", `"x"`, true},
		{"no conditions", `"abc"`, "", "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.bucket("bk", "Enabled")
			switch tc.existing {
			case "":
			case "dm":
				h.put("bk", "k", `"old"`, "v0")
				h.must(OpDeleteObject, &metapb.DeleteObjectRequest{Bucket: "bk", Key: "k"})
			default:
				h.put("bk", "k", tc.existing, "v0")
			}
			_, err := h.do(OpPutObject, &metapb.PutObjectRequest{
				Object:  &metapb.Object{Bucket: "bk", Key: "k", Etag: `"new"`, VersionId: "v1"},
				IfMatch: tc.ifMatch, IfNoneMatch: tc.ifNoneMatch,
			})
			if tc.ok {
				checkErr(t, err, errs.Other, nil)
			} else {
				checkErr(t, err, errs.Precondition, metaerr.ErrPreconditionFailed)
			}
		})
	}
}

func TestPutMissingBucketAndBadKey(t *testing.T) {
	h := newHarness(t)
	_, err := h.do(OpPutObject, &metapb.PutObjectRequest{Object: &metapb.Object{Bucket: "nope", Key: "k"}})
	checkErr(t, err, errs.NotFound, metaerr.ErrNoSuchBucket)
	h.bucket("bk", "")
	_, err = h.do(OpPutObject, &metapb.PutObjectRequest{Object: &metapb.Object{Bucket: "bk", Key: "a\x00b"}})
	checkErr(t, err, errs.Invalid, nil)
	_, err = h.f.GetObject(ctx, &metapb.GetObjectRequest{Bucket: "bk", Key: "k"})
	checkErr(t, err, errs.NotFound, metaerr.ErrNoSuchKey)
}

// Turning versioning on and off keeps existing versions: the "null"
// version written before stays until a suspended PUT replaces it.
func TestSetBucketVersioning(t *testing.T) {
	h := newHarness(t)
	h.bucket("bk", "")
	h.put("bk", "k", "e0", "")
	tests := []struct {
		name       string
		versioning string
		kind       errs.Kind
	}{
		{"back to unversioned", "", errs.Invalid},
		{"bogus", "On", errs.Invalid},
		{"enable", "Enabled", errs.Other},
	}
	for _, tc := range tests {
		_, err := h.do(OpSetBucketVersioning, &metapb.SetBucketVersioningRequest{Name: "bk", Versioning: tc.versioning})
		checkErr(t, err, tc.kind, nil)
	}
	_, err := h.do(OpSetBucketVersioning, &metapb.SetBucketVersioningRequest{Name: "nope", Versioning: "Enabled"})
	checkErr(t, err, errs.NotFound, metaerr.ErrNoSuchBucket)
	runSteps(t, h, "bk", []versionStep{
		{op: "put", key: "k", etag: "e1", vid: "v1"},
	})
	h.must(OpSetBucketVersioning, &metapb.SetBucketVersioningRequest{Name: "bk", Versioning: "Suspended"})
	runSteps(t, h, "bk", []versionStep{
		{op: "put", key: "k", etag: "e2", removed: []string{"null"}},
		{op: "get", key: "k", wantETag: "e2", wantLatest: true},
		{op: "get", key: "k", vid: "v1", wantETag: "e1"},
	})
	if got := versionIDs(t, h, "bk", "k"); !slices.Equal(got, []string{"null*", "v1"}) {
		t.Fatalf("versions %v", got)
	}
	b, err := h.f.GetBucket(ctx, &metapb.GetBucketRequest{Name: "bk"})
	if err != nil || b.Bucket.Versioning != "Suspended" {
		t.Fatalf("bucket %v %v", b, err)
	}
}
