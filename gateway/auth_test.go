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
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/minio/minio-go/v7"
	miniocreds "github.com/minio/minio-go/v7/pkg/credentials"
)

// s3As is an SDK client signing with another access key.
func (e *env) s3As(t *testing.T, ak, sk string) *s3.Client {
	t.Helper()
	return s3.NewFromConfig(aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider(ak, sk, ""),
		HTTPClient:  e.client,
	}, func(o *s3.Options) {
		o.BaseEndpoint = aws.String(e.url)
		o.UsePathStyle = true
		o.RetryMaxAttempts = 1
	})
}

func bucketNames(t *testing.T, c *s3.Client) []string {
	t.Helper()
	out, err := c.ListBuckets(context.Background(), &s3.ListBucketsInput{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, b := range out.Buckets {
		names = append(names, aws.ToString(b.Name))
	}
	return names
}

func put(t *testing.T, c *s3.Client, bucket, key, body string) {
	t.Helper()
	if _, err := c.PutObject(context.Background(), &s3.PutObjectInput{Bucket: &bucket, Key: &key, Body: strings.NewReader(body)}); err != nil {
		t.Fatalf("put %s/%s: %v", bucket, key, err)
	}
}

// anon sends an unsigned request.
func (e *env) anon(t *testing.T, method, path string, hdr map[string]string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, e.url+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := e.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

// Two users see only their own buckets and cannot touch each other's until
// a bucket policy lets them.
func TestMultiUserAndPolicy(t *testing.T) {
	e := newEnv(t, envOpts{})
	ctx := context.Background()
	alice, bob, alice2 := e.s3(t), e.s3As(t, otherKey, otherSec), e.s3As(t, secondKey, otherSec)
	for _, b := range []struct {
		c    *s3.Client
		name string
	}{{alice, "alice-bk"}, {bob, "bob-bk"}} {
		if _, err := b.c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(b.name)}); err != nil {
			t.Fatal(err)
		}
	}
	put(t, alice, "alice-bk", "public/a.txt", "hello")
	put(t, alice, "alice-bk", "private/b.txt", "secret")
	if got := bucketNames(t, alice); !slices.Equal(got, []string{"alice-bk"}) {
		t.Fatalf("alice lists %v", got)
	}
	if got := bucketNames(t, bob); !slices.Equal(got, []string{"bob-bk"}) {
		t.Fatalf("bob lists %v", got)
	}
	if got := bucketNames(t, alice2); !slices.Equal(got, []string{"alice-bk"}) {
		t.Fatalf("alice's second key lists %v", got)
	}
	_, err := bob.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("alice-bk")})
	if code(err) != "BucketAlreadyExists" || status(err) != 409 {
		t.Fatalf("bob creates alice's bucket: %v", err)
	}
	denied := func(what string, err error) {
		t.Helper()
		if code(err) != "AccessDenied" || status(err) != 403 {
			t.Fatalf("%s: %v, want 403 AccessDenied", what, err)
		}
	}
	_, err = bob.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("alice-bk"), Key: aws.String("public/a.txt")})
	denied("bob reads", err)
	_, err = bob.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("alice-bk"), Key: aws.String("x"), Body: strings.NewReader("x")})
	denied("bob writes", err)
	_, err = bob.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("alice-bk")})
	denied("bob lists", err)
	_, err = bob.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("alice-bk")})
	denied("bob deletes the bucket", err)
	_, err = bob.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String("alice-bk"), Policy: aws.String(`{}`)})
	denied("bob sets a policy", err)
	if r := e.anon(t, "GET", "/alice-bk/public/a.txt", nil); r.StatusCode != 403 {
		t.Fatalf("anonymous read before the policy: %d", r.StatusCode)
	}

	pol := `{"Version":"2012-10-17","Statement":[
	  {"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::alice-bk/public/*"},
	  {"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:user/user-AKIAOTHERUSER"},
	   "Action":["s3:GetObject","s3:ListBucket"],"Resource":["arn:aws:s3:::alice-bk","arn:aws:s3:::alice-bk/*"]},
	  {"Effect":"Deny","Principal":"*","Action":"s3:DeleteObject","Resource":"arn:aws:s3:::alice-bk/*"}]}`
	if _, err := alice.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String("alice-bk"), Policy: aws.String(pol)}); err != nil {
		t.Fatal(err)
	}
	got, err := alice.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: aws.String("alice-bk")})
	if err != nil || aws.ToString(got.Policy) != pol {
		t.Fatalf("policy read back %v %v", got, err)
	}
	if _, err := bob.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("alice-bk"), Key: aws.String("private/b.txt")}); err != nil {
		t.Fatalf("bob reads under the policy: %v", err)
	}
	if _, err := bob.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("alice-bk")}); err != nil {
		t.Fatalf("bob lists under the policy: %v", err)
	}
	_, err = bob.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("alice-bk"), Key: aws.String("x"), Body: strings.NewReader("x")})
	denied("bob writes under the policy", err)
	if got := bucketNames(t, bob); !slices.Equal(got, []string{"bob-bk"}) {
		t.Fatalf("bob lists %v", got)
	}
	if r := e.anon(t, "GET", "/alice-bk/public/a.txt", nil); r.StatusCode != 200 {
		t.Fatalf("anonymous public read: %d", r.StatusCode)
	}
	if r := e.anon(t, "GET", "/alice-bk/private/b.txt", nil); r.StatusCode != 403 {
		t.Fatalf("anonymous private read: %d", r.StatusCode)
	}
	if r := e.anon(t, "PUT", "/alice-bk/public/new", nil); r.StatusCode != 403 {
		t.Fatalf("anonymous write: %d", r.StatusCode)
	}
	if r := e.anon(t, "GET", "/", nil); r.StatusCode != 403 {
		t.Fatalf("anonymous list buckets: %d", r.StatusCode)
	}
	// The explicit deny binds the owner too, but not for the policy itself.
	_, err = alice.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("alice-bk"), Key: aws.String("public/a.txt")})
	denied("owner deletes against an explicit deny", err)
	if _, err := alice.DeleteBucketPolicy(ctx, &s3.DeleteBucketPolicyInput{Bucket: aws.String("alice-bk")}); err != nil {
		t.Fatal(err)
	}
	_, err = alice.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: aws.String("alice-bk")})
	if code(err) != "NoSuchBucketPolicy" || status(err) != 404 {
		t.Fatalf("policy after delete: %v", err)
	}
	if _, err := alice.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("alice-bk"), Key: aws.String("public/a.txt")}); err != nil {
		t.Fatal(err)
	}
	_, err = bob.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("alice-bk"), Key: aws.String("private/b.txt")})
	denied("bob reads after the policy is gone", err)
}

