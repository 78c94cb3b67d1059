package gateway_test

import (
	"context"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// TestSDKListUploadsDelimiter: ListMultipartUploads with a delimiter rolls
// keys up into CommonPrefixes, each counting against max-uploads, and
// pages through them with the key and upload id markers.
func TestSDKListUploadsDelimiter(t *testing.T) {
	e := newEnv(t, envOpts{})
	ctx, c := context.Background(), e.s3(t)
	b := aws.String("uploads")
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: b}); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"a/1", "a/2", "b", "b", "c/x/1", "c/y", "d"} {
		if _, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: b, Key: aws.String(k)}); err != nil {
			t.Fatal(err)
		}
	}
	entries := func(out *s3.ListMultipartUploadsOutput) []string {
		var got []string
		for _, u := range out.Uploads {
			got = append(got, aws.ToString(u.Key))
		}
		for _, p := range out.CommonPrefixes {
			got = append(got, aws.ToString(p.Prefix)+"*")
		}
		slices.Sort(got)
		return got
	}
	out, err := c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: b, Delimiter: aws.String("/")})
	if want := []string{"a/*", "b", "b", "c/*", "d"}; err != nil || !slices.Equal(entries(out), want) || aws.ToBool(out.IsTruncated) {
		t.Errorf("with a delimiter: %v (truncated %v), want %v; %v", entries(out), aws.ToBool(out.IsTruncated), want, err)
	}
	out, err = c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: b, Delimiter: aws.String("/"), Prefix: aws.String("c/")})
	if want := []string{"c/x/*", "c/y"}; err != nil || !slices.Equal(entries(out), want) {
		t.Errorf("with a prefix: %v, want %v; %v", entries(out), want, err)
	}
	// One entry per page: a/ b b c/ d, then the end.
	var all []string
	in := &s3.ListMultipartUploadsInput{Bucket: b, Delimiter: aws.String("/"), MaxUploads: aws.Int32(1)}
	for i := 0; i < 10; i++ {
		out, err := c.ListMultipartUploads(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		page := entries(out)
		if len(page) != 1 {
			t.Fatalf("page %d: %v", i, page)
		}
		all = append(all, page...)
		if !aws.ToBool(out.IsTruncated) {
			break
		}
		in.KeyMarker, in.UploadIdMarker = out.NextKeyMarker, out.NextUploadIdMarker
	}
	if want := []string{"a/*", "b", "b", "c/*", "d"}; !slices.Equal(all, want) {
		t.Errorf("paged: %v, want %v", all, want)
	}
}
