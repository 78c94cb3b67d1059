package fsm

import (
	"fmt"
	"slices"
	"testing"

	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/meta/metapb"
	"google.golang.org/protobuf/proto"
)

// segmentStripes pages through the segments of o, maxParts per page, and
// returns their stripes in order, checking the pages' part numbers.
func segmentStripes(t *testing.T, f *FSM, o *metapb.Object, maxParts int32) []*metapb.Stripe {
	t.Helper()
	var (
		out    []*metapb.Stripe
		marker int32
		nums   []int32
	)
	for pages := 0; ; pages++ {
		if pages > MaxPartNumber+1 {
			t.Fatal("segment paging does not end")
		}
		resp, err := f.GetObjectSegments(ctx, &metapb.GetObjectSegmentsRequest{
			Bucket: o.Bucket, Key: o.Key, UploadId: o.SegmentsUploadId, PartNumberMarker: marker, MaxParts: maxParts})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range resp.Parts {
			nums = append(nums, p.Number)
			out = append(out, p.Stripes...)
		}
		if !resp.Truncated {
			break
		}
		marker = resp.NextPartNumberMarker
	}
	if !slices.Equal(nums, o.PartNumbers) {
		t.Fatalf("segments %v, object parts %v", nums, o.PartNumbers)
	}
	return out
}

func completeU1(t *testing.T, h *harness, parts ...int32) *metapb.CompleteUploadResponse {
	t.Helper()
	req := &metapb.CompleteUploadRequest{Bucket: "bk", Key: "k", UploadId: "u1", MinPartSize: 5, MtimeUnixNano: 77}
	for _, n := range parts {
		gen := 0
		if n == 2 {
			gen = 1
		}
		req.Parts = append(req.Parts, &metapb.CompletedPart{Number: n, Etag: partETag(n, gen)})
	}
	return h.must(OpCompleteUpload, req).(*metapb.CompleteUploadResponse)
}

