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
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

func mustCreate(t *testing.T, c *s3.Client, bucket string) {
	t.Helper()
	if _, err := c.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatalf("CreateBucket %s: %v", bucket, err)
	}
}

func mustPut(t *testing.T, c *s3.Client, bucket, key string, data []byte) *s3.PutObjectOutput {
	t.Helper()
	out, err := c.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(data)})
	if err != nil {
		t.Fatalf("PutObject %s/%q: %v", bucket, key, err)
	}
	return out
}

func getBody(t *testing.T, c *s3.Client, in *s3.GetObjectInput) ([]byte, *s3.GetObjectOutput, error) {
	t.Helper()
	out, err := c.GetObject(context.Background(), in)
	if err != nil {
		return nil, nil, err
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	return b, out, err
}

func TestSDKBuckets(t *testing.T) {
	e := newEnv(t, envOpts{serve: true})
	c, ctx := e.s3(t), context.Background()
	mustCreate(t, c, "alpha")
	_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("alpha")})
	if code(err) != "BucketAlreadyOwnedByYou" || status(err) != 409 {
		t.Fatalf("create twice: %v", err)
	}
	for _, bad := range []string{"Bad_Name", "ab", "a..b", "192.168.1.1", "-abc"} {
		if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bad)}); code(err) != "InvalidBucketName" {
			t.Errorf("bucket %q: %v", bad, err)
		}
	}
	_, err = c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("beta"),
		CreateBucketConfiguration: &types.CreateBucketConfiguration{LocationConstraint: "eu-west-1"}})
	if code(err) != "InvalidLocationConstraint" {
		t.Fatalf("foreign location: %v", err)
	}
	if _, err := c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("alpha")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("missing")}); status(err) != 404 {
		t.Fatalf("head missing: %v", err)
	}
	loc, err := c.GetBucketLocation(ctx, &s3.GetBucketLocationInput{Bucket: aws.String("alpha")})
	if err != nil || loc.LocationConstraint != "" {
		t.Fatalf("location: %+v %v", loc, err)
	}
	mustCreate(t, c, "gamma")
	list, err := c.ListBuckets(ctx, &s3.ListBucketsInput{})
	if err != nil || len(list.Buckets) != 2 || *list.Buckets[0].Name != "alpha" || *list.Buckets[1].Name != "gamma" {
		t.Fatalf("ListBuckets: %+v %v", list, err)
	}
	mustPut(t, c, "alpha", "k", []byte("x"))
	if _, err := c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("alpha")}); code(err) != "BucketNotEmpty" || status(err) != 409 {
		t.Fatalf("delete non-empty: %v", err)
	}
	if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("alpha"), Key: aws.String("k")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("alpha")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("alpha")}); code(err) != "NoSuchBucket" {
		t.Fatalf("delete gone: %v", err)
	}
}

