package fsm

import (
	"testing"

	"github.com/wolke-cloud/wolke/meta/metapb"
)

// TestListSegmentGarbage: a removed multipart version's marker is listed
// (paged by cursor) until DeleteSegments drops it; live segments are not.
func TestListSegmentGarbage(t *testing.T) {
	h := uploadHarness(t)
	list := func(limit int32) []*metapb.Object {
		t.Helper()
		var out []*metapb.Object
		var after []byte
		for pages := 0; pages < 10; pages++ {
			resp, err := h.f.ListSegmentGarbage(ctx, &metapb.ListSegmentGarbageRequest{After: after, Limit: limit})
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, resp.Objects...)
			if len(resp.Next) == 0 {
				return out
			}
			after = resp.Next
		}
		t.Fatal("listing does not end")
		return nil
	}
	h.must(OpSetBucketVersioning, &metapb.SetBucketVersioningRequest{Name: "bk", Versioning: "Enabled"})
	req := &metapb.CompleteUploadRequest{Bucket: "bk", Key: "k", UploadId: "u1", MinPartSize: 5, VersionId: "v1",
		Parts: []*metapb.CompletedPart{{Number: 1, Etag: partETag(1, 0)}}}
	h.must(OpCompleteUpload, req)
	if got := list(0); len(got) != 0 {
		t.Fatalf("live segments listed as garbage: %v", got)
	}
	h.must(OpDeleteObject, &metapb.DeleteObjectRequest{Bucket: "bk", Key: "k", VersionId: "v1"})
	for _, limit := range []int32{0, 1} {
		got := list(limit)
		if len(got) != 1 || got[0].Bucket != "bk" || got[0].Key != "k" || got[0].SegmentsUploadId != "u1" {
			t.Fatalf("limit %d: garbage %v, want bk/k u1", limit, got)
		}
	}
	if _, err := h.f.ListSegmentGarbage(ctx, &metapb.ListSegmentGarbageRequest{After: []byte("b/x")}); err == nil {
		t.Fatal("a cursor outside segx/ was taken")
	}
	h.must(OpDeleteSegments, &metapb.DeleteSegmentsRequest{Bucket: "bk", Key: "k", UploadId: "u1"})
	if got := list(0); len(got) != 0 {
		t.Fatalf("garbage listed after DeleteSegments: %v", got)
	}
}