// TestSegmentsLifecycle: a completed object's segments are read in pages,
// listed by no listing, scanned for repair, carried by snapshots, become
// garbage when the version is overwritten, and only garbage is dropped.
func TestSegmentsLifecycle(t *testing.T) {
	h := uploadHarness(t)
	done := completeU1(t, h, 1, 2, 3)
	obj := done.Object
	if len(done.Unused) != 1 || len(done.Unused[0].Stripes) != 2 {
		t.Fatalf("unused parts %v: want part 4 with its stripes", done.Unused)
	}
	want := []string{"s1.0", "s1.1", "s2.5", "s3.0", "s3.1"}
	ids := func(sts []*metapb.Stripe) []string {
		var out []string
		for _, s := range sts {
			out = append(out, string(s.Id))
		}
		return out
	}
	for _, per := range []int32{0, 1, 2} {
		if got := ids(segmentStripes(t, h.f, obj, per)); !slices.Equal(got, want) {
			t.Fatalf("%d parts per page: %v, want %v", per, got, want)
		}
	}
	// Live segments are never dropped, nor their upload id reused.
	if _, err := h.do(OpDeleteSegments, &metapb.DeleteSegmentsRequest{Bucket: "bk", Key: "k", UploadId: "u1"}); !errs.Is(err, errs.Precondition) {
		t.Fatalf("deleting live segments: %v, want Precondition", err)
	}
	if _, err := h.do(OpCreateUpload, &metapb.CreateUploadRequest{Upload: &metapb.Upload{Bucket: "bk", Key: "k", UploadId: "u1"}}); !errs.Is(err, errs.Exists) {
		t.Fatalf("reusing the upload id: %v, want Exists", err)
	}
	// A put may not name segments (a copied head would share them).
	bad := &metapb.Object{Bucket: "bk", Key: "k2", SegmentsUploadId: "u1"}
	if _, err := h.do(OpPutObject, &metapb.PutObjectRequest{Object: bad}); !errs.Is(err, errs.Invalid) {
		t.Fatalf("put naming segments: %v, want Invalid", err)
	}
	// The repair scan sees the segments as parts of u1.
	scanned, _ := scanAll(t, h.f, 0, nil)
	if len(scanned) != len(want) {
		t.Fatalf("scan found %v", scanned)
	}
	// Listings ship no stripes (and these objects hold none anyway).
	h.must(OpPutObject, &metapb.PutObjectRequest{Object: &metapb.Object{Bucket: "bk", Key: "plain", Stripes: []*metapb.Stripe{stripe(9, 0)}}})
	lo, err := h.f.ListObjects(ctx, &metapb.ListObjectsRequest{Bucket: "bk"})
	if err != nil || len(lo.Objects) != 2 {
		t.Fatalf("list: %v, %v", lo, err)
	}
	lv, err := h.f.ListObjectVersions(ctx, &metapb.ListObjectVersionsRequest{Bucket: "bk"})
	if err != nil || len(lv.Versions) != 2 {
		t.Fatalf("list versions: %v, %v", lv, err)
	}
	for _, o := range append(lo.Objects, lv.Versions...) {
		if len(o.Stripes) != 0 {
			t.Fatalf("listing shipped the stripes of %s", o.Key)
		}
	}
	// A snapshot carries the segments.
	h2 := newHarness(t)
	if err := restore(h2.f, snapshotBytes(t, h.f)); err != nil {
		t.Fatal(err)
	}
	if got := ids(segmentStripes(t, h2.f, obj, 0)); !slices.Equal(got, want) {
		t.Fatalf("restored segments %v", got)
	}
	// Overwritten: the old version's segments are garbage, dropped once.
	put := h.put("bk", "k", `"new"`, "")
	if len(put.Replaced) != 1 || put.Replaced[0].SegmentsUploadId != "u1" {
		t.Fatalf("replaced %v", put.Replaced)
	}
	for i, wantN := range []int32{3, 0} {
		ds := h.must(OpDeleteSegments, &metapb.DeleteSegmentsRequest{Bucket: "bk", Key: "k", UploadId: "u1"}).(*metapb.DeleteSegmentsResponse)
		if ds.Deleted != wantN {
			t.Fatalf("call %d deleted %d segments, want %d", i, ds.Deleted, wantN)
		}
	}
	if scanned, _ := scanAll(t, h.f, 0, nil); len(scanned) != 1 {
		t.Fatalf("after dropping the garbage the scan found %v", scanned)
	}
	if _, err := h.f.GetObjectSegments(ctx, &metapb.GetObjectSegmentsRequest{Bucket: "bk", Key: "k", UploadId: "u1", MaxParts: -1}); !errs.Is(err, errs.Invalid) {
		t.Fatalf("negative page: %v", err)
	}
}

// TestSegmentsVersioned: deleting a version by id marks its segments
// garbage; a delete marker does not.
func TestSegmentsVersioned(t *testing.T) {
	h := uploadHarness(t)
	h.must(OpSetBucketVersioning, &metapb.SetBucketVersioningRequest{Name: "bk", Versioning: "Enabled"})
	req := &metapb.CompleteUploadRequest{Bucket: "bk", Key: "k", UploadId: "u1", MinPartSize: 5, VersionId: "v1",
		Parts: []*metapb.CompletedPart{{Number: 1, Etag: partETag(1, 0)}}}
	h.must(OpCompleteUpload, req)
	h.must(OpDeleteObject, &metapb.DeleteObjectRequest{Bucket: "bk", Key: "k"}) // a marker
	if _, err := h.do(OpDeleteSegments, &metapb.DeleteSegmentsRequest{Bucket: "bk", Key: "k", UploadId: "u1"}); !errs.Is(err, errs.Precondition) {
		t.Fatalf("segments behind a delete marker: %v, want Precondition", err)
	}
	h.must(OpDeleteObject, &metapb.DeleteObjectRequest{Bucket: "bk", Key: "k", VersionId: "v1"})
	ds := h.must(OpDeleteSegments, &metapb.DeleteSegmentsRequest{Bucket: "bk", Key: "k", UploadId: "u1"}).(*metapb.DeleteSegmentsResponse)
	if ds.Deleted != 1 {
		t.Fatalf("deleted %d segments, want 1", ds.Deleted)
	}
}