func TestSDKObjectRoundTrip(t *testing.T) {
	for _, tls := range []bool{false, true} {
		e := newEnv(t, envOpts{tls: tls})
		c, ctx := e.s3(t), context.Background()
		mustCreate(t, c, "bkt")
		data := bytes.Repeat([]byte("wolke!"), 50000)
		expires := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
		_, err := c.PutObject(ctx, &s3.PutObjectInput{
			Bucket: aws.String("bkt"), Key: aws.String("dir/obj"), Body: bytes.NewReader(data),
			ContentType: aws.String("text/plain"), Metadata: map[string]string{"color": "blue", "Mixed-Case": "v"},
			CacheControl: aws.String("max-age=60"), ContentDisposition: aws.String(`attachment; filename="x"`),
			ContentEncoding: aws.String("identity"), Expires: &expires,
		})
		if err != nil {
			t.Fatalf("tls=%v put: %v", tls, err)
		}
		h := e.headersWhere(func(h http.Header) bool { return h.Get("X-Amz-Meta-Color") != "" })
		mode := h.Get("X-Amz-Content-Sha256")
		if tls && mode != "STREAMING-UNSIGNED-PAYLOAD-TRAILER" || !tls && len(mode) != 64 {
			t.Errorf("tls=%v: payload mode %q", tls, mode)
		}
		if tls && h.Get("X-Amz-Trailer") != "x-amz-checksum-crc32" || !tls && h.Get("X-Amz-Checksum-Crc32") == "" {
			t.Errorf("tls=%v: no CRC32 checksum sent: %v", tls, h)
		}
		got, out, err := getBody(t, c, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("dir/obj")})
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("tls=%v get: %d bytes, %v", tls, len(got), err)
		}
		if *out.ContentType != "text/plain" || out.Metadata["color"] != "blue" || out.Metadata["mixed-case"] != "v" ||
			*out.CacheControl != "max-age=60" || *out.ContentDisposition != `attachment; filename="x"` ||
			*out.ContentEncoding != "identity" || out.ExpiresString == nil || *out.ContentLength != int64(len(data)) {
			t.Errorf("tls=%v metadata: %+v", tls, out)
		}
	}
}

func TestSDKKeysRoundTrip(t *testing.T) {
	e := newEnv(t, envOpts{})
	c, ctx := e.s3(t), context.Background()
	mustCreate(t, c, "keys")
	keys := []string{"a//b", "../x", "%2B", "a+b", "sp ace", "ü/ñ/€", "q?x=1&y#z", "./dot", "trailing/", "~tilde*'()"}
	for _, k := range keys {
		mustPut(t, c, "keys", k, []byte("v:"+k))
		got, _, err := getBody(t, c, &s3.GetObjectInput{Bucket: aws.String("keys"), Key: aws.String(k)})
		if err != nil || string(got) != "v:"+k {
			t.Errorf("key %q: %q %v", k, got, err)
		}
	}
	stored := e.mem.Keys("keys")
	want := slices.Clone(keys)
	slices.Sort(want)
	if !slices.Equal(stored, want) {
		t.Fatalf("stored keys %q, want %q", stored, want)
	}
	out, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("keys"), EncodingType: types.EncodingTypeUrl})
	if err != nil {
		t.Fatal(err)
	}
	var listed []string
	for _, o := range out.Contents {
		k, err := url.QueryUnescape(*o.Key)
		if err != nil {
			t.Fatal(err)
		}
		listed = append(listed, k)
	}
	if !slices.Equal(listed, want) {
		t.Fatalf("listed %q, want %q", listed, want)
	}
}

