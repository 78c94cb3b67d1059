package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"hash/crc64"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// crc64NVME is the base64 CRC-64/NVME of b, from the polynomial (not the
// server's implementation).
func crc64NVME(b []byte) string {
	var out [8]byte
	binary.BigEndian.PutUint64(out[:], crc64.Checksum(b, crc64.MakeTable(0x9a6c9329ac4bc9b5)))
	return base64.StdEncoding.EncodeToString(out[:])
}

// TestS3DefaultChecksums: objects and parts uploaded without a checksum
// get S3's default full-object CRC-64/NVME (PUT, copy, multipart), shown
// with checksum mode and verified by aws-sdk-go-v2 on GET; boto3 and
// aws-cli see it too.
func TestS3DefaultChecksums(t *testing.T) {
	wolkeBin(t)
	needBoto3(t)
	c := StartCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cl := s3.New(s3.Options{}, func(o *s3.Options) { *o = c.S3(1).Options() },
		func(o *s3.Options) { o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired })
	b := aws.String("default-sums")
	if _, err := cl.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: b}); err != nil {
		t.Fatal(err)
	}
	enabled := types.ChecksumModeEnabled
	check := func(what string, got *string, typ types.ChecksumType, want string) {
		t.Helper()
		if aws.ToString(got) != want || typ != types.ChecksumTypeFullObject {
			t.Errorf("%s: crc64nvme %q type %q, want %q FULL_OBJECT", what, aws.ToString(got), typ, want)
		}
	}
	readBack := func(key string, want []byte) {
		t.Helper()
		g, err := cl.GetObject(ctx, &s3.GetObjectInput{Bucket: b, Key: aws.String(key), ChecksumMode: enabled})
		if err != nil {
			t.Fatalf("get %s: %v", key, err)
		}
		got, err := io.ReadAll(g.Body) // the SDK checks the CRC at EOF
		g.Body.Close()
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("get %s: %d bytes, err %v", key, len(got), err)
		}
		check("get "+key, g.ChecksumCRC64NVME, g.ChecksumType, crc64NVME(want))
	}

	// PutObject, inline and striped.
	for _, size := range []int{5, 3<<20 + 7} {
		data := randomBytes(size, uint64(size))
		key := "put-" + sizeName(int64(size))
		p, err := cl.PutObject(ctx, &s3.PutObjectInput{Bucket: b, Key: aws.String(key), Body: bytes.NewReader(data)})
		if err != nil {
			t.Fatal(err)
		}
		check("put "+key, p.ChecksumCRC64NVME, p.ChecksumType, crc64NVME(data))
		h, err := cl.HeadObject(ctx, &s3.HeadObjectInput{Bucket: b, Key: aws.String(key), ChecksumMode: enabled})
		if err != nil {
			t.Fatal(err)
		}
		check("head "+key, h.ChecksumCRC64NVME, h.ChecksumType, crc64NVME(data))
		readBack(key, data)
	}

	// Multipart without an algorithm: each part gets its CRC, the object
	// the CRC of the whole, combined.
	parts := [][]byte{randomBytes(5<<20, 1), randomBytes(5<<20+1, 2), randomBytes(1000, 3)}
	up, err := cl.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: b, Key: aws.String("mp")})
	if err != nil {
		t.Fatal(err)
	}
	var done []types.CompletedPart
	for i, p := range parts {
		r, err := cl.UploadPart(ctx, &s3.UploadPartInput{Bucket: b, Key: aws.String("mp"), UploadId: up.UploadId,
			PartNumber: aws.Int32(int32(i + 1)), Body: bytes.NewReader(p)})
		if err != nil {
			t.Fatal(err)
		}
		if aws.ToString(r.ChecksumCRC64NVME) != crc64NVME(p) {
			t.Errorf("part %d: crc64nvme %q, want %q", i+1, aws.ToString(r.ChecksumCRC64NVME), crc64NVME(p))
		}
		done = append(done, types.CompletedPart{PartNumber: aws.Int32(int32(i + 1)), ETag: r.ETag})
	}
	whole := bytes.Join(parts, nil)
	cm, err := cl.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: b, Key: aws.String("mp"), UploadId: up.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: done}})
	if err != nil {
		t.Fatal(err)
	}
	check("complete", cm.ChecksumCRC64NVME, cm.ChecksumType, crc64NVME(whole))
	readBack("mp", whole)
	// A part read with checksum mode carries the part's own CRC, which
	// the SDK verifies.
	g, err := cl.GetObject(ctx, &s3.GetObjectInput{Bucket: b, Key: aws.String("mp"), PartNumber: aws.Int32(2), ChecksumMode: enabled})
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(g.Body)
	g.Body.Close()
	if err != nil || !bytes.Equal(got, parts[1]) || aws.ToString(g.ChecksumCRC64NVME) != crc64NVME(parts[1]) || aws.ToInt32(g.PartsCount) != 3 {
		t.Errorf("part 2: %d bytes, err %v, crc64nvme %q (want %q), parts %d", len(got), err, aws.ToString(g.ChecksumCRC64NVME), crc64NVME(parts[1]), aws.ToInt32(g.PartsCount))
	}

	// GetObjectAttributes names the checksum and its type, and the parts.
	at, err := cl.GetObjectAttributes(ctx, &s3.GetObjectAttributesInput{Bucket: b, Key: aws.String("mp"),
		ObjectAttributes: []types.ObjectAttributes{types.ObjectAttributesEtag, types.ObjectAttributesChecksum,
			types.ObjectAttributesObjectParts, types.ObjectAttributesStorageClass, types.ObjectAttributesObjectSize}})
	if err != nil {
		t.Fatal(err)
	}
	if at.Checksum == nil || at.ObjectParts == nil {
		t.Fatalf("attributes without checksum or parts: %+v", at)
	}
	check("attributes", at.Checksum.ChecksumCRC64NVME, at.Checksum.ChecksumType, crc64NVME(whole))
	if aws.ToInt32(at.ObjectParts.TotalPartsCount) != 3 || len(at.ObjectParts.Parts) != 3 || aws.ToInt64(at.ObjectParts.Parts[1].Size) != int64(len(parts[1])) ||
		aws.ToInt64(at.ObjectSize) != int64(len(whole)) || at.StorageClass != types.StorageClassStandard || !strings.HasSuffix(aws.ToString(at.ETag), "-3") {
		t.Errorf("attributes: parts %d %+v, size %d, class %q, etag %q", aws.ToInt32(at.ObjectParts.TotalPartsCount), at.ObjectParts.Parts,
			aws.ToInt64(at.ObjectSize), at.StorageClass, aws.ToString(at.ETag))
	}

	// A copy keeps (recomputes) the checksum.
	if _, err := cl.CopyObject(ctx, &s3.CopyObjectInput{Bucket: b, Key: aws.String("mp-copy"), CopySource: aws.String("default-sums/mp")}); err != nil {
		t.Fatal(err)
	}
	readBack("mp-copy", whole)

	// boto3 (botocore without CRC-64/NVME support) and aws-cli see the
	// header; a PUT without a checksum answers it.
	out := c.Python(t, time.Minute, t.TempDir(), `
import os, sys, boto3
from botocore.config import Config
s3 = boto3.client("s3", endpoint_url=os.environ["WOLKE_ENDPOINT"], region_name="us-east-1", config=Config(s3={"addressing_style": "path"}))
r = s3.put_object(Bucket="default-sums", Key="boto3", Body=b"hello boto3")
print("put", r["ResponseMetadata"]["HTTPHeaders"].get("x-amz-checksum-crc64nvme"))
h = s3.head_object(Bucket="default-sums", Key="boto3", ChecksumMode="ENABLED")["ResponseMetadata"]["HTTPHeaders"]
print("head", h.get("x-amz-checksum-crc64nvme"), h.get("x-amz-checksum-type"))
`)
	want := crc64NVME([]byte("hello boto3"))
	if !strings.Contains(out, "put "+want) || !strings.Contains(out, "head "+want+" FULL_OBJECT") {
		t.Errorf("boto3: want %s FULL_OBJECT:\n%s", want, out)
	}
	for _, cli := range awsCLIs(t) {
		out := c.AWS(t, cli, time.Minute, t.TempDir(), "s3api", "head-object", "--bucket", "default-sums", "--key", "mp",
			"--checksum-mode", "ENABLED", "--debug")
		if !strings.Contains(out, crc64NVME(whole)) {
			t.Errorf("%s head-object --checksum-mode ENABLED: no %s in:\n%s", cli.name, crc64NVME(whole), clip(out, 4096))
		}
		out = c.AWS(t, cli, time.Minute, t.TempDir(), "s3api", "get-object-attributes", "--bucket", "default-sums", "--key", "mp",
			"--object-attributes", "Checksum", "ObjectParts", "ObjectSize", "--debug")
		if !strings.Contains(out, crc64NVME(whole)) || !strings.Contains(out, "<PartsCount>3</PartsCount>") {
			t.Errorf("%s get-object-attributes: no %s or 3 parts in:\n%s", cli.name, crc64NVME(whole), clip(out, 4096))
		}
	}
}
