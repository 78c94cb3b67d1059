package fsm

import (
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"slices"
	"testing"

	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/meta/metaerr"
	"github.com/wolke-cloud/wolke/meta/metapb"
)

func partETag(n int32, gen int) string {
	sum := md5.Sum(fmt.Appendf(nil, "part-%d-%d", n, gen))
	return `"` + hex.EncodeToString(sum[:]) + `"`
}

func stripe(n int32, i int) *metapb.Stripe {
	return &metapb.Stripe{Id: fmt.Appendf(nil, "s%d.%d", n, i), PlacementGroup: 1, Size: 10}
}

// uploadHarness makes bucket "bk" and upload "u1" of key "k" with parts
// 1..3 of 10, 10 and 3 bytes, part 4 of 10 bytes; part 2 uploaded twice.
func uploadHarness(t *testing.T) *harness {
	h := newHarness(t)
	h.bucket("bk", "")
	cu := h.must(OpCreateUpload, &metapb.CreateUploadRequest{Upload: &metapb.Upload{
		Bucket: "bk", Key: "k", UploadId: "u1",
		Tmpl: &metapb.Object{ContentType: "text/plain", UserMeta: map[string]string{"a": "b"}, EcData: 4, EcParity: 2},
	}}).(*metapb.CreateUploadResponse)
	if cu.Upload.UploadId != "u1" || cu.Upload.InitiatedUnixNano != h.now {
		t.Fatalf("created upload %v", cu.Upload)
	}
	sizes := map[int32]int64{1: 10, 2: 10, 3: 3, 4: 10}
	for _, n := range []int32{1, 2, 3, 4} {
		h.must(OpPutPart, &metapb.PutPartRequest{Bucket: "bk", Key: "k", UploadId: "u1", Part: &metapb.Part{
			Number: n, Etag: partETag(n, 0), Size: sizes[n], Stripes: []*metapb.Stripe{stripe(n, 0), stripe(n, 1)},
		}})
	}
	resp := h.must(OpPutPart, &metapb.PutPartRequest{Bucket: "bk", Key: "k", UploadId: "u1", Part: &metapb.Part{
		Number: 2, Etag: partETag(2, 1), Size: 10, Stripes: []*metapb.Stripe{stripe(2, 5)},
	}}).(*metapb.PutPartResponse)
	if resp.Replaced == nil || resp.Replaced.Etag != partETag(2, 0) {
		t.Fatalf("re-upload of part 2 replaced %v", resp.Replaced)
	}
	return h
}