// TestPartSummary: the summary decodes number, etag and sizes of a full
// part record and nothing else.
func TestPartSummary(t *testing.T) {
	full := &metapb.Part{Number: 9999, Etag: partETag(3, 0), Size: 5 << 30, MtimeUnixNano: 12345, PlainSize: 4 << 30,
		Stripes: []*metapb.Stripe{stripe(1, 0), stripe(1, 1)}, Checksums: map[string]string{"crc32c": "AAAAAA=="}}
	b, err := proto.Marshal(full)
	if err != nil {
		t.Fatal(err)
	}
	got, err := partSummary(b)
	want := &metapb.Part{Number: full.Number, Etag: full.Etag, Size: full.Size, PlainSize: full.PlainSize}
	if err != nil || !proto.Equal(got, want) {
		t.Fatalf("summary %v, %v; want %v", got, err, want)
	}
	if _, err := partSummary(b[:len(b)-3]); err == nil {
		t.Fatal("a cut record decoded")
	}
}

// TestAbortBigUpload: an upload whose parts would make too big an answer
// leaves them as garbage segments instead of listing them.
func TestAbortBigUpload(t *testing.T) {
	h := newHarness(t)
	h.bucket("bk", "")
	h.must(OpCreateUpload, &metapb.CreateUploadRequest{Upload: &metapb.Upload{Bucket: "bk", Key: "k", UploadId: "u1"}})
	const parts, perPart = 3, 25_000
	for n := int32(1); n <= parts; n++ {
		p := &metapb.Part{Number: n, Etag: partETag(n, 0), Size: perPart * 10}
		for i := range perPart {
			id := fmt.Appendf(nil, "%08d-%07d", n, i) // 16 bytes, as real ids
			p.Stripes = append(p.Stripes, &metapb.Stripe{Id: id, PlacementGroup: 1, Size: 10, ShardSize: 1 << 20,
				ShardCrc32C: []uint32{0xdeadbeef, 0xdeadbeef, 0xdeadbeef, 0xdeadbeef, 0xdeadbeef, 0xdeadbeef}})
		}
		h.must(OpPutPart, &metapb.PutPartRequest{Bucket: "bk", Key: "k", UploadId: "u1", Part: p})
	}
	// ListParts pages are bounded by stripes too.
	lp, err := h.f.ListParts(ctx, &metapb.ListPartsRequest{Bucket: "bk", Key: "k", UploadId: "u1"})
	if err != nil || len(lp.Parts) != 1 || !lp.Truncated || lp.NextPartNumberMarker != 1 {
		t.Fatalf("list parts: %d parts, truncated %v, next %d, %v", len(lp.GetParts()), lp.GetTruncated(), lp.GetNextPartNumberMarker(), err)
	}
	resp := h.must(OpAbortUpload, &metapb.AbortUploadRequest{Bucket: "bk", Key: "k", UploadId: "u1"}).(*metapb.AbortUploadResponse)
	if !resp.SegmentsGarbage || len(resp.Parts) != 0 {
		t.Fatalf("abort answered %d parts, garbage %v", len(resp.Parts), resp.SegmentsGarbage)
	}
	if _, err := h.f.GetUpload(ctx, &metapb.GetUploadRequest{Bucket: "bk", Key: "k", UploadId: "u1"}); !errs.Is(err, errs.NotFound) {
		t.Fatalf("upload after abort: %v", err)
	}
	got := segmentStripes(t, h.f, &metapb.Object{Bucket: "bk", Key: "k", SegmentsUploadId: "u1", PartNumbers: []int32{1, 2, 3}}, 0)
	if len(got) != parts*perPart {
		t.Fatalf("paged %d stripes, want %d", len(got), parts*perPart)
	}
	h.must(OpDeleteBucket, &metapb.DeleteBucketRequest{Name: "bk"})
	ds := h.must(OpDeleteSegments, &metapb.DeleteSegmentsRequest{Bucket: "bk", Key: "k", UploadId: "u1"}).(*metapb.DeleteSegmentsResponse)
	if ds.Deleted != parts {
		t.Fatalf("dropped %d segments, want %d", ds.Deleted, parts)
	}
}
