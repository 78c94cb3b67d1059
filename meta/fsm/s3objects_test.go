package fsm

import (
	"maps"
	"strings"
	"testing"

	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/meta/metaerr"
	"github.com/wolke-cloud/wolke/meta/metapb"
)

func TestSetObjectTags(t *testing.T) {
	h := newHarness(t)
	h.bucket("v", "Enabled")
	h.put("v", "k", `"e1"`, "v1")
	h.put("v", "k", `"e2"`, "v2")
	h.put("v", "gone", `"e3"`, "v3")
	h.must(OpDeleteObject, &metapb.DeleteObjectRequest{Bucket: "v", Key: "gone"})
	many := map[string]string{}
	for i := range 11 {
		many[strings.Repeat("k", i+1)] = "v"
	}
	tests := []struct {
		name   string
		req    *metapb.SetObjectTagsRequest
		kind   errs.Kind
		reason error
	}{
		{"latest", &metapb.SetObjectTagsRequest{Bucket: "v", Key: "k", Tags: map[string]string{"a": "1"}}, errs.Other, nil},
		{"old version", &metapb.SetObjectTagsRequest{Bucket: "v", Key: "k", VersionId: "v1", Tags: map[string]string{"old": "yes"}}, errs.Other, nil},
		{"missing key", &metapb.SetObjectTagsRequest{Bucket: "v", Key: "nope"}, errs.NotFound, metaerr.ErrNoSuchKey},
		{"deleted key", &metapb.SetObjectTagsRequest{Bucket: "v", Key: "gone"}, errs.NotFound, metaerr.ErrNoSuchKey},
		{"missing version", &metapb.SetObjectTagsRequest{Bucket: "v", Key: "k", VersionId: "zz"}, errs.NotFound, metaerr.ErrNoSuchVersion},
		{"too many", &metapb.SetObjectTagsRequest{Bucket: "v", Key: "k", Tags: many}, errs.Invalid, nil},
		{"long key", &metapb.SetObjectTagsRequest{Bucket: "v", Key: "k", Tags: map[string]string{strings.Repeat("x", 129): ""}}, errs.Invalid, nil},
		{"long value", &metapb.SetObjectTagsRequest{Bucket: "v", Key: "k", Tags: map[string]string{"x": strings.Repeat("é", 257)}}, errs.Invalid, nil},
		{"no bucket", &metapb.SetObjectTagsRequest{Bucket: "nob", Key: "k"}, errs.NotFound, metaerr.ErrNoSuchBucket},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := h.do(OpSetObjectTags, tc.req)
			checkErr(t, err, tc.kind, tc.reason)
		})
	}
	for vid, want := range map[string]map[string]string{"v1": {"old": "yes"}, "v2": {"a": "1"}} {
		got, err := h.f.GetObject(ctx, &metapb.GetObjectRequest{Bucket: "v", Key: "k", VersionId: vid})
		if err != nil {
			t.Fatal(err)
		}
		if !maps.Equal(got.Object.Tags, want) {
			t.Errorf("tags of %s = %v, want %v", vid, got.Object.Tags, want)
		}
	}
	// Tagging keeps the version order: v2 is still the latest.
	got, err := h.f.GetObject(ctx, &metapb.GetObjectRequest{Bucket: "v", Key: "k"})
	if err != nil || got.Object.VersionId != "v2" {
		t.Fatalf("latest = %v, %v", got, err)
	}
	h.must(OpSetObjectTags, &metapb.SetObjectTagsRequest{Bucket: "v", Key: "k"})
	got, _ = h.f.GetObject(ctx, &metapb.GetObjectRequest{Bucket: "v", Key: "k"})
	if len(got.Object.Tags) != 0 {
		t.Errorf("tags after removal = %v", got.Object.Tags)
	}
}
