package fsm

import (
	"slices"
	"testing"

	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/meta/metapb"
)

func listHarness(t *testing.T) *harness {
	h := newHarness(t)
	h.bucket("bk", "Enabled")
	h.bucket("bk2", "") // a neighbour whose keys must never show up
	for i, k := range []string{"a/1", "a/2", "a/b/3", "b", "c/x/y", "c/z", "d", "dd", "gone"} {
		h.put("bk", k, `"e"`, "v"+k)
		h.put("bk", k, `"e"`, "w"+k) // two versions each
		_ = i
	}
	h.must(OpDeleteObject, &metapb.DeleteObjectRequest{Bucket: "bk", Key: "gone"})
	h.put("bk2", "a/zzz", `"e"`, "")
	return h
}

func TestListObjects(t *testing.T) {
	h := listHarness(t)
	tests := []struct {
		name      string
		req       *metapb.ListObjectsRequest
		keys      []string
		prefixes  []string
		truncated bool
		next      string
	}{
		{name: "all", req: &metapb.ListObjectsRequest{}, keys: []string{"a/1", "a/2", "a/b/3", "b", "c/x/y", "c/z", "d", "dd"}},
		{name: "delimiter", req: &metapb.ListObjectsRequest{Delimiter: "/"}, keys: []string{"b", "d", "dd"}, prefixes: []string{"a/", "c/"}},
		{name: "prefix+delimiter", req: &metapb.ListObjectsRequest{Prefix: "a/", Delimiter: "/"}, keys: []string{"a/1", "a/2"}, prefixes: []string{"a/b/"}},
		{name: "prefix only", req: &metapb.ListObjectsRequest{Prefix: "c/"}, keys: []string{"c/x/y", "c/z"}},
		{name: "prefix no match", req: &metapb.ListObjectsRequest{Prefix: "zz"}},
		{name: "start after", req: &metapb.ListObjectsRequest{StartAfter: "b"}, keys: []string{"c/x/y", "c/z", "d", "dd"}},
		{name: "start after mid prefix", req: &metapb.ListObjectsRequest{StartAfter: "a/1", Delimiter: "/"}, keys: []string{"b", "d", "dd"}, prefixes: []string{"c/"}},
		{name: "start after common prefix", req: &metapb.ListObjectsRequest{StartAfter: "a/", Delimiter: "/"}, keys: []string{"b", "d", "dd"}, prefixes: []string{"c/"}},
		{name: "start after before prefix", req: &metapb.ListObjectsRequest{Prefix: "c", StartAfter: "a"}, keys: []string{"c/x/y", "c/z"}},
		{name: "max keys", req: &metapb.ListObjectsRequest{MaxKeys: 2}, keys: []string{"a/1", "a/2"}, truncated: true, next: "a/2"},
		{name: "max keys with prefixes", req: &metapb.ListObjectsRequest{MaxKeys: 2, Delimiter: "/"}, keys: []string{"b"}, prefixes: []string{"a/"}, truncated: true, next: "b"},
		{name: "exact fit not truncated", req: &metapb.ListObjectsRequest{MaxKeys: 5, Delimiter: "/"}, keys: []string{"b", "d", "dd"}, prefixes: []string{"a/", "c/"}},
		{name: "delete marker at end not truncated", req: &metapb.ListObjectsRequest{MaxKeys: 1, StartAfter: "d"}, keys: []string{"dd"}},
		{name: "multi-char delimiter", req: &metapb.ListObjectsRequest{Delimiter: "/b/"}, keys: []string{"a/1", "a/2", "b", "c/x/y", "c/z", "d", "dd"}, prefixes: []string{"a/b/"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.req.Bucket = "bk"
			resp, err := h.f.ListObjects(ctx, tc.req)
			if err != nil {
				t.Fatal(err)
			}
			var keys []string
			for _, o := range resp.Objects {
				keys = append(keys, o.Key)
				if !o.IsLatest || o.VersionId != "w"+o.Key {
					t.Errorf("%s: not the latest version: %v", o.Key, o)
				}
			}
			if !slices.Equal(keys, tc.keys) || !slices.Equal(resp.CommonPrefixes, tc.prefixes) {
				t.Fatalf("keys %v prefixes %v, want %v %v", keys, resp.CommonPrefixes, tc.keys, tc.prefixes)
			}
			if resp.Truncated != tc.truncated || resp.NextStartAfter != tc.next {
				t.Fatalf("truncated %v next %q, want %v %q", resp.Truncated, resp.NextStartAfter, tc.truncated, tc.next)
			}
		})
	}
	if _, err := h.f.ListObjects(ctx, &metapb.ListObjectsRequest{Bucket: "nope"}); !errs.Is(err, errs.NotFound) {
		t.Fatalf("missing bucket: %v", err)
	}
	if _, err := h.f.ListObjects(ctx, &metapb.ListObjectsRequest{Bucket: "bk", MaxKeys: -1}); !errs.Is(err, errs.Invalid) {
		t.Fatalf("negative max keys: %v", err)
	}
}

