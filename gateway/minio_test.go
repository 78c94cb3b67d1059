package gateway_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"
	miniocreds "github.com/minio/minio-go/v7/pkg/credentials"
)

func (e *env) minio(t *testing.T, trailing bool) *minio.Client {
	t.Helper()
	u, err := url.Parse(e.url)
	if err != nil {
		t.Fatal(err)
	}
	c, err := minio.New(u.Host, &minio.Options{
		Creds:        miniocreds.NewStaticV4(accessKey, secretKey, ""),
		Secure:       u.Scheme == "https",
		Region:       "us-east-1",
		BucketLookup: minio.BucketLookupPath,
		Transport:    e.client.Transport,
		MaxRetries:   1,
		// Trailing checksums make minio-go sign chunks with a trailer.
		TrailingHeaders: trailing,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestMinioStreamingSignature(t *testing.T) {
	e := newEnv(t, envOpts{})
	c, ctx := e.minio(t, false), context.Background()
	trailing := e.minio(t, true)
	if err := c.MakeBucket(ctx, "mio", minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		size int
		opts minio.PutObjectOptions
		mode string
	}{
		{"signed chunks with trailer", 200_000, minio.PutObjectOptions{Checksum: minio.ChecksumCRC32C}, "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"},
		{"signed chunks", 150_000, minio.PutObjectOptions{DisableContentSha256: false, SendContentMd5: true}, "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"},
		{"empty", 0, minio.PutObjectOptions{}, ""},
		{"unsigned", 1000, minio.PutObjectOptions{DisableContentSha256: true}, "UNSIGNED-PAYLOAD"},
	}
	for _, tc := range cases {
		data := bytes.Repeat([]byte("minio-go "), tc.size/9+1)[:tc.size]
		key := "obj/" + strings.ReplaceAll(tc.name, " ", "-")
		opts := tc.opts
		opts.UserMetadata = map[string]string{"case": tc.name}
		opts.ContentType = "application/x-test"
		pc := c
		if strings.HasSuffix(tc.mode, "TRAILER") {
			pc = trailing
		}
		info, err := pc.PutObject(ctx, "mio", key, bytes.NewReader(data), int64(len(data)), opts)
		if err != nil {
			t.Fatalf("%s: put: %v", tc.name, err)
		}
		if info.Size != int64(len(data)) {
			t.Errorf("%s: size %d", tc.name, info.Size)
		}
		h := e.headersWhere(func(h http.Header) bool { return h.Get("X-Amz-Meta-Case") == tc.name })
		if got := h.Get("X-Amz-Content-Sha256"); tc.mode != "" && got != tc.mode {
			t.Errorf("%s: mode %q, want %q", tc.name, got, tc.mode)
		}
		obj, err := c.GetObject(ctx, "mio", key, minio.GetObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(obj)
		obj.Close()
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("%s: get %d bytes, %v", tc.name, len(got), err)
		}
		st, err := c.StatObject(ctx, "mio", key, minio.StatObjectOptions{})
		if err != nil || st.ContentType != "application/x-test" || st.UserMetadata["Case"] != tc.name {
			t.Errorf("%s: stat %+v %v", tc.name, st, err)
		}
	}
	var keys []string
	for o := range c.ListObjects(ctx, "mio", minio.ListObjectsOptions{Recursive: true}) {
		if o.Err != nil {
			t.Fatal(o.Err)
		}
		keys = append(keys, o.Key)
	}
	if len(keys) != len(cases) || !slices.IsSorted(keys) {
		t.Fatalf("listed %q", keys)
	}
	for _, k := range keys {
		if err := c.RemoveObject(ctx, "mio", k, minio.RemoveObjectOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.RemoveBucket(ctx, "mio"); err != nil {
		t.Fatal(err)
	}
}