func TestCompleteUpload(t *testing.T) {
	cp := func(n int32, gen int) *metapb.CompletedPart {
		return &metapb.CompletedPart{Number: n, Etag: partETag(n, gen)}
	}
	tests := []struct {
		name    string
		parts   []*metapb.CompletedPart
		upload  string
		kind    errs.Kind
		reason  error
		size    int64
		stripes []string
		unused  []int32
	}{
		{name: "wrong order", parts: []*metapb.CompletedPart{cp(2, 1), cp(1, 0)}, kind: errs.Invalid, reason: metaerr.ErrInvalidPartOrder},
		{name: "duplicate number", parts: []*metapb.CompletedPart{cp(1, 0), cp(1, 0)}, kind: errs.Invalid, reason: metaerr.ErrInvalidPartOrder},
		{name: "stale etag", parts: []*metapb.CompletedPart{cp(1, 0), cp(2, 0)}, kind: errs.Invalid, reason: metaerr.ErrInvalidPart},
		{name: "missing part", parts: []*metapb.CompletedPart{cp(1, 0), cp(7, 0)}, kind: errs.Invalid, reason: metaerr.ErrInvalidPart},
		{name: "no parts", kind: errs.Invalid, reason: metaerr.ErrInvalidPart},
		{name: "small part not last", parts: []*metapb.CompletedPart{cp(1, 0), cp(3, 0), cp(4, 0)}, kind: errs.Invalid, reason: metaerr.ErrEntityTooSmall},
		{name: "no such upload", upload: "u9", parts: []*metapb.CompletedPart{cp(1, 0)}, kind: errs.NotFound, reason: metaerr.ErrNoSuchUpload},
		{name: "small last part ok", parts: []*metapb.CompletedPart{cp(1, 0), cp(2, 1), cp(3, 0)}, size: 23,
			stripes: []string{"s1.0", "s1.1", "s2.5", "s3.0", "s3.1"}, unused: []int32{4}},
		{name: "gap ok, unquoted etag", parts: []*metapb.CompletedPart{cp(1, 0), {Number: 4, Etag: partETag(4, 0)[1:33]}}, size: 20,
			stripes: []string{"s1.0", "s1.1", "s4.0", "s4.1"}, unused: []int32{2, 3}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := uploadHarness(t)
			id := "u1"
			if tc.upload != "" {
				id = tc.upload
			}
			resp, err := h.do(OpCompleteUpload, &metapb.CompleteUploadRequest{
				Bucket: "bk", Key: "k", UploadId: id, Parts: tc.parts, MinPartSize: 5, MtimeUnixNano: 77,
			})
			checkErr(t, err, tc.kind, tc.reason)
			if tc.kind != errs.Other {
				// Nothing changed: the upload is still there with all parts.
				lp, err := h.f.ListParts(ctx, &metapb.ListPartsRequest{Bucket: "bk", Key: "k", UploadId: "u1"})
				if err != nil || len(lp.Parts) != 4 {
					t.Fatalf("after failed complete: %v, %v", lp, err)
				}
				return
			}
			r := resp.(*metapb.CompleteUploadResponse)
			o := r.Object
			h5 := md5.New()
			for _, p := range tc.parts {
				b, _ := hex.DecodeString(trimETag(p.Etag))
				h5.Write(b)
			}
			wantETag := fmt.Sprintf(`"%x-%d"`, h5.Sum(nil), len(tc.parts))
			if o.Etag != wantETag || o.Size != tc.size || o.MtimeUnixNano != 77 || o.ContentType != "text/plain" ||
				o.UserMeta["a"] != "b" || o.EcData != 4 || o.VersionId != NullVersion {
				t.Fatalf("object %v, want etag %s size %d", o, wantETag, tc.size)
			}
			if len(o.Stripes) != 0 || o.SegmentsUploadId != "u1" {
				t.Fatalf("head holds %d stripes, segments of %q", len(o.Stripes), o.SegmentsUploadId)
			}
			var ids []string
			for _, s := range segmentStripes(t, h.f, o, 1) {
				ids = append(ids, string(s.Id))
			}
			if !slices.Equal(ids, tc.stripes) {
				t.Fatalf("stripes %v, want %v", ids, tc.stripes)
			}
			var unused []int32
			for _, p := range r.Unused {
				unused = append(unused, p.Number)
			}
			if !slices.Equal(unused, tc.unused) {
				t.Fatalf("unused %v, want %v", unused, tc.unused)
			}
			got, err := h.f.GetObject(ctx, &metapb.GetObjectRequest{Bucket: "bk", Key: "k"})
			if err != nil || got.Object.Etag != wantETag {
				t.Fatalf("get after complete: %v, %v", got, err)
			}
			if _, err := h.f.GetUpload(ctx, &metapb.GetUploadRequest{Bucket: "bk", Key: "k", UploadId: "u1"}); !errs.Is(err, errs.NotFound) {
				t.Fatalf("upload still there: %v", err)
			}
			// Unused parts are gone; the segments are garbage once the
			// object is deleted and do not keep the bucket from going.
			del := h.must(OpDeleteObject, &metapb.DeleteObjectRequest{Bucket: "bk", Key: "k"}).(*metapb.DeleteObjectResponse)
			if len(del.Removed) != 1 || del.Removed[0].SegmentsUploadId != "u1" {
				t.Fatalf("removed %v", del.Removed)
			}
			h.must(OpDeleteBucket, &metapb.DeleteBucketRequest{Name: "bk"})
			ds := h.must(OpDeleteSegments, &metapb.DeleteSegmentsRequest{Bucket: "bk", Key: "k", UploadId: "u1"}).(*metapb.DeleteSegmentsResponse)
			if int(ds.Deleted) != len(tc.parts) {
				t.Fatalf("deleted %d segments, want %d", ds.Deleted, len(tc.parts))
			}
			if left, _ := scanAll(t, h.f, 0, nil); len(left) != 0 {
				t.Fatalf("stripes left after the segments were dropped: %v", left)
			}
		})
	}
}

