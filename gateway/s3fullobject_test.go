package gateway_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/binary"
	"hash/crc32"
	"hash/crc64"
	"net/http"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// crcB64 is the S3 value of a CRC: big-endian bytes, base64.
func crcB64(alg types.ChecksumAlgorithm, data []byte) string {
	var b []byte
	switch alg {
	case types.ChecksumAlgorithmCrc32:
		b = binary.BigEndian.AppendUint32(nil, crc32.ChecksumIEEE(data))
	case types.ChecksumAlgorithmCrc32c:
		b = binary.BigEndian.AppendUint32(nil, crc32.Checksum(data, crc32.MakeTable(crc32.Castagnoli)))
	case types.ChecksumAlgorithmCrc64nvme:
		b = binary.BigEndian.AppendUint64(nil, crc64.Checksum(data, crc64.MakeTable(0x9a6c9329ac4bc9b5)))
	}
	return base64.StdEncoding.EncodeToString(b)
}

// partSum returns the checksum of alg an SDK output carries.
func partSum(alg types.ChecksumAlgorithm, crc32v, crc32c, crc64v *string) string {
	switch alg {
	case types.ChecksumAlgorithmCrc32:
		return aws.ToString(crc32v)
	case types.ChecksumAlgorithmCrc32c:
		return aws.ToString(crc32c)
	}
	return aws.ToString(crc64v)
}

func setPartSum(p *types.CompletedPart, alg types.ChecksumAlgorithm, v string) {
	switch alg {
	case types.ChecksumAlgorithmCrc32:
		p.ChecksumCRC32 = aws.String(v)
	case types.ChecksumAlgorithmCrc32c:
		p.ChecksumCRC32C = aws.String(v)
	default:
		p.ChecksumCRC64NVME = aws.String(v)
	}
}

// noChecksum makes the SDK send a request without a checksum of its own.
func noChecksum(o *s3.Options) {
	o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
}

