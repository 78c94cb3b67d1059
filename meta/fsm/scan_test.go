package fsm

import (
	"fmt"
	"slices"
	"testing"

	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/meta/metapb"
)

// scanAll pages through ScanStripes and returns every stripe id seen,
// "bucket/key/version|upload/part:id" per stripe, and the pages taken.
func scanAll(t *testing.T, f *FSM, limit int32, groups []uint64) ([]string, int) {
	t.Helper()
	var out []string
	var after []byte
	for pages := 1; ; pages++ {
		resp, err := f.ScanStripes(ctx, &metapb.ScanStripesRequest{After: after, Limit: limit, PlacementGroups: groups})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range resp.Stripes {
			where := r.VersionId
			if r.UploadId != "" {
				where = fmt.Sprintf("%s#%d", r.UploadId, r.PartNumber)
			}
			out = append(out, fmt.Sprintf("%s/%s/%s:%s", r.Bucket, r.Key, where, r.Stripe.Id))
		}
		if len(resp.Next) == 0 {
			return out, pages
		}
		if pages > 100 {
			t.Fatal("scan does not end")
		}
		after = resp.Next
	}
}

func TestScanStripes(t *testing.T) {
	h := newHarness(t)
	h.bucket("a", "Enabled")
	h.bucket("b", "")
	st := func(id string, g uint64) *metapb.Stripe { return &metapb.Stripe{Id: []byte(id), PlacementGroup: g} }
	for i, o := range []*metapb.Object{
		{Bucket: "a", Key: "k1", VersionId: "v1", Stripes: []*metapb.Stripe{st("s1", 1), st("s2", 2)}},
		{Bucket: "a", Key: "k1", VersionId: "v2", Stripes: []*metapb.Stripe{st("s3", 1)}},
		{Bucket: "a", Key: "inline", VersionId: "v3", Inline: []byte("x")},
		{Bucket: "b", Key: "k2", Stripes: []*metapb.Stripe{st("s4", 2)}},
	} {
		if _, err := h.do(OpPutObject, &metapb.PutObjectRequest{Object: o}); err != nil {
			t.Fatalf("object %d: %v", i, err)
		}
	}
	h.must(OpCreateUpload, &metapb.CreateUploadRequest{Upload: &metapb.Upload{Bucket: "b", Key: "big", UploadId: "u1"}})
	h.must(OpPutPart, &metapb.PutPartRequest{Bucket: "b", Key: "big", UploadId: "u1",
		Part: &metapb.Part{Number: 3, Stripes: []*metapb.Stripe{st("s5", 2)}}})
	// A deleted version's stripes are gone from the scan.
	h.put("b", "gone", `"x"`, "")
	h.must(OpDeleteObject, &metapb.DeleteObjectRequest{Bucket: "b", Key: "gone"})

	// Key order: per bucket, object versions (o/) before parts (p/).
	all := []string{"a/k1/v2:s3", "a/k1/v1:s1", "a/k1/v1:s2", "b/k2/null:s4", "b/big/u1#3:s5"}
	tests := []struct {
		name   string
		limit  int32
		groups []uint64
		want   []string
		pages  int
	}{
		{"one page", 0, nil, all, 1},
		{"one key per page", 1, nil, all, 12}, // 12 keys: buckets, versions, indexes, upload, part
		{"three per page", 3, nil, all, 4},
		{"group 2 only", 2, []uint64{2}, []string{"a/k1/v1:s2", "b/k2/null:s4", "b/big/u1#3:s5"}, 6},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, pages := scanAll(t, h.f, tc.limit, tc.groups)
			if !slices.Equal(got, tc.want) {
				t.Fatalf("scan = %v, want %v", got, tc.want)
			}
			if pages != tc.pages {
				t.Fatalf("scan took %d pages, want %d", pages, tc.pages)
			}
		})
	}
	if _, err := h.f.ScanStripes(ctx, &metapb.ScanStripesRequest{After: []byte("zz")}); !errs.Is(err, errs.Invalid) {
		t.Fatalf("bad cursor: %v, want Invalid", err)
	}
}