func TestBucketPolicyValidation(t *testing.T) {
	e := newEnv(t, envOpts{})
	ctx, c := context.Background(), e.s3(t)
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("pol")}); err != nil {
		t.Fatal(err)
	}
	stmt := func(s string) string { return `{"Version":"2012-10-17","Statement":[` + s + `]}` }
	tests := []struct{ name, doc string }{
		{"not json", `{"Version":`},
		{"no principal", stmt(`{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::pol/*"}`)},
		{"other bucket", stmt(`{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::other/*"}`)},
		{"other service", stmt(`{"Effect":"Allow","Principal":"*","Action":"sqs:SendMessage","Resource":"arn:aws:s3:::pol/*"}`)},
		{"bad effect", stmt(`{"Effect":"Perhaps","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::pol/*"}`)},
		{"bad condition", stmt(`{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::pol/*","Condition":{"IpAddress":{"aws:SourceIp":"300.1.1.1"}}}`)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String("pol"), Policy: aws.String(tc.doc)})
			if code(err) != "MalformedPolicy" || status(err) != 400 {
				t.Fatalf("got %v, want MalformedPolicy", err)
			}
		})
	}
	// A condition on the source address: the test client is 127.0.0.1.
	doc := stmt(`{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::pol/*","Condition":{"IpAddress":{"aws:SourceIp":"127.0.0.0/8"}}},
	  {"Effect":"Allow","Principal":"*","Action":"s3:ListBucket","Resource":"arn:aws:s3:::pol","Condition":{"StringEquals":{"s3:prefix":"pub/"}}}`)
	if _, err := c.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String("pol"), Policy: aws.String(doc)}); err != nil {
		t.Fatal(err)
	}
	put(t, c, "pol", "k", "v")
	if r := e.anon(t, "GET", "/pol/k", nil); r.StatusCode != 200 {
		t.Fatalf("anonymous read from 127.0.0.1: %d", r.StatusCode)
	}
	if r := e.anon(t, "GET", "/pol?list-type=2&prefix=pub/", nil); r.StatusCode != 200 {
		t.Fatalf("anonymous list of pub/: %d", r.StatusCode)
	}
	if r := e.anon(t, "GET", "/pol?list-type=2", nil); r.StatusCode != 403 {
		t.Fatalf("anonymous list of everything: %d", r.StatusCode)
	}
}

