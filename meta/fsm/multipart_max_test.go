package fsm

import (
	"testing"

	"github.com/wolke-cloud/wolke/meta/metapb"
	"google.golang.org/protobuf/proto"
)

// TestCompleteUploadMaxParts completes an upload of S3's maximum of 10,000
// parts (one stripe each, minimum part size lowered) and checks the
// committed manifest and the sizes of the Raft entry and of the manifest.
func TestCompleteUploadMaxParts(t *testing.T) {
	const parts = 10_000
	h := newHarness(t)
	h.bucket("bk", "")
	h.must(OpCreateUpload, &metapb.CreateUploadRequest{Upload: &metapb.Upload{Bucket: "bk", Key: "big", UploadId: "u",
		Tmpl: &metapb.Object{EcData: 4, EcParity: 2}}})
	req := &metapb.CompleteUploadRequest{Bucket: "bk", Key: "big", UploadId: "u", MinPartSize: 1, MtimeUnixNano: 5}
	for n := int32(1); n <= parts; n++ {
		h.must(OpPutPart, &metapb.PutPartRequest{Bucket: "bk", Key: "big", UploadId: "u", Part: &metapb.Part{
			Number: n, Etag: partETag(n, 0), Size: 7, Stripes: []*metapb.Stripe{stripe(n, 0)},
		}})
		req.Parts = append(req.Parts, &metapb.CompletedPart{Number: n, Etag: partETag(n, 0)})
	}
	resp := h.must(OpCompleteUpload, req).(*metapb.CompleteUploadResponse)
	obj := resp.GetObject()
	if len(obj.GetStripes()) != parts || len(obj.GetPartNumbers()) != parts || obj.GetSize() != 7*parts {
		t.Fatalf("manifest: %d stripes, %d parts, size %d", len(obj.GetStripes()), len(obj.GetPartNumbers()), obj.GetSize())
	}
	got, err := h.f.GetObject(ctx, &metapb.GetObjectRequest{Bucket: "bk", Key: "big"})
	if err != nil || len(got.GetObject().GetStripes()) != parts {
		t.Fatalf("read back: %v", err)
	}
	t.Logf("CompleteUpload entry %d bytes; manifest of %d parts %d bytes", proto.Size(req), parts, proto.Size(obj))
}
