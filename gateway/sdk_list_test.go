package gateway_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

var listKeys = []string{"a/1", "a/2", "a/b/3", "b", "c/1", "c/2", "d", "e/x/y", "f"}

func TestSDKListV2(t *testing.T) {
	e := newEnv(t, envOpts{})
	c, ctx := e.s3(t), context.Background()
	mustCreate(t, c, "lst")
	for _, k := range listKeys {
		mustPut(t, c, "lst", k, []byte(k))
	}
	cases := []struct {
		name, prefix, delim, startAfter string
		max                             int32
		keys, prefixes                  []string
	}{
		{"flat", "", "", "", 2, listKeys, nil},
		{"delimiter", "", "/", "", 2, []string{"b", "d", "f"}, []string{"a/", "c/", "e/"}},
		{"prefix+delimiter", "a/", "/", "", 1, []string{"a/1", "a/2"}, []string{"a/b/"}},
		{"start-after", "", "", "c/1", 3, []string{"c/2", "d", "e/x/y", "f"}, nil},
		{"start-after in a group", "", "/", "a/1", 1000, []string{"b", "d", "f"}, []string{"c/", "e/"}},
		{"no match", "zzz", "", "", 5, nil, nil},
	}
	for _, tc := range cases {
		var keys, prefixes []string
		in := &s3.ListObjectsV2Input{Bucket: aws.String("lst"), Prefix: aws.String(tc.prefix), Delimiter: aws.String(tc.delim),
			MaxKeys: aws.Int32(tc.max), FetchOwner: aws.Bool(true)}
		if tc.startAfter != "" {
			in.StartAfter = aws.String(tc.startAfter)
		}
		for page := 0; ; page++ {
			out, err := c.ListObjectsV2(ctx, in)
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			if int(*out.KeyCount) != len(out.Contents)+len(out.CommonPrefixes) || *out.KeyCount > tc.max {
				t.Errorf("%s: KeyCount %d", tc.name, *out.KeyCount)
			}
			for _, o := range out.Contents {
				if o.Owner == nil || o.ETag == nil || *o.Size != int64(len(*o.Key)) {
					t.Errorf("%s: entry %+v", tc.name, o)
				}
				keys = append(keys, *o.Key)
			}
			for _, p := range out.CommonPrefixes {
				prefixes = append(prefixes, *p.Prefix)
			}
			if !*out.IsTruncated {
				break
			}
			if page > 20 || out.NextContinuationToken == nil {
				t.Fatalf("%s: runaway paging", tc.name)
			}
			in.ContinuationToken = out.NextContinuationToken
		}
		if !slices.Equal(keys, tc.keys) || !slices.Equal(prefixes, tc.prefixes) {
			t.Errorf("%s: keys %q prefixes %q, want %q %q", tc.name, keys, prefixes, tc.keys, tc.prefixes)
		}
	}
	out, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("lst"), MaxKeys: aws.Int32(0)})
	if err != nil || len(out.Contents) != 0 || *out.IsTruncated {
		t.Errorf("max-keys 0: %+v %v", out, err)
	}
	_, err = c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("lst"), ContinuationToken: aws.String("!!!")})
	if code(err) != "InvalidArgument" {
		t.Errorf("bad token: %v", err)
	}
	if _, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("nob")}); code(err) != "NoSuchBucket" {
		t.Errorf("missing bucket: %v", err)
	}
}

func TestSDKListV1(t *testing.T) {
	e := newEnv(t, envOpts{})
	c, ctx := e.s3(t), context.Background()
	mustCreate(t, c, "lst")
	for _, k := range listKeys {
		mustPut(t, c, "lst", k, []byte(k))
	}
	for _, delim := range []string{"", "/"} {
		var keys, prefixes []string
		in := &s3.ListObjectsInput{Bucket: aws.String("lst"), Delimiter: aws.String(delim), MaxKeys: aws.Int32(2)}
		for page := 0; ; page++ {
			out, err := c.ListObjects(ctx, in)
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range out.Contents {
				keys = append(keys, *o.Key)
			}
			for _, p := range out.CommonPrefixes {
				prefixes = append(prefixes, *p.Prefix)
			}
			if !*out.IsTruncated {
				break
			}
			if page > 20 {
				t.Fatal("runaway paging")
			}
			// S3 sends NextMarker only with a delimiter; clients use the last key otherwise.
			if delim != "" {
				if out.NextMarker == nil {
					t.Fatal("no NextMarker with a delimiter")
				}
				in.Marker = out.NextMarker
			} else {
				if out.NextMarker != nil {
					t.Errorf("NextMarker without delimiter: %q", *out.NextMarker)
				}
				in.Marker = out.Contents[len(out.Contents)-1].Key
			}
		}
		wantKeys, wantPrefixes := listKeys, []string(nil)
		if delim != "" {
			wantKeys, wantPrefixes = []string{"b", "d", "f"}, []string{"a/", "c/", "e/"}
		}
		if !slices.Equal(keys, wantKeys) || !slices.Equal(prefixes, wantPrefixes) {
			t.Errorf("delim %q: %q %q", delim, keys, prefixes)
		}
	}
}