func TestCORS(t *testing.T) {
	e := newEnv(t, envOpts{})
	ctx, c := context.Background(), e.s3(t)
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("web")}); err != nil {
		t.Fatal(err)
	}
	put(t, c, "web", "index.html", "<html/>")
	pre := map[string]string{"Origin": "https://app.example.com", "Access-Control-Request-Method": "PUT"}
	if r := e.anon(t, "OPTIONS", "/web/index.html", pre); r.StatusCode != 403 {
		t.Fatalf("preflight without CORS: %d", r.StatusCode)
	}
	_, err := c.GetBucketCors(ctx, &s3.GetBucketCorsInput{Bucket: aws.String("web")})
	if code(err) != "NoSuchCORSConfiguration" {
		t.Fatalf("get absent CORS: %v", err)
	}
	_, err = c.PutBucketCors(ctx, &s3.PutBucketCorsInput{Bucket: aws.String("web"), CORSConfiguration: &types.CORSConfiguration{
		CORSRules: []types.CORSRule{{AllowedMethods: []string{"PATCH"}, AllowedOrigins: []string{"*"}}}}})
	if status(err) != 400 {
		t.Fatalf("PATCH rule: %v", err)
	}
	rules := []types.CORSRule{
		{AllowedMethods: []string{"GET", "PUT"}, AllowedOrigins: []string{"https://*.example.com"},
			AllowedHeaders: []string{"x-amz-*", "content-type"}, ExposeHeaders: []string{"ETag"}, MaxAgeSeconds: aws.Int32(600)},
		{AllowedMethods: []string{"GET"}, AllowedOrigins: []string{"*"}},
	}
	if _, err := c.PutBucketCors(ctx, &s3.PutBucketCorsInput{Bucket: aws.String("web"),
		CORSConfiguration: &types.CORSConfiguration{CORSRules: rules}}); err != nil {
		t.Fatal(err)
	}
	got, err := c.GetBucketCors(ctx, &s3.GetBucketCorsInput{Bucket: aws.String("web")})
	if err != nil || len(got.CORSRules) != 2 || aws.ToInt32(got.CORSRules[0].MaxAgeSeconds) != 600 ||
		!slices.Equal(got.CORSRules[0].AllowedHeaders, rules[0].AllowedHeaders) {
		t.Fatalf("CORS read back %+v %v", got, err)
	}
	tests := []struct {
		name          string
		hdr           map[string]string
		status        int
		origin, allow string
	}{
		{"allowed", map[string]string{"Origin": "https://app.example.com", "Access-Control-Request-Method": "PUT",
			"Access-Control-Request-Headers": "X-Amz-Date, content-type"}, 200, "https://app.example.com", "GET, PUT"},
		{"header not allowed", map[string]string{"Origin": "https://app.example.com", "Access-Control-Request-Method": "PUT",
			"Access-Control-Request-Headers": "x-custom"}, 403, "", ""},
		{"any origin may GET", map[string]string{"Origin": "http://elsewhere.org", "Access-Control-Request-Method": "GET"}, 200, "*", "GET"},
		{"any origin may not PUT", map[string]string{"Origin": "http://elsewhere.org", "Access-Control-Request-Method": "PUT"}, 403, "", ""},
		{"no origin", map[string]string{"Access-Control-Request-Method": "GET"}, 400, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.anon(t, "OPTIONS", "/web/index.html", tc.hdr)
			if r.StatusCode != tc.status || r.Header.Get("Access-Control-Allow-Origin") != tc.origin ||
				r.Header.Get("Access-Control-Allow-Methods") != tc.allow {
				t.Fatalf("preflight: %d %v", r.StatusCode, r.Header)
			}
		})
	}
	// A signed GET from an allowed origin carries the headers.
	r := e.do(t, rawReq{method: "GET", path: "/web/index.html", headers: map[string]string{"Origin": "https://app.example.com"}})
	if r.status != 200 || r.headers.Get("Access-Control-Allow-Origin") != "https://app.example.com" ||
		r.headers.Get("Access-Control-Expose-Headers") != "ETag" {
		t.Fatalf("GET with Origin: %d %v", r.status, r.headers)
	}
	if _, err := c.DeleteBucketCors(ctx, &s3.DeleteBucketCorsInput{Bucket: aws.String("web")}); err != nil {
		t.Fatal(err)
	}
	if _, err = c.GetBucketCors(ctx, &s3.GetBucketCorsInput{Bucket: aws.String("web")}); code(err) != "NoSuchCORSConfiguration" {
		t.Fatalf("get deleted CORS: %v", err)
	}
}