// testFullObjectChecksums: multipart uploads with x-amz-checksum-type
// FULL_OBJECT get the CRC of the whole object, combined from the parts'
// CRCs (including a part sent without a checksum, whose CRC the gateway
// computes); the SDK verifies it on GET. Wrong values and forbidden
// combinations get S3's errors and leave no object.
func testFullObjectChecksums(t *testing.T, c *s3.Client) {
	ctx, b := context.Background(), "fullobject"
	mustCreate(t, c, b)
	bodies := [][]byte{bytes.Repeat([]byte("full object "), (5<<20)/12+1), []byte("and the short last part")}
	all := bytes.Join(bodies, nil)
	for _, alg := range []types.ChecksumAlgorithm{types.ChecksumAlgorithmCrc32, types.ChecksumAlgorithmCrc32c, types.ChecksumAlgorithmCrc64nvme} {
		key := "obj-" + string(alg)
		up, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(b), Key: aws.String(key),
			ChecksumAlgorithm: alg, ChecksumType: types.ChecksumTypeFullObject})
		if err != nil || up.ChecksumType != types.ChecksumTypeFullObject || up.ChecksumAlgorithm != alg {
			t.Fatalf("%s: create: %+v, %v", alg, up, err)
		}
		var parts []types.CompletedPart
		for i, body := range bodies {
			in := &s3.UploadPartInput{Bucket: aws.String(b), Key: aws.String(key), UploadId: up.UploadId,
				PartNumber: aws.Int32(int32(i + 1)), Body: bytes.NewReader(body)}
			var opts []func(*s3.Options)
			if i == 0 {
				in.ChecksumAlgorithm = alg // the SDK sends the CRC as a trailer
			} else {
				opts = append(opts, noChecksum) // the gateway computes it
			}
			out, err := c.UploadPart(ctx, in, opts...)
			if err != nil {
				t.Fatalf("%s: part %d: %v", alg, i+1, err)
			}
			got := partSum(alg, out.ChecksumCRC32, out.ChecksumCRC32C, out.ChecksumCRC64NVME)
			if want := crcB64(alg, body); got != want {
				t.Errorf("%s: part %d checksum %q, want %q", alg, i+1, got, want)
			}
			p := types.CompletedPart{PartNumber: aws.Int32(int32(i + 1)), ETag: out.ETag}
			setPartSum(&p, alg, got)
			parts = append(parts, p)
		}
		want := crcB64(alg, all)
		wrong := crcB64(alg, []byte("something else"))
		complete := func(full string) (*s3.CompleteMultipartUploadOutput, error) {
			in := &s3.CompleteMultipartUploadInput{Bucket: aws.String(b), Key: aws.String(key), UploadId: up.UploadId,
				ChecksumType: types.ChecksumTypeFullObject, MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}}
			switch alg {
			case types.ChecksumAlgorithmCrc32:
				in.ChecksumCRC32 = aws.String(full)
			case types.ChecksumAlgorithmCrc32c:
				in.ChecksumCRC32C = aws.String(full)
			default:
				in.ChecksumCRC64NVME = aws.String(full)
			}
			return c.CompleteMultipartUpload(ctx, in)
		}
		if _, err := complete(wrong); code(err) != "BadDigest" {
			t.Errorf("%s: complete with a wrong full-object checksum: %v", alg, err)
		}
		if _, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(b), Key: aws.String(key)}); status(err) != http.StatusNotFound {
			t.Errorf("%s: a refused complete left an object: %v", alg, err)
		}
		lp, err := c.ListParts(ctx, &s3.ListPartsInput{Bucket: aws.String(b), Key: aws.String(key), UploadId: up.UploadId})
		if err != nil || lp.ChecksumType != types.ChecksumTypeFullObject || lp.ChecksumAlgorithm != alg || len(lp.Parts) != 2 ||
			partSum(alg, lp.Parts[1].ChecksumCRC32, lp.Parts[1].ChecksumCRC32C, lp.Parts[1].ChecksumCRC64NVME) != crcB64(alg, bodies[1]) {
			t.Errorf("%s: list parts: %+v, %v", alg, lp, err)
		}
		done, err := complete(want)
		if err != nil || partSum(alg, done.ChecksumCRC32, done.ChecksumCRC32C, done.ChecksumCRC64NVME) != want || done.ChecksumType != types.ChecksumTypeFullObject {
			t.Fatalf("%s: complete: %+v, %v", alg, done, err)
		}
		head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(b), Key: aws.String(key), ChecksumMode: types.ChecksumModeEnabled})
		if err != nil || partSum(alg, head.ChecksumCRC32, head.ChecksumCRC32C, head.ChecksumCRC64NVME) != want || head.ChecksumType != types.ChecksumTypeFullObject {
			t.Errorf("%s: head: type %q, %v", alg, head.ChecksumType, err)
		}
		// The SDK validates a full-object checksum of a GET in checksum mode.
		got, _, err := getBody(t, c, &s3.GetObjectInput{Bucket: aws.String(b), Key: aws.String(key), ChecksumMode: types.ChecksumModeEnabled})
		if err != nil || !bytes.Equal(got, all) {
			t.Errorf("%s: get: %d bytes, %v", alg, len(got), err)
		}
	}

	// Combinations S3 refuses, and a type without an algorithm.
	for _, tc := range []struct {
		alg types.ChecksumAlgorithm
		typ types.ChecksumType
	}{{types.ChecksumAlgorithmSha256, types.ChecksumTypeFullObject}, {types.ChecksumAlgorithmSha1, types.ChecksumTypeFullObject},
		{types.ChecksumAlgorithmCrc64nvme, types.ChecksumTypeComposite}, {"", types.ChecksumTypeFullObject}} {
		_, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(b), Key: aws.String("refused"),
			ChecksumAlgorithm: tc.alg, ChecksumType: tc.typ})
		if code(err) != "InvalidRequest" {
			t.Errorf("create %s %s: %v, want InvalidRequest", tc.alg, tc.typ, err)
		}
	}
	if ups, err := c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String(b), Prefix: aws.String("refused")}); err != nil || len(ups.Uploads) != 0 {
		t.Errorf("refused creates left uploads: %v, %v", ups, err)
	}

	// A COMPOSITE upload takes parts with its algorithm's checksum only,
	// and a complete that lists every part's checksum.
	up, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(b), Key: aws.String("composite"),
		ChecksumAlgorithm: types.ChecksumAlgorithmCrc32c})
	if err != nil || up.ChecksumType != types.ChecksumTypeComposite {
		t.Fatalf("create composite: %+v, %v", up, err)
	}
	part := func(alg types.ChecksumAlgorithm, opts ...func(*s3.Options)) (*s3.UploadPartOutput, error) {
		return c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String(b), Key: aws.String("composite"), UploadId: up.UploadId,
			PartNumber: aws.Int32(1), Body: bytes.NewReader(bodies[1]), ChecksumAlgorithm: alg}, opts...)
	}
	if _, err := part("", noChecksum); code(err) != "InvalidRequest" {
		t.Errorf("composite part without a checksum: %v", err)
	}
	if _, err := part(types.ChecksumAlgorithmCrc32); code(err) != "InvalidRequest" {
		t.Errorf("composite part with another algorithm: %v", err)
	}
	out, err := part(types.ChecksumAlgorithmCrc32c)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String(b), Key: aws.String("composite"), UploadId: up.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{{PartNumber: aws.Int32(1), ETag: out.ETag}}}})
	if code(err) != "InvalidRequest" {
		t.Errorf("composite complete without part checksums: %v", err)
	}
	done, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String(b), Key: aws.String("composite"), UploadId: up.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{{PartNumber: aws.Int32(1), ETag: out.ETag, ChecksumCRC32C: out.ChecksumCRC32C}}}})
	if err != nil || done.ChecksumType != types.ChecksumTypeComposite || aws.ToString(done.ChecksumCRC32C) == "" {
		t.Errorf("composite complete: %+v, %v", done, err)
	}
}