func TestListObjectsPaging(t *testing.T) {
	h := listHarness(t)
	for _, delim := range []string{"", "/"} {
		full, err := h.f.ListObjects(ctx, &metapb.ListObjectsRequest{Bucket: "bk", Delimiter: delim})
		if err != nil {
			t.Fatal(err)
		}
		var want, got []string
		for _, o := range full.Objects {
			want = append(want, o.Key)
		}
		want = append(want, full.CommonPrefixes...)
		after := ""
		for range 20 {
			page, err := h.f.ListObjects(ctx, &metapb.ListObjectsRequest{Bucket: "bk", Delimiter: delim, MaxKeys: 1, StartAfter: after})
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range page.Objects {
				got = append(got, o.Key)
			}
			got = append(got, page.CommonPrefixes...)
			if !page.Truncated {
				break
			}
			after = page.NextStartAfter
		}
		slices.Sort(want)
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Fatalf("delimiter %q: pages %v, want %v", delim, got, want)
		}
	}
}

func TestListObjectVersions(t *testing.T) {
	h := listHarness(t)
	tests := []struct {
		name      string
		req       *metapb.ListObjectVersionsRequest
		want      []string
		truncated bool
		nextKey   string
		nextVid   string
		cps       []string
	}{
		{name: "prefix", req: &metapb.ListObjectVersionsRequest{Prefix: "a/"}, want: []string{"a/1@wa/1*", "a/1@va/1", "a/2@wa/2*", "a/2@va/2", "a/b/3@wa/b/3*", "a/b/3@va/b/3"}},
		{name: "delete marker", req: &metapb.ListObjectVersionsRequest{Prefix: "gone"}, want: []string{"gone@id000021(dm)*", "gone@wgone", "gone@vgone"}},
		{name: "page", req: &metapb.ListObjectVersionsRequest{Prefix: "a/", MaxKeys: 3}, want: []string{"a/1@wa/1*", "a/1@va/1", "a/2@wa/2*"}, truncated: true, nextKey: "a/2", nextVid: "wa/2"},
		{name: "resume mid key", req: &metapb.ListObjectVersionsRequest{Prefix: "a/", KeyMarker: "a/2", VersionIdMarker: "wa/2", MaxKeys: 2}, want: []string{"a/2@va/2", "a/b/3@wa/b/3*"}, truncated: true, nextKey: "a/b/3", nextVid: "wa/b/3"},
		{name: "key marker only", req: &metapb.ListObjectVersionsRequest{Prefix: "a/", KeyMarker: "a/2"}, want: []string{"a/b/3@wa/b/3*", "a/b/3@va/b/3"}},
		{name: "delimiter", req: &metapb.ListObjectVersionsRequest{Prefix: "a/", Delimiter: "/"}, want: []string{"a/1@wa/1*", "a/1@va/1", "a/2@wa/2*", "a/2@va/2"}, cps: []string{"a/b/"}},
		{name: "delimiter last entry a prefix", req: &metapb.ListObjectVersionsRequest{Prefix: "a/", Delimiter: "/", KeyMarker: "a/2", MaxKeys: 1}, cps: []string{"a/b/"}},
		{name: "delimiter after prefix marker", req: &metapb.ListObjectVersionsRequest{Prefix: "a/", Delimiter: "/", KeyMarker: "a/b/"}},
		{name: "delimiter no prefix", req: &metapb.ListObjectVersionsRequest{Delimiter: "/", MaxKeys: 1}, cps: []string{"a/"}, truncated: true, nextKey: "a/"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.req.Bucket = "bk"
			resp, err := h.f.ListObjectVersions(ctx, tc.req)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, o := range resp.Versions {
				s := o.Key + "@" + o.VersionId
				if o.DeleteMarker {
					s += "(dm)"
				}
				if o.IsLatest {
					s += "*"
				}
				got = append(got, s)
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			if resp.Truncated != tc.truncated || resp.NextKeyMarker != tc.nextKey || resp.NextVersionIdMarker != tc.nextVid {
				t.Fatalf("truncated %v next %q/%q", resp.Truncated, resp.NextKeyMarker, resp.NextVersionIdMarker)
			}
			if !slices.Equal(resp.CommonPrefixes, tc.cps) {
				t.Fatalf("common prefixes %v, want %v", resp.CommonPrefixes, tc.cps)
			}
		})
	}
}
