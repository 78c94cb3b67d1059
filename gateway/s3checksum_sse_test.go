package gateway_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"hash/crc32"
	"net/http"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

func testChecksums(t *testing.T, c *s3.Client) {
	ctx, b := context.Background(), "checksums"
	mustCreate(t, c, b)
	data := bytes.Repeat([]byte("checksum me "), 30<<10) // 360 KiB
	crc := crc32.ChecksumIEEE(data)
	want := base64.StdEncoding.EncodeToString([]byte{byte(crc >> 24), byte(crc >> 16), byte(crc >> 8), byte(crc)})
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(b), Key: aws.String("k"), Body: bytes.NewReader(data),
		ChecksumAlgorithm: types.ChecksumAlgorithmCrc32}); err != nil {
		t.Fatal(err)
	}
	head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(b), Key: aws.String("k"), ChecksumMode: types.ChecksumModeEnabled})
	if err != nil || aws.ToString(head.ChecksumCRC32) != want || head.ChecksumType != types.ChecksumTypeFullObject {
		t.Fatalf("head with checksum mode: crc32 %q type %q, want %q; %v", aws.ToString(head.ChecksumCRC32), head.ChecksumType, want, err)
	}
	if head, err = c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(b), Key: aws.String("k")}); err != nil || head.ChecksumCRC32 != nil {
		t.Errorf("head without checksum mode sends a checksum: %v", err)
	}
	// The SDK validates the checksum of a GET in checksum mode.
	got, out, err := getBody(t, c, &s3.GetObjectInput{Bucket: aws.String(b), Key: aws.String("k"), ChecksumMode: types.ChecksumModeEnabled})
	if err != nil || !bytes.Equal(got, data) || aws.ToString(out.ChecksumCRC32) != want {
		t.Fatalf("get with checksum mode: %v", err)
	}
	// A copy gets the same checksum.
	if _, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String(b), Key: aws.String("copy"), CopySource: aws.String(b + "/k")}); err != nil {
		t.Fatal(err)
	}
	head, err = c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(b), Key: aws.String("copy"), ChecksumMode: types.ChecksumModeEnabled})
	if err != nil || aws.ToString(head.ChecksumCRC32) != want {
		t.Errorf("checksum of the copy: %q, %v", aws.ToString(head.ChecksumCRC32), err)
	}

	// Multipart: a composite SHA-256 of the parts' SHA-256s, "-2"; and
	// GET by part number.
	up, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(b), Key: aws.String("mp"),
		ChecksumAlgorithm: types.ChecksumAlgorithmSha256})
	if err != nil {
		t.Fatal(err)
	}
	bodies := [][]byte{bytes.Repeat([]byte{'a'}, 5<<20), []byte("the last part")}
	var parts []types.CompletedPart
	composite := sha256.New()
	for i, body := range bodies {
		n := aws.Int32(int32(i + 1))
		out, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String(b), Key: aws.String("mp"), UploadId: up.UploadId,
			PartNumber: n, Body: bytes.NewReader(body), ChecksumAlgorithm: types.ChecksumAlgorithmSha256})
		if err != nil {
			t.Fatalf("part %d: %v", i+1, err)
		}
		sum := sha256.Sum256(body)
		if aws.ToString(out.ChecksumSHA256) != base64.StdEncoding.EncodeToString(sum[:]) {
			t.Errorf("part %d checksum %q", i+1, aws.ToString(out.ChecksumSHA256))
		}
		composite.Write(sum[:])
		parts = append(parts, types.CompletedPart{PartNumber: n, ETag: out.ETag, ChecksumSHA256: out.ChecksumSHA256})
	}
	bad := parts[1]
	bad.ChecksumSHA256 = aws.String(base64.StdEncoding.EncodeToString(make([]byte, 32)))
	if _, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String(b), Key: aws.String("mp"), UploadId: up.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{parts[0], bad}}}); code(err) != "InvalidPart" {
		t.Errorf("complete with a wrong part checksum: %v", err)
	}
	if _, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String(b), Key: aws.String("mp"), UploadId: up.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}}); err != nil {
		t.Fatal(err)
	}
	wantMP := base64.StdEncoding.EncodeToString(composite.Sum(nil)) + "-2"
	head, err = c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(b), Key: aws.String("mp"), ChecksumMode: types.ChecksumModeEnabled})
	if err != nil || aws.ToString(head.ChecksumSHA256) != wantMP || head.ChecksumType != types.ChecksumTypeComposite {
		t.Errorf("composite checksum %q (%s), want %q; %v", aws.ToString(head.ChecksumSHA256), head.ChecksumType, wantMP, err)
	}
	got, out, err = getBody(t, c, &s3.GetObjectInput{Bucket: aws.String(b), Key: aws.String("mp"), PartNumber: aws.Int32(2)})
	if err != nil || !bytes.Equal(got, bodies[1]) || aws.ToInt32(out.PartsCount) != 2 {
		t.Errorf("get part 2: %q, parts count %d, %v", got, aws.ToInt32(out.PartsCount), err)
	}
	ph, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(b), Key: aws.String("mp"), PartNumber: aws.Int32(1)})
	if err != nil || aws.ToInt64(ph.ContentLength) != 5<<20 || aws.ToInt32(ph.PartsCount) != 2 {
		t.Errorf("head part 1: %+v, %v", ph, err)
	}
	if _, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(b), Key: aws.String("mp"), PartNumber: aws.Int32(3)}); status(err) != http.StatusRequestedRangeNotSatisfiable {
		t.Errorf("head part 3 of 2: %v", err)
	}
	if got, _, err := getBody(t, c, &s3.GetObjectInput{Bucket: aws.String(b), Key: aws.String("k"), PartNumber: aws.Int32(1)}); err != nil || !bytes.Equal(got, data) {
		t.Errorf("part 1 of a simple object: %d bytes, %v", len(got), err)
	}
}