// testUploadPartCopySSEC copies a range of an SSE-C object into an
// upload encrypted with another customer key (and a FULL_OBJECT CRC32
// checksum, computed over the plaintext), and checks the keys' errors.
func testUploadPartCopySSEC(t *testing.T, c *s3.Client) {
	ctx, b := context.Background(), "partcopy-ssec"
	mustCreate(t, c, b)
	ssec := func(fill byte) (k, m *string) {
		key := bytes.Repeat([]byte{fill}, 32)
		sum := md5.Sum(key)
		return aws.String(base64.StdEncoding.EncodeToString(key)), aws.String(base64.StdEncoding.EncodeToString(sum[:]))
	}
	srcK, srcM := ssec(0x11)
	dstK, dstM := ssec(0x22)
	badK, badM := ssec(0x33)
	aes := aws.String("AES256")
	src := bytes.Repeat([]byte("secret source "), 50<<10) // 700 KiB
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(b), Key: aws.String("src"), Body: bytes.NewReader(src),
		SSECustomerAlgorithm: aes, SSECustomerKey: srcK, SSECustomerKeyMD5: srcM}); err != nil {
		t.Fatal(err)
	}
	up, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(b), Key: aws.String("dst"),
		SSECustomerAlgorithm: aes, SSECustomerKey: dstK, SSECustomerKeyMD5: dstM,
		ChecksumAlgorithm: types.ChecksumAlgorithmCrc32, ChecksumType: types.ChecksumTypeFullObject})
	if err != nil {
		t.Fatal(err)
	}
	first := bytes.Repeat([]byte("plain first part "), (5<<20)/17+1)
	p1, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String(b), Key: aws.String("dst"), UploadId: up.UploadId, PartNumber: aws.Int32(1),
		Body: bytes.NewReader(first), ChecksumAlgorithm: types.ChecksumAlgorithmCrc32,
		SSECustomerAlgorithm: aes, SSECustomerKey: dstK, SSECustomerKeyMD5: dstM})
	if err != nil {
		t.Fatal(err)
	}
	copyPart := func(srcKey, srcMD5, dstKey, dstMD5 *string) (*s3.UploadPartCopyOutput, error) {
		in := &s3.UploadPartCopyInput{Bucket: aws.String(b), Key: aws.String("dst"), UploadId: up.UploadId, PartNumber: aws.Int32(2),
			CopySource: aws.String(b + "/src"), CopySourceRange: aws.String("bytes=1000-300999")}
		if srcKey != nil {
			in.CopySourceSSECustomerAlgorithm, in.CopySourceSSECustomerKey, in.CopySourceSSECustomerKeyMD5 = aes, srcKey, srcMD5
		}
		if dstKey != nil {
			in.SSECustomerAlgorithm, in.SSECustomerKey, in.SSECustomerKeyMD5 = aes, dstKey, dstMD5
		}
		return c.UploadPartCopy(ctx, in)
	}
	for _, tc := range []struct {
		name           string
		sk, sm, dk, dm *string
		wantCode       string
		wantStatus     int
	}{
		{"no source key", nil, nil, dstK, dstM, "InvalidRequest", 400},
		{"wrong source key", badK, badM, dstK, dstM, "", 403},
		{"no destination key", srcK, srcM, nil, nil, "InvalidRequest", 400},
		{"wrong destination key", srcK, srcM, badK, badM, "", 403},
	} {
		_, err := copyPart(tc.sk, tc.sm, tc.dk, tc.dm)
		if status(err) != tc.wantStatus || tc.wantCode != "" && code(err) != tc.wantCode {
			t.Errorf("%s: %v, want %d %s", tc.name, err, tc.wantStatus, tc.wantCode)
		}
	}
	p2, err := copyPart(srcK, srcM, dstK, dstM)
	if err != nil {
		t.Fatalf("UploadPartCopy SSE-C to SSE-C: %v", err)
	}
	if got, want := aws.ToString(p2.CopyPartResult.ChecksumCRC32), crcB64(types.ChecksumAlgorithmCrc32, src[1000:301000]); got != want {
		t.Errorf("CRC32 of the copied part %q, want %q (of the plaintext)", got, want)
	}
	if _, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String(b), Key: aws.String("dst"), UploadId: up.UploadId,
		ChecksumType: types.ChecksumTypeFullObject,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{
			{PartNumber: aws.Int32(1), ETag: p1.ETag}, {PartNumber: aws.Int32(2), ETag: p2.CopyPartResult.ETag}}}}); err != nil {
		t.Fatal(err)
	}
	all := append(append([]byte(nil), first...), src[1000:301000]...)
	got, _, err := getBody(t, c, &s3.GetObjectInput{Bucket: aws.String(b), Key: aws.String("dst"),
		SSECustomerAlgorithm: aes, SSECustomerKey: dstK, SSECustomerKeyMD5: dstM})
	if err != nil || !bytes.Equal(got, all) {
		t.Fatalf("get the assembled object: %d bytes, %v", len(got), err)
	}
	head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(b), Key: aws.String("dst"), ChecksumMode: types.ChecksumModeEnabled,
		SSECustomerAlgorithm: aes, SSECustomerKey: dstK, SSECustomerKeyMD5: dstM})
	if want := crcB64(types.ChecksumAlgorithmCrc32, all); err != nil || aws.ToString(head.ChecksumCRC32) != want {
		t.Errorf("full-object CRC32 of the encrypted upload %q, want %q; %v", aws.ToString(head.ChecksumCRC32), want, err)
	}
}
