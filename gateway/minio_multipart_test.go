package gateway_test

import (
	"bytes"
	"context"
	"io"
	"net/url"
	"testing"

	"github.com/minio/minio-go/v7"
	miniocreds "github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/wolke-cloud/wolke/cluster"
)

// TestMinioMultipartChecksums: minio-go's multipart uploads with its
// default checksums (CRC32C on every part; the composite value, without
// "-N", or a FULL_OBJECT one on CompleteMultipartUpload) and with an
// explicit full-object CRC32, against a real cluster; the objects read
// back whole, and minio-go verifies the full-object ones.
func TestMinioMultipartChecksums(t *testing.T) {
	cl := cluster.Start(t, cluster.Options{ChunkServers: 3, DataShards: 2, ParityShards: 1})
	u, err := url.Parse(cl.S3Endpoint())
	if err != nil {
		t.Fatal(err)
	}
	root := cl.Root()
	client := func(trailing bool) *minio.Client {
		c, err := minio.New(u.Host, &minio.Options{Creds: miniocreds.NewStaticV4(root.AccessKey, root.SecretKey, ""),
			Region: "us-east-1", BucketLookup: minio.BucketLookupPath, MaxRetries: 1, TrailingHeaders: trailing})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	ctx := context.Background()
	if err := client(false).MakeBucket(ctx, "mio-mp", minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("minio multipart "), (11<<20)/16)
	for _, tc := range []struct {
		name     string
		trailing bool
		opts     minio.PutObjectOptions
	}{
		{"default", false, minio.PutObjectOptions{}},
		{"trailing", true, minio.PutObjectOptions{}},
		{"unsigned-streaming", true, minio.PutObjectOptions{DisableContentSha256: true}},
		{"full-object-crc32", true, minio.PutObjectOptions{Checksum: minio.ChecksumFullObjectCRC32}},
		{"composite-sha256", true, minio.PutObjectOptions{Checksum: minio.ChecksumSHA256}},
	} {
		c := client(tc.trailing)
		opts := tc.opts
		opts.PartSize = 5 << 20
		if _, err := c.PutObject(ctx, "mio-mp", tc.name, bytes.NewReader(data), int64(len(data)), opts); err != nil {
			t.Errorf("%s: put: %v", tc.name, err)
			continue
		}
		obj, err := c.GetObject(ctx, "mio-mp", tc.name, minio.GetObjectOptions{Checksum: true})
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(obj)
		obj.Close()
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("%s: get: %d bytes, %v", tc.name, len(got), err)
		}
		st, err := c.StatObject(ctx, "mio-mp", tc.name, minio.StatObjectOptions{Checksum: true})
		if err != nil {
			t.Errorf("%s: stat: %v", tc.name, err)
			continue
		}
		t.Logf("%s: crc32c %q crc32 %q sha256 %q mode %q", tc.name, st.ChecksumCRC32C, st.ChecksumCRC32, st.ChecksumSHA256, st.ChecksumMode)
		if tc.trailing && st.ChecksumCRC32C == "" && st.ChecksumCRC32 == "" && st.ChecksumSHA256 == "" {
			t.Errorf("%s: the object has no checksum", tc.name)
		}
	}
}