func TestSDKRangesAndConditions(t *testing.T) {
	e := newEnv(t, envOpts{})
	c, ctx := e.s3(t), context.Background()
	mustCreate(t, c, "rrr")
	data := []byte("0123456789")
	put := mustPut(t, c, "rrr", "k", data)
	cases := []struct {
		rng, want, contentRange string
		status                  int
	}{
		{"bytes=0-4", "01234", "bytes 0-4/10", 0},
		{"bytes=5-", "56789", "bytes 5-9/10", 0},
		{"bytes=-3", "789", "bytes 7-9/10", 0},
		{"bytes=8-100", "89", "bytes 8-9/10", 0},
		{"bytes=-100", "0123456789", "bytes 0-9/10", 0},
		{"bytes=10-", "", "", 416},
		{"bytes=-0", "", "", 416},
		{"bytes=3-1", "0123456789", "", 0}, // invalid: whole object
		{"bytes=0-1,3-4", "0123456789", "", 0},
	}
	for _, tc := range cases {
		got, out, err := getBody(t, c, &s3.GetObjectInput{Bucket: aws.String("rrr"), Key: aws.String("k"), Range: aws.String(tc.rng)})
		if tc.status != 0 {
			if status(err) != tc.status || code(err) != "InvalidRange" {
				t.Errorf("%s: %v", tc.rng, err)
			}
			continue
		}
		if err != nil || string(got) != tc.want || aws.ToString(out.ContentRange) != tc.contentRange {
			t.Errorf("%s: %q %v %v", tc.rng, got, out, err)
		}
	}
	past, future := time.Now().Add(-time.Hour), time.Now().Add(time.Hour)
	conds := []struct {
		name   string
		in     s3.GetObjectInput
		status int
	}{
		{"if-match ok", s3.GetObjectInput{IfMatch: put.ETag}, 200},
		{"if-match fail", s3.GetObjectInput{IfMatch: aws.String(`"nope"`)}, 412},
		{"if-none-match hit", s3.GetObjectInput{IfNoneMatch: put.ETag}, 304},
		{"if-none-match miss", s3.GetObjectInput{IfNoneMatch: aws.String(`"nope"`)}, 200},
		{"if-modified-since future", s3.GetObjectInput{IfModifiedSince: &future}, 304},
		{"if-modified-since past", s3.GetObjectInput{IfModifiedSince: &past}, 200},
		{"if-unmodified-since past", s3.GetObjectInput{IfUnmodifiedSince: &past}, 412},
		{"if-match beats if-unmodified-since", s3.GetObjectInput{IfMatch: put.ETag, IfUnmodifiedSince: &past}, 200},
	}
	for _, tc := range conds {
		in := tc.in
		in.Bucket, in.Key = aws.String("rrr"), aws.String("k")
		_, _, err := getBody(t, c, &in)
		if got := status(err); tc.status == 200 && err != nil || tc.status != 200 && got != tc.status {
			t.Errorf("%s: status %d, %v", tc.name, got, err)
		}
		hin := s3.HeadObjectInput{Bucket: in.Bucket, Key: in.Key, IfMatch: in.IfMatch, IfNoneMatch: in.IfNoneMatch,
			IfModifiedSince: in.IfModifiedSince, IfUnmodifiedSince: in.IfUnmodifiedSince}
		_, err = c.HeadObject(ctx, &hin)
		if got := status(err); tc.status == 200 && err != nil || tc.status != 200 && got != tc.status {
			t.Errorf("head %s: status %d, %v", tc.name, got, err)
		}
	}
	_, out, err := getBody(t, c, &s3.GetObjectInput{Bucket: aws.String("rrr"), Key: aws.String("k"),
		ResponseContentType: aws.String("image/png"), ResponseContentDisposition: aws.String("inline"),
		ResponseCacheControl: aws.String("no-cache")})
	if err != nil || *out.ContentType != "image/png" || *out.ContentDisposition != "inline" || *out.CacheControl != "no-cache" {
		t.Errorf("response overrides: %+v %v", out, err)
	}
	if _, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("rrr"), Key: aws.String("missing")}); status(err) != 404 {
		t.Errorf("head missing: %v", err)
	}
	if _, _, err := getBody(t, c, &s3.GetObjectInput{Bucket: aws.String("rrr"), Key: aws.String("missing")}); code(err) != "NoSuchKey" {
		t.Errorf("get missing: %v", err)
	}
	if _, _, err := getBody(t, c, &s3.GetObjectInput{Bucket: aws.String("nob"), Key: aws.String("k")}); code(err) != "NoSuchBucket" {
		t.Errorf("get missing bucket: %v", err)
	}
}