func TestCompleteUploadConditional(t *testing.T) {
	h := uploadHarness(t)
	h.put("bk", "k", `"x"`, "")
	_, err := h.do(OpCompleteUpload, &metapb.CompleteUploadRequest{
		Bucket: "bk", Key: "k", UploadId: "u1", MinPartSize: 5, IfNoneMatch: "*",
		Parts: []*metapb.CompletedPart{{Number: 1, Etag: partETag(1, 0)}},
	})
	checkErr(t, err, errs.Precondition, metaerr.ErrPreconditionFailed)
	resp := h.must(OpCompleteUpload, &metapb.CompleteUploadRequest{
		Bucket: "bk", Key: "k", UploadId: "u1", MinPartSize: 5, IfMatch: `"x"`,
		Parts: []*metapb.CompletedPart{{Number: 1, Etag: partETag(1, 0)}},
	}).(*metapb.CompleteUploadResponse)
	if len(resp.Replaced) != 1 || resp.Replaced[0].Etag != `"x"` {
		t.Fatalf("replaced %v", resp.Replaced)
	}
}

func TestAbortAndListUploads(t *testing.T) {
	h := uploadHarness(t)
	for _, u := range [][2]string{{"k", "u0"}, {"k", "u2"}, {"a", "u5"}, {"z/1", "u3"}} {
		h.must(OpCreateUpload, &metapb.CreateUploadRequest{Upload: &metapb.Upload{Bucket: "bk", Key: u[0], UploadId: u[1]}})
	}
	_, err := h.do(OpCreateUpload, &metapb.CreateUploadRequest{Upload: &metapb.Upload{Bucket: "bk", Key: "k", UploadId: "u1"}})
	checkErr(t, err, errs.Exists, nil)
	_, err = h.do(OpPutPart, &metapb.PutPartRequest{Bucket: "bk", Key: "k", UploadId: "u1", Part: &metapb.Part{Number: 10001}})
	checkErr(t, err, errs.Invalid, nil)
	_, err = h.do(OpPutPart, &metapb.PutPartRequest{Bucket: "bk", Key: "k", UploadId: "nope", Part: &metapb.Part{Number: 1}})
	checkErr(t, err, errs.NotFound, metaerr.ErrNoSuchUpload)

	list := func(req *metapb.ListUploadsRequest) ([]string, *metapb.ListUploadsResponse) {
		t.Helper()
		req.Bucket = "bk"
		resp, err := h.f.ListUploads(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, u := range resp.Uploads {
			out = append(out, u.Key+"/"+u.UploadId)
		}
		return out, resp
	}
	tests := []struct {
		req       *metapb.ListUploadsRequest
		want      []string
		truncated bool
	}{
		{&metapb.ListUploadsRequest{}, []string{"a/u5", "k/u0", "k/u1", "k/u2", "z/1/u3"}, false},
		{&metapb.ListUploadsRequest{Prefix: "k"}, []string{"k/u0", "k/u1", "k/u2"}, false},
		{&metapb.ListUploadsRequest{MaxUploads: 2}, []string{"a/u5", "k/u0"}, true},
		{&metapb.ListUploadsRequest{KeyMarker: "k", UploadIdMarker: "u0", MaxUploads: 2}, []string{"k/u1", "k/u2"}, true},
		{&metapb.ListUploadsRequest{KeyMarker: "k"}, []string{"z/1/u3"}, false},
	}
	for i, tc := range tests {
		got, resp := list(tc.req)
		if !slices.Equal(got, tc.want) || resp.Truncated != tc.truncated {
			t.Errorf("case %d: %v truncated %v, want %v %v", i, got, resp.Truncated, tc.want, tc.truncated)
		}
	}

	lp, err := h.f.ListParts(ctx, &metapb.ListPartsRequest{Bucket: "bk", Key: "k", UploadId: "u1", PartNumberMarker: 1, MaxParts: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(lp.Parts) != 2 || lp.Parts[0].Number != 2 || !lp.Truncated || lp.NextPartNumberMarker != 3 || lp.Upload.Tmpl.ContentType != "text/plain" {
		t.Fatalf("list parts: %v", lp)
	}
	resp := h.must(OpAbortUpload, &metapb.AbortUploadRequest{Bucket: "bk", Key: "k", UploadId: "u1"}).(*metapb.AbortUploadResponse)
	if len(resp.Parts) != 4 {
		t.Fatalf("abort returned %d parts", len(resp.Parts))
	}
	_, err = h.do(OpAbortUpload, &metapb.AbortUploadRequest{Bucket: "bk", Key: "k", UploadId: "u1"})
	checkErr(t, err, errs.NotFound, metaerr.ErrNoSuchUpload)
	if got, _ := list(&metapb.ListUploadsRequest{Prefix: "k"}); !slices.Equal(got, []string{"k/u0", "k/u2"}) {
		t.Fatalf("after abort: %v", got)
	}
}
