package fsm

import (
	"encoding/binary"
	"os"
	"testing"
	"time"

	"github.com/wolke-cloud/wolke/meta/metapb"
	"google.golang.org/protobuf/proto"
)

// TestCompleteUploadMaxParts completes an upload of S3's maximum of 10,000
// parts (minimum part size lowered) and checks that the Raft entry and the
// version's record stay small and the segments page through whole. Each
// part has 10 stripes of the real shape (4+2, 1 MiB shards); with
// WOLKE_MULTIPART_5TIB=1 it has 131, the manifest of a 5 TiB object.
func TestCompleteUploadMaxParts(t *testing.T) {
	const parts = 10_000
	perPart := 10
	if os.Getenv("WOLKE_MULTIPART_5TIB") != "" {
		perPart = 131
	}
	h := newHarness(t)
	h.bucket("bk", "")
	h.must(OpCreateUpload, &metapb.CreateUploadRequest{Upload: &metapb.Upload{Bucket: "bk", Key: "big", UploadId: "u",
		Tmpl: &metapb.Object{EcData: 4, EcParity: 2}}})
	req := &metapb.CompleteUploadRequest{Bucket: "bk", Key: "big", UploadId: "u", MinPartSize: 1, MtimeUnixNano: 5}
	const stripeSize = 4 << 20
	var stripesBytes int
	for n := int32(1); n <= parts; n++ {
		p := &metapb.Part{Number: n, Etag: partETag(n, 0), Size: int64(perPart) * stripeSize}
		for i := range perPart {
			id := binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(nil, uint64(n)), uint64(i))
			p.Stripes = append(p.Stripes, &metapb.Stripe{Id: id, PlacementGroup: uint64(n%64 + 1), Size: stripeSize,
				ShardSize: 1 << 20, ShardCrc32C: []uint32{0xdeadbeef, 0xdeadbeef, 0xdeadbeef, 0xdeadbeef, 0xdeadbeef, 0xdeadbeef}})
		}
		stripesBytes += proto.Size(p)
		h.must(OpPutPart, &metapb.PutPartRequest{Bucket: "bk", Key: "big", UploadId: "u", Part: p})
		req.Parts = append(req.Parts, &metapb.CompletedPart{Number: n, Etag: partETag(n, 0)})
	}
	start := time.Now()
	resp := h.must(OpCompleteUpload, req).(*metapb.CompleteUploadResponse)
	tookComplete := time.Since(start)
	obj := resp.GetObject()
	wantSize := int64(parts) * int64(perPart) * stripeSize
	if len(obj.GetStripes()) != 0 || len(obj.GetPartNumbers()) != parts || obj.GetSize() != wantSize {
		t.Fatalf("manifest: %d stripes, %d parts, size %d", len(obj.GetStripes()), len(obj.GetPartNumbers()), obj.GetSize())
	}
	start = time.Now()
	got, err := h.f.GetObject(ctx, &metapb.GetObjectRequest{Bucket: "bk", Key: "big"})
	tookHead := time.Since(start)
	if err != nil || got.GetObject().GetSize() != wantSize {
		t.Fatalf("read back: %v", err)
	}
	start = time.Now()
	var (
		marker          int32
		pages, stripes  int
		largestAnswer   int
		total, partSeen int64
	)
	for {
		page, err := h.f.GetObjectSegments(ctx, &metapb.GetObjectSegmentsRequest{Bucket: "bk", Key: "big", UploadId: "u", PartNumberMarker: marker})
		if err != nil {
			t.Fatal(err)
		}
		pages++
		largestAnswer = max(largestAnswer, proto.Size(page))
		for _, p := range page.Parts {
			partSeen++
			stripes += len(p.Stripes)
			total += p.Size
		}
		if !page.Truncated {
			break
		}
		if pages > parts {
			t.Fatal("paging does not end")
		}
		marker = page.NextPartNumberMarker
	}
	tookPaging := time.Since(start)
	if stripes != parts*perPart || total != wantSize || partSeen != parts {
		t.Fatalf("paged %d stripes of %d parts, %d bytes", stripes, partSeen, total)
	}
	if largestAnswer > 4<<20 {
		t.Fatalf("a page of %d bytes: more than gRPC's default 4 MiB", largestAnswer)
	}
	head := proto.Size(obj)
	if head > 256<<10 {
		t.Fatalf("head record of %d bytes", head)
	}
	t.Logf("%d parts x %d stripes (%d MB of stripes in parts): Complete entry %d bytes, %v; head record %d bytes, GetObject %v; "+
		"%d segment pages (largest %d bytes) in %v",
		parts, perPart, stripesBytes>>20, proto.Size(req), tookComplete.Round(time.Millisecond), head, tookHead.Round(time.Microsecond),
		pages, largestAnswer, tookPaging.Round(time.Millisecond))
}