// SigV2 as minio-go signs it: header auth and a presigned GET.
func TestSignatureV2(t *testing.T) {
	e := newEnv(t, envOpts{})
	ctx := context.Background()
	u, _ := url.Parse(e.url)
	mc, err := minio.New(u.Host, &minio.Options{
		Creds: miniocreds.NewStaticV2(accessKey, secretKey, ""), Region: "us-east-1",
		BucketLookup: minio.BucketLookupPath, Transport: e.client.Transport, MaxRetries: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := mc.MakeBucket(ctx, "v2bk", minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("v2 data "), 1000)
	if _, err := mc.PutObject(ctx, "v2bk", "dir/a b+c.txt", bytes.NewReader(data), int64(len(data)),
		minio.PutObjectOptions{ContentType: "text/plain", UserMetadata: map[string]string{"color": "blue"}}); err != nil {
		t.Fatal(err)
	}
	obj, err := mc.GetObject(ctx, "v2bk", "dir/a b+c.txt", minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(obj)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read back %d bytes, %v", len(got), err)
	}
	var keys []string
	for o := range mc.ListObjects(ctx, "v2bk", minio.ListObjectsOptions{Recursive: true}) {
		if o.Err != nil {
			t.Fatal(o.Err)
		}
		keys = append(keys, o.Key)
	}
	if !slices.Equal(keys, []string{"dir/a b+c.txt"}) {
		t.Fatalf("keys %v", keys)
	}
	pre, err := mc.PresignedGetObject(ctx, "v2bk", "dir/a b+c.txt", time.Minute, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !pre.Query().Has("AWSAccessKeyId") {
		t.Fatalf("not a V2 URL: %s", pre)
	}
	resp, err := e.client.Get(pre.String())
	if err != nil {
		t.Fatal(err)
	}
	got, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Equal(got, data) {
		t.Fatalf("presigned GET: %d, %d bytes", resp.StatusCode, len(got))
	}
	// A tampered signature fails.
	q := pre.Query()
	q.Set("Signature", "AAAA"+q.Get("Signature")[4:])
	pre.RawQuery = q.Encode()
	if resp, err := e.client.Get(pre.String()); err != nil || resp.StatusCode != 403 {
		t.Fatalf("tampered presigned GET: %v %v", resp.StatusCode, err)
	}
	// Another user's V2 key is held to the same rules.
	other, _ := minio.New(u.Host, &minio.Options{Creds: miniocreds.NewStaticV2(otherKey, otherSec, ""), Region: "us-east-1",
		BucketLookup: minio.BucketLookupPath, Transport: e.client.Transport, MaxRetries: 1})
	if _, err := other.StatObject(ctx, "v2bk", "dir/a b+c.txt", minio.StatObjectOptions{}); minio.ToErrorResponse(err).StatusCode != 403 {
		t.Fatalf("other user's stat: %v", err)
	}
}

// SigV2 on a virtual-hosted-style request signs "/bucket/key" although
// the path is "/key".
func TestSignatureV2VirtualHost(t *testing.T) {
	e := newEnv(t, envOpts{domain: "s3.wolke.test"})
	ctx := context.Background()
	u, _ := url.Parse(e.url)
	mc, err := minio.New(u.Host, &minio.Options{
		Creds: miniocreds.NewStaticV2(accessKey, secretKey, ""), Region: "us-east-1",
		BucketLookup: minio.BucketLookupDNS, Transport: e.client.Transport, MaxRetries: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := mc.MakeBucket(ctx, "vh2", minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := mc.PutObject(ctx, "vh2", "a/b.txt", strings.NewReader("hosted"), 6, minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	if h := e.headersWhere(func(h http.Header) bool { return strings.HasPrefix(h.Get("Authorization"), "AWS ") }); h == nil ||
		!strings.HasPrefix(h.Get("X-Test-Host"), "vh2.s3.wolke.test") {
		t.Fatalf("not a virtual-hosted V2 request: %v", h)
	}
	obj, err := mc.GetObject(ctx, "vh2", "a/b.txt", minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if b, err := io.ReadAll(obj); err != nil || string(b) != "hosted" {
		t.Fatalf("read %q %v", b, err)
	}
}
