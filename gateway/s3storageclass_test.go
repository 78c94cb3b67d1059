package gateway_test

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// testStorageClass: x-amz-storage-class labels the objects of PUT, copy
// and multipart uploads (HEAD and listings return it); archive classes
// answer NotImplemented and unknown ones InvalidStorageClass, storing
// nothing.
func testStorageClass(t *testing.T, c *s3.Client) {
	ctx, b := context.Background(), "classes"
	mustCreate(t, c, b)
	head := func(key string) types.StorageClass {
		t.Helper()
		h, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(b), Key: aws.String(key)})
		if err != nil {
			t.Fatalf("head %s: %v", key, err)
		}
		return h.StorageClass
	}
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(b), Key: aws.String("ia"), Body: strings.NewReader("infrequent"),
		StorageClass: types.StorageClassStandardIa}); err != nil {
		t.Fatal(err)
	}
	if sc := head("ia"); sc != types.StorageClassStandardIa {
		t.Errorf("head of a STANDARD_IA object: %q", sc)
	}
	lo, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(b)})
	if err != nil || len(lo.Contents) != 1 || lo.Contents[0].StorageClass != types.ObjectStorageClassStandardIa {
		t.Errorf("listing: %+v, %v", lo, err)
	}
	for _, tc := range []struct {
		sc     types.StorageClass
		status int
		code   string
	}{{types.StorageClassGlacier, http.StatusNotImplemented, "NotImplemented"}, {types.StorageClassDeepArchive, http.StatusNotImplemented, "NotImplemented"},
		{"FAST_AND_CHEAP", http.StatusBadRequest, "InvalidStorageClass"}} {
		_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(b), Key: aws.String("refused"), Body: strings.NewReader("x"), StorageClass: tc.sc})
		if status(err) != tc.status || code(err) != tc.code {
			t.Errorf("put with %s: %v, want %d %s", tc.sc, err, tc.status, tc.code)
		}
	}
	if _, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(b), Key: aws.String("refused")}); status(err) != http.StatusNotFound {
		t.Errorf("a refused put stored an object: %v", err)
	}
	// A copy onto itself may change the class; a copy elsewhere is
	// STANDARD unless told otherwise.
	if _, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String(b), Key: aws.String("ia"), CopySource: aws.String(b + "/ia"),
		StorageClass: types.StorageClassReducedRedundancy}); err != nil {
		t.Fatalf("copy onto itself with a new class: %v", err)
	}
	if sc := head("ia"); sc != types.StorageClassReducedRedundancy {
		t.Errorf("class after the copy onto itself: %q", sc)
	}
	if _, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String(b), Key: aws.String("std"), CopySource: aws.String(b + "/ia")}); err != nil {
		t.Fatal(err)
	}
	if sc := head("std"); sc != "" && sc != types.StorageClassStandard {
		t.Errorf("class of a plain copy: %q", sc)
	}
	up, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(b), Key: aws.String("mp"), StorageClass: types.StorageClassOnezoneIa})
	if err != nil {
		t.Fatal(err)
	}
	ups, err := c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String(b)})
	if err != nil || len(ups.Uploads) != 1 || ups.Uploads[0].StorageClass != types.StorageClassOnezoneIa {
		t.Errorf("list uploads: %+v, %v", ups, err)
	}
	part, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String(b), Key: aws.String("mp"), UploadId: up.UploadId, PartNumber: aws.Int32(1),
		Body: bytes.NewReader([]byte("one part"))})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String(b), Key: aws.String("mp"), UploadId: up.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{{PartNumber: aws.Int32(1), ETag: part.ETag}}}}); err != nil {
		t.Fatal(err)
	}
	if sc := head("mp"); sc != types.StorageClassOnezoneIa {
		t.Errorf("class of the multipart object: %q", sc)
	}
}