func testSSE(t *testing.T, c *s3.Client) {
	ctx, b := context.Background(), "encrypted"
	mustCreate(t, c, b)
	data := bytes.Repeat([]byte("encrypt me, please "), 20<<10) // 380 KiB: striped
	put, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(b), Key: aws.String("s3"), Body: bytes.NewReader(data),
		ServerSideEncryption: types.ServerSideEncryptionAes256})
	if err != nil || put.ServerSideEncryption != types.ServerSideEncryptionAes256 {
		t.Fatalf("put SSE-S3: %+v, %v", put, err)
	}
	got, out, err := getBody(t, c, &s3.GetObjectInput{Bucket: aws.String(b), Key: aws.String("s3"), Range: aws.String("bytes=70000-200000")})
	if err != nil || !bytes.Equal(got, data[70000:200001]) || out.ServerSideEncryption != types.ServerSideEncryptionAes256 {
		t.Fatalf("ranged get of SSE-S3: %d bytes, %v", len(got), err)
	}
	if got, _, err := getBody(t, c, &s3.GetObjectInput{Bucket: aws.String(b), Key: aws.String("s3")}); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("get of SSE-S3: %d bytes, %v", len(got), err)
	}

	key := bytes.Repeat([]byte{0x5a}, 32)
	sum := md5.Sum(key)
	k64, m64 := base64.StdEncoding.EncodeToString(key), base64.StdEncoding.EncodeToString(sum[:])
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(b), Key: aws.String("c"), Body: bytes.NewReader(data),
		SSECustomerAlgorithm: aws.String("AES256"), SSECustomerKey: aws.String(k64), SSECustomerKeyMD5: aws.String(m64)}); err != nil {
		t.Fatalf("put SSE-C: %v", err)
	}
	got, out, err = getBody(t, c, &s3.GetObjectInput{Bucket: aws.String(b), Key: aws.String("c"),
		SSECustomerAlgorithm: aws.String("AES256"), SSECustomerKey: aws.String(k64), SSECustomerKeyMD5: aws.String(m64)})
	if err != nil || !bytes.Equal(got, data) || aws.ToString(out.SSECustomerKeyMD5) != m64 {
		t.Fatalf("get SSE-C: %d bytes, %v", len(got), err)
	}
	if _, _, err := getBody(t, c, &s3.GetObjectInput{Bucket: aws.String(b), Key: aws.String("c")}); code(err) != "InvalidRequest" {
		t.Errorf("get SSE-C without the key: %v", err)
	}
	wrong := bytes.Repeat([]byte{1}, 32)
	wsum := md5.Sum(wrong)
	_, err = c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(b), Key: aws.String("c"), SSECustomerAlgorithm: aws.String("AES256"),
		SSECustomerKey: aws.String(base64.StdEncoding.EncodeToString(wrong)), SSECustomerKeyMD5: aws.String(base64.StdEncoding.EncodeToString(wsum[:]))})
	if status(err) != http.StatusForbidden {
		t.Errorf("head SSE-C with a wrong key: %v", err)
	}
	// Copy an SSE-C object into an SSE-S3 one.
	if _, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String(b), Key: aws.String("c2"), CopySource: aws.String(b + "/c"),
		CopySourceSSECustomerAlgorithm: aws.String("AES256"), CopySourceSSECustomerKey: aws.String(k64), CopySourceSSECustomerKeyMD5: aws.String(m64),
		ServerSideEncryption: types.ServerSideEncryptionAes256}); err != nil {
		t.Fatalf("copy SSE-C to SSE-S3: %v", err)
	}
	if got, _, err := getBody(t, c, &s3.GetObjectInput{Bucket: aws.String(b), Key: aws.String("c2")}); err != nil || !bytes.Equal(got, data) {
		t.Errorf("get of the copy: %d bytes, %v", len(got), err)
	}
	// Multipart: SSE-S3 and SSE-C uploads, read back whole and across the
	// part boundary.
	for _, ssec := range []bool{false, true} {
		in := &s3.CreateMultipartUploadInput{Bucket: aws.String(b), Key: aws.String("mp")}
		var sseKey, sseMD5, sseAlg *string
		if ssec {
			sseAlg, sseKey, sseMD5 = aws.String("AES256"), aws.String(k64), aws.String(m64)
			in.SSECustomerAlgorithm, in.SSECustomerKey, in.SSECustomerKeyMD5 = sseAlg, sseKey, sseMD5
		} else {
			in.ServerSideEncryption = types.ServerSideEncryptionAes256
		}
		up, err := c.CreateMultipartUpload(ctx, in)
		if err != nil {
			t.Fatalf("create SSE upload (ssec %v): %v", ssec, err)
		}
		bodies := [][]byte{bytes.Repeat([]byte("first part "), (5<<20)/11+1), []byte("second part")}
		var parts []types.CompletedPart
		for i, body := range bodies {
			out, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String(b), Key: aws.String("mp"), UploadId: up.UploadId,
				PartNumber: aws.Int32(int32(i + 1)), Body: bytes.NewReader(body),
				SSECustomerAlgorithm: sseAlg, SSECustomerKey: sseKey, SSECustomerKeyMD5: sseMD5})
			if err != nil {
				t.Fatalf("part %d (ssec %v): %v", i+1, ssec, err)
			}
			parts = append(parts, types.CompletedPart{PartNumber: aws.Int32(int32(i + 1)), ETag: out.ETag})
		}
		if _, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String(b), Key: aws.String("mp"),
			UploadId: up.UploadId, MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}}); err != nil {
			t.Fatal(err)
		}
		all := append(append([]byte(nil), bodies[0]...), bodies[1]...)
		got, _, err := getBody(t, c, &s3.GetObjectInput{Bucket: aws.String(b), Key: aws.String("mp"),
			SSECustomerAlgorithm: sseAlg, SSECustomerKey: sseKey, SSECustomerKeyMD5: sseMD5})
		if err != nil || !bytes.Equal(got, all) {
			t.Fatalf("get encrypted multipart (ssec %v): %d bytes, %v", ssec, len(got), err)
		}
		n := len(bodies[0])
		got, _, err = getBody(t, c, &s3.GetObjectInput{Bucket: aws.String(b), Key: aws.String("mp"), Range: aws.String(fmt.Sprintf("bytes=%d-%d", n-5, n+5)),
			SSECustomerAlgorithm: sseAlg, SSECustomerKey: sseKey, SSECustomerKeyMD5: sseMD5})
		if err != nil || !bytes.Equal(got, all[n-5:n+6]) {
			t.Errorf("range across parts (ssec %v): %q, %v", ssec, got, err)
		}
	}
}
