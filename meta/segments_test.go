package meta

import (
	"crypto/md5"
	"encoding/hex"
	"testing"

	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/meta/metapb"
)

// A multipart object's segments read through a follower (forwarded to the
// leader), are listed as garbage once the object is deleted and are
// dropped through it.
func TestSegmentsThroughFollower(t *testing.T) {
	nodes := threeNodes(t)
	leader := leaderOf(t, nodes)
	var follower *testNode
	for _, n := range nodes {
		if n != leader {
			follower = n
			break
		}
	}
	fc := dial(t, follower)
	ctx := tctx(t)
	if _, err := fc.CreateBucket(ctx, &metapb.CreateBucketRequest{Bucket: &metapb.Bucket{Name: "bk"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := fc.CreateUpload(ctx, &metapb.CreateUploadRequest{Upload: &metapb.Upload{Bucket: "bk", Key: "k", UploadId: "u1"}}); err != nil {
		t.Fatal(err)
	}
	done := &metapb.CompleteUploadRequest{Bucket: "bk", Key: "k", UploadId: "u1"}
	for n := int32(1); n <= 3; n++ {
		sum := md5.Sum([]byte{byte(n)})
		etag := `"` + hex.EncodeToString(sum[:]) + `"`
		part := &metapb.Part{Number: n, Etag: etag, Size: 10, Stripes: []*metapb.Stripe{{Id: []byte{byte(n)}, PlacementGroup: 1, Size: 10}}}
		if _, err := fc.PutPart(ctx, &metapb.PutPartRequest{Bucket: "bk", Key: "k", UploadId: "u1", Part: part}); err != nil {
			t.Fatal(err)
		}
		done.Parts = append(done.Parts, &metapb.CompletedPart{Number: n, Etag: etag})
	}
	cu, err := fc.CompleteUpload(ctx, done)
	if err != nil {
		t.Fatal(err)
	}
	if o := cu.Object; o.SegmentsUploadId != "u1" || len(o.Stripes) != 0 || o.Size != 30 {
		t.Fatalf("completed %v", o)
	}
	var got []byte
	var marker int32
	for range 5 {
		resp, err := fc.GetObjectSegments(ctx, &metapb.GetObjectSegmentsRequest{Bucket: "bk", Key: "k", UploadId: "u1", PartNumberMarker: marker, MaxParts: 2})
		if err != nil {
			t.Fatalf("segments through a follower: %v", err)
		}
		for _, p := range resp.Parts {
			got = append(got, p.Stripes[0].Id...)
		}
		if !resp.Truncated {
			break
		}
		marker = resp.NextPartNumberMarker
	}
	if string(got) != "\x01\x02\x03" {
		t.Fatalf("segments %x", got)
	}
	if _, err := fc.DeleteSegments(ctx, &metapb.DeleteSegmentsRequest{Bucket: "bk", Key: "k", UploadId: "u1"}); !errs.Is(err, errs.Precondition) {
		t.Fatalf("dropping live segments: %v, want Precondition", err)
	}
	if _, err := fc.DeleteObject(ctx, &metapb.DeleteObjectRequest{Bucket: "bk", Key: "k"}); err != nil {
		t.Fatal(err)
	}
	// The garbage marker is listed (for the segment sweeper) until dropped.
	lg, err := fc.ListSegmentGarbage(ctx, &metapb.ListSegmentGarbageRequest{})
	if err != nil || len(lg.Objects) != 1 || lg.Objects[0].SegmentsUploadId != "u1" || lg.Objects[0].Key != "k" {
		t.Fatalf("garbage through a follower: %v, %v", lg, err)
	}
	ds, err := fc.DeleteSegments(ctx, &metapb.DeleteSegmentsRequest{Bucket: "bk", Key: "k", UploadId: "u1"})
	if err != nil || ds.Deleted != 3 {
		t.Fatalf("dropped %v segments: %v", ds, err)
	}
	if lg, err := fc.ListSegmentGarbage(ctx, &metapb.ListSegmentGarbageRequest{}); err != nil || len(lg.Objects) != 0 {
		t.Fatalf("garbage after the drop: %v, %v", lg, err)
	}
}