func TestSDKMultipart(t *testing.T) {
	e := newEnv(t, envOpts{})
	c, ctx := e.s3(t), context.Background()
	mustCreate(t, c, "mpu")
	big := bytes.Repeat([]byte{'m'}, 5<<20)
	tail := []byte("the end")
	start := func(key string) string {
		out, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("mpu"), Key: aws.String(key),
			ContentType: aws.String("video/mp4"), Metadata: map[string]string{"m": "1"}})
		if err != nil {
			t.Fatal(err)
		}
		return *out.UploadId
	}
	part := func(key, id string, n int32, data []byte) string {
		out, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("mpu"), Key: aws.String(key), UploadId: aws.String(id),
			PartNumber: aws.Int32(n), Body: bytes.NewReader(data)})
		if err != nil {
			t.Fatalf("UploadPart %d: %v", n, err)
		}
		return *out.ETag
	}
	complete := func(key, id string, parts ...types.CompletedPart) (*s3.CompleteMultipartUploadOutput, error) {
		return c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String("mpu"), Key: aws.String(key),
			UploadId: aws.String(id), MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}})
	}
	cp := func(n int32, etag string) types.CompletedPart {
		return types.CompletedPart{PartNumber: aws.Int32(n), ETag: aws.String(etag)}
	}

	id := start("movie")
	e1, e2 := part("movie", id, 1, big), part("movie", id, 2, tail)
	ups, err := c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String("mpu")})
	if err != nil || len(ups.Uploads) != 1 || *ups.Uploads[0].UploadId != id || *ups.Uploads[0].Key != "movie" {
		t.Fatalf("ListMultipartUploads: %+v %v", ups, err)
	}
	parts, err := c.ListParts(ctx, &s3.ListPartsInput{Bucket: aws.String("mpu"), Key: aws.String("movie"), UploadId: aws.String(id)})
	if err != nil || len(parts.Parts) != 2 || *parts.Parts[0].Size != int64(len(big)) || *parts.Parts[1].ETag != e2 {
		t.Fatalf("ListParts: %+v %v", parts, err)
	}
	errCases := []struct {
		name  string
		parts []types.CompletedPart
		code  string
	}{
		{"wrong etag", []types.CompletedPart{cp(1, e1), cp(2, `"0123"`)}, "InvalidPart"},
		{"unknown part", []types.CompletedPart{cp(1, e1), cp(3, e2)}, "InvalidPart"},
		{"out of order", []types.CompletedPart{cp(2, e2), cp(1, e1)}, "InvalidPartOrder"},
		{"no parts", nil, "MalformedXML"},
	}
	for _, ec := range errCases {
		if _, err := complete("movie", id, ec.parts...); code(err) != ec.code {
			t.Errorf("%s: %v", ec.name, err)
		}
	}
	out, err := complete("movie", id, cp(1, e1), cp(2, e2))
	if err != nil {
		t.Fatal(err)
	}
	h := md5.New()
	for _, et := range []string{e1, e2} {
		raw, _ := hex.DecodeString(strings.Trim(et, `"`))
		h.Write(raw)
	}
	if want := fmt.Sprintf(`"%x-2"`, h.Sum(nil)); *out.ETag != want {
		t.Errorf("multipart etag %s, want %s", *out.ETag, want)
	}
	got, gout, err := getBody(t, c, &s3.GetObjectInput{Bucket: aws.String("mpu"), Key: aws.String("movie")})
	if err != nil || !bytes.Equal(got, append(slices.Clone(big), tail...)) || *gout.ContentType != "video/mp4" || gout.Metadata["m"] != "1" {
		t.Fatalf("completed object: %d bytes %v", len(got), err)
	}
	if _, err := complete("movie", id, cp(1, e1)); code(err) != "NoSuchUpload" {
		t.Errorf("complete twice: %v", err)
	}

	small := start("small")
	s1, s2 := part("small", small, 1, tail), part("small", small, 2, tail)
	if _, err := complete("small", small, cp(1, s1), cp(2, s2)); code(err) != "EntityTooSmall" {
		t.Errorf("small parts: %v", err)
	}
	if _, err := c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String("mpu"), Key: aws.String("small"), UploadId: aws.String(small)}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ListParts(ctx, &s3.ListPartsInput{Bucket: aws.String("mpu"), Key: aws.String("small"), UploadId: aws.String(small)}); code(err) != "NoSuchUpload" {
		t.Errorf("parts of aborted upload: %v", err)
	}
	_, err = c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("mpu"), Key: aws.String("small"), UploadId: aws.String("nope"),
		PartNumber: aws.Int32(1), Body: bytes.NewReader(tail)})
	if code(err) != "NoSuchUpload" {
		t.Errorf("part of unknown upload: %v", err)
	}
	_, err = c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("mpu"), Key: aws.String("small"), UploadId: aws.String(small),
		PartNumber: aws.Int32(10001), Body: bytes.NewReader(tail)})
	if code(err) != "InvalidArgument" {
		t.Errorf("part number 10001: %v", err)
	}
}