func TestSDKDelete(t *testing.T) {
	e := newEnv(t, envOpts{})
	c, ctx := e.s3(t), context.Background()
	mustCreate(t, c, "ddd")
	for _, k := range []string{"a", "b", "c", "d"} {
		mustPut(t, c, "ddd", k, []byte(k))
	}
	if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("ddd"), Key: aws.String("never")}); err != nil {
		t.Fatalf("delete missing key: %v", err)
	}
	if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("nob"), Key: aws.String("k")}); code(err) != "NoSuchBucket" {
		t.Fatalf("delete in missing bucket: %v", err)
	}
	out, err := c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String("ddd"), Delete: &types.Delete{
		Objects: []types.ObjectIdentifier{{Key: aws.String("a")}, {Key: aws.String("b")}, {Key: aws.String("zz")}},
	}})
	if err != nil || len(out.Deleted) != 3 || len(out.Errors) != 0 {
		t.Fatalf("verbose DeleteObjects: %+v %v", out, err)
	}
	out, err = c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String("ddd"), Delete: &types.Delete{
		Quiet: aws.Bool(true), Objects: []types.ObjectIdentifier{{Key: aws.String("c")}},
	}})
	if err != nil || len(out.Deleted) != 0 || len(out.Errors) != 0 {
		t.Fatalf("quiet DeleteObjects: %+v %v", out, err)
	}
	if keys := e.mem.Keys("ddd"); !slices.Equal(keys, []string{"d"}) {
		t.Fatalf("left %q", keys)
	}
}

func TestSDKPresignedGet(t *testing.T) {
	e := newEnv(t, envOpts{})
	c, ctx := e.s3(t), context.Background()
	mustCreate(t, c, "ppp")
	mustPut(t, c, "ppp", "a b/c+d", []byte("presigned!"))
	ps := s3.NewPresignClient(c)
	req, err := ps.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("ppp"), Key: aws.String("a b/c+d")},
		s3.WithPresignExpires(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := e.client.Get(req.URL)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "presigned!" {
		t.Fatalf("presigned GET: %d %q", resp.StatusCode, b)
	}
	body := []byte("uploaded through a presigned URL")
	preq, err := ps.PresignPutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("ppp"), Key: aws.String("up")})
	if err != nil {
		t.Fatal(err)
	}
	hreq, _ := http.NewRequest(preq.Method, preq.URL, bytes.NewReader(body))
	for k, vs := range preq.SignedHeader {
		if k != "Host" {
			hreq.Header[k] = vs
		}
	}
	resp, err = e.client.Do(hreq)
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("presigned PUT: %d %s (%s)", resp.StatusCode, b, preq.URL)
	}
	if got, _, err := getBody(t, c, &s3.GetObjectInput{Bucket: aws.String("ppp"), Key: aws.String("up")}); err != nil || !bytes.Equal(got, body) {
		t.Fatalf("after presigned PUT: %q %v", got, err)
	}
	tampered := strings.Replace(req.URL, "/ppp/", "/ppp/x", 1)
	resp, err = e.client.Get(tampered)
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 403 || !strings.Contains(string(b), "<Code>SignatureDoesNotMatch</Code>") {
		t.Fatalf("tampered presigned GET: %d %s", resp.StatusCode, b)
	}
}

func TestSDKVirtualHosted(t *testing.T) {
	e := newEnv(t, envOpts{domain: "s3.wolke.test"})
	c, ctx := e.s3Style(t, false), context.Background()
	mustCreate(t, c, "vhost")
	mustPut(t, c, "vhost", "dir/a//b", []byte("virtual"))
	got, _, err := getBody(t, c, &s3.GetObjectInput{Bucket: aws.String("vhost"), Key: aws.String("dir/a//b")})
	if err != nil || string(got) != "virtual" {
		t.Fatalf("get: %q %v", got, err)
	}
	if h := e.headersWhere(func(h http.Header) bool { return strings.HasPrefix(h.Get("X-Test-Host"), "vhost.s3.wolke.test:") }); h == nil {
		t.Fatal("the client did not use virtual-hosted style")
	}
	out, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("vhost")})
	if err != nil || len(out.Contents) != 1 || *out.Contents[0].Key != "dir/a//b" {
		t.Fatalf("list: %+v %v", out, err)
	}
	if keys := e.mem.Keys("vhost"); !slices.Equal(keys, []string{"dir/a//b"}) {
		t.Fatalf("stored %q", keys)
	}
}
