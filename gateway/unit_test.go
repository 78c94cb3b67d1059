package gateway

import (
	"errors"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/wolke-cloud/wolke/iam/sigv4"
	"github.com/wolke-cloud/wolke/internal/errs"
)

func TestParseRange(t *testing.T) {
	cases := []struct {
		spec      string
		size      int64
		off, n    int64
		partial   bool
		satisfies bool
	}{
		{"", 10, 0, 10, false, true},
		{"bytes=0-0", 10, 0, 1, true, true},
		{"bytes=2-5", 10, 2, 4, true, true},
		{"bytes=2-", 10, 2, 8, true, true},
		{"bytes=-4", 10, 6, 4, true, true},
		{"bytes=-40", 10, 0, 10, true, true},
		{"bytes=9-20", 10, 9, 1, true, true},
		{"bytes=10-", 10, 0, 0, false, false},
		{"bytes=-0", 10, 0, 0, false, false},
		{"bytes=0-", 0, 0, 0, false, false},
		{"bytes=5-2", 10, 0, 10, false, true},
		{"bytes=1-2,4-5", 10, 0, 10, false, true},
		{"items=1-2", 10, 0, 10, false, true},
		{"bytes=x-2", 10, 0, 10, false, true},
		{"bytes=3", 10, 0, 10, false, true},
	}
	for _, c := range cases {
		br, ok := parseRange(c.spec, c.size)
		if ok != c.satisfies || ok && (br.off != c.off || br.length != c.n || br.partial != c.partial) {
			t.Errorf("parseRange(%q, %d) = %+v %v", c.spec, c.size, br, ok)
		}
	}
}

func TestPreconditions(t *testing.T) {
	mtime := time.Date(2026, 1, 2, 3, 4, 5, 600, time.UTC)
	before, after := mtime.Add(-time.Hour).Format(http.TimeFormat), mtime.Add(time.Hour).Format(http.TimeFormat)
	same := mtime.Format(http.TimeFormat)
	cases := []struct {
		h    map[string]string
		want int
	}{
		{nil, 0},
		{map[string]string{"If-Match": `"abc"`}, 0},
		{map[string]string{"If-Match": `"x", W/"abc"`}, 0},
		{map[string]string{"If-Match": "*"}, 0},
		{map[string]string{"If-Match": `"x"`}, 412},
		{map[string]string{"If-Unmodified-Since": before}, 412},
		{map[string]string{"If-Unmodified-Since": same}, 0},
		{map[string]string{"If-Match": `"abc"`, "If-Unmodified-Since": before}, 0},
		{map[string]string{"If-None-Match": `"abc"`}, 304},
		{map[string]string{"If-None-Match": `"x"`}, 0},
		{map[string]string{"If-Modified-Since": same}, 304},
		{map[string]string{"If-Modified-Since": before}, 0},
		{map[string]string{"If-Modified-Since": after}, 304},
		{map[string]string{"If-None-Match": `"x"`, "If-Modified-Since": after}, 0},
		{map[string]string{"If-Match": `"x"`, "If-None-Match": `"abc"`}, 412},
		{map[string]string{"If-Modified-Since": "garbage"}, 0},
	}
	for _, c := range cases {
		h := http.Header{}
		for k, v := range c.h {
			h.Set(k, v)
		}
		if got := preconditions(h, `"abc"`, mtime); got != c.want {
			t.Errorf("%v: %d, want %d", c.h, got, c.want)
		}
	}
}

func TestBucketNames(t *testing.T) {
	cases := map[string]bool{
		"abc": true, "my-bucket.v2": true, "a1b": true, "0ab": true,
		"ab": false, "ABC": false, "a_b": false, "-ab": false, "ab-": false, ".ab": false, "a..b": false,
		"10.1.2.3": false, "xn--abc": false, "abc-s3alias": false, "_wolke": false,
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa":  true,
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa": false,
	}
	for name, ok := range cases {
		if got := validBucketName(name); got != ok {
			t.Errorf("validBucketName(%q) = %v", name, got)
		}
	}
}

func TestErrorMapping(t *testing.T) {
	cases := []struct {
		err    error
		code   string
		status int
	}{
		{errs.E("x", errs.NotFound), "NoSuchKey", 404},
		{errs.E("x", errs.Unavailable, errors.New("no leader")), "ServiceUnavailable", 503},
		{errs.E("x", errs.NoSpace), "XWolkeStorageFull", 507},
		{errs.E("x", errs.Permission), "AccessDenied", 403},
		{errs.E("x", errs.Precondition), "PreconditionFailed", 412},
		{errs.E("x", errs.Invalid), "InvalidArgument", 400},
		{errs.E("x", errs.Corrupt), "InternalError", 500},
		{errors.New("plain"), "InternalError", 500},
		{apiErr(codeNoSuchUpload, "m"), "NoSuchUpload", 404},
		{apiErr(codeInvalidRange, "m"), "InvalidRange", 416},
		{apiErr(codeNotImplemented, "m"), "NotImplemented", 501},
		{apiErr(codeBucketNotEmpty, "m"), "BucketNotEmpty", 409},
		{apiErr(codeSlowDown, "m"), "SlowDown", 503},
		{sigv4.Fail("y", errs.Permission, sigv4.CodeRequestTimeTooSkewed, "m"), "RequestTimeTooSkewed", 403},
		{sigv4.Fail("y", errs.Invalid, sigv4.CodeMissingContentLength, "m"), "MissingContentLength", 411},
		{sigv4.Fail("y", errs.Invalid, "SomethingUnknown", "m"), "InternalError", 500},
	}
	for _, c := range cases {
		code, status, _ := s3Code(c.err)
		if code != c.code || status != c.status {
			t.Errorf("%v: %s %d, want %s %d", c.err, code, status, c.code, c.status)
		}
	}
	// Codes raised here keep a kind callers can test.
	if err := apiErr(codeNoSuchBucket, "m"); !errs.Is(err, errs.NotFound) {
		t.Errorf("NoSuchBucket kind %v", errs.KindOf(err))
	}
	if msg := message(errs.E("x", errs.Internal, errors.New("secret detail")), true); msg == "" || msg == "secret detail" {
		t.Errorf("fault message leaks: %q", msg)
	}
}

func TestConfigValidate(t *testing.T) {
	cases := []struct {
		cfg Config
		ok  bool
	}{
		{Config{Region: "us-east-1"}, true},
		{Config{Region: "eu-west-1", Domain: "s3.example.com"}, true},
		{Config{}, false},
		{Config{Region: "a b"}, false},
		{Config{Region: "r", Domain: ".example.com"}, false},
		{Config{Region: "r", Domain: "example.com:80"}, false},
	}
	for _, c := range cases {
		if err := c.cfg.Validate(); (err == nil) != c.ok || err != nil && !errs.Is(err, errs.Invalid) {
			t.Errorf("%+v: %v", c.cfg, err)
		}
	}
	var cfg Config
	cfg.SetDefaults()
	if cfg.Region != "us-east-1" {
		t.Errorf("default region %q", cfg.Region)
	}
}

func TestTargetAndRoute(t *testing.T) {
	s := &Server{cfg: Config{Region: "us-east-1", Domain: "s3.wolke.test"}}
	cases := []struct {
		method, host, uri string
		hdr               map[string]string
		bucket, key, op   string
	}{
		{"GET", "localhost", "/", nil, "", "", "ListBuckets"},
		{"GET", "localhost", "/b", nil, "b", "", "ListObjects"},
		{"GET", "localhost", "/b/?list-type=2", nil, "b", "", "ListObjectsV2"},
		{"GET", "localhost", "/b?location", nil, "b", "", "GetBucketLocation"},
		{"GET", "localhost", "/b?uploads", nil, "b", "", "ListMultipartUploads"},
		{"PUT", "localhost", "/b", nil, "b", "", "CreateBucket"},
		{"POST", "localhost", "/b?delete", nil, "b", "", "DeleteObjects"},
		{"GET", "localhost", "/b/a//b", nil, "b", "a//b", "GetObject"},
		{"GET", "localhost", "/b/../x", nil, "b", "../x", "GetObject"},
		{"GET", "localhost", "/b/%252B?x-id=GetObject", nil, "b", "%2B", "GetObject"},
		{"PUT", "localhost", "/b/k?partNumber=1&uploadId=u", nil, "b", "k", "UploadPart"},
		{"PUT", "localhost", "/b/k?partNumber=1&uploadId=u", map[string]string{"X-Amz-Copy-Source": "/b/j"}, "b", "k", "UploadPartCopy"},
		{"POST", "localhost", "/b/k?uploads", nil, "b", "k", "CreateMultipartUpload"},
		{"POST", "localhost", "/b/k?uploadId=u", nil, "b", "k", "CompleteMultipartUpload"},
		{"DELETE", "localhost", "/b/k?uploadId=u", nil, "b", "k", "AbortMultipartUpload"},
		{"GET", "localhost", "/b/k?uploadId=u", nil, "b", "k", "ListParts"},
		{"GET", "localhost", "/b/k?tagging", nil, "b", "k", "GetObjectTagging"},
		{"GET", "localhost", "/b?versioning", nil, "b", "", "GetBucketVersioning"},
		{"GET", "localhost", "/b?versions", nil, "b", "", "ListObjectVersions"},
		{"PUT", "localhost", "/b/k", map[string]string{"X-Amz-Copy-Source": "/b/j"}, "b", "k", "CopyObject"},
		{"GET", "vb.s3.wolke.test:9000", "/dir/k", nil, "vb", "dir/k", "GetObject"},
		{"GET", "VB.S3.Wolke.Test", "/", nil, "vb", "", "ListObjects"},
		{"GET", "s3.wolke.test", "/pb/k", nil, "pb", "k", "GetObject"},
		{"PATCH", "localhost", "/b/k", nil, "b", "k", "Unknown"},
	}
	for _, c := range cases {
		r := &http.Request{Method: c.method, Host: c.host, Header: http.Header{}}
		r.URL, _ = url.ParseRequestURI(c.uri)
		for k, v := range c.hdr {
			r.Header.Set(k, v)
		}
		rq := &request{r: r, q: r.URL.Query()}
		rq.bucket, rq.key = s.target(r)
		op, _ := route(rq)
		if rq.bucket != c.bucket || rq.key != c.key || op != c.op {
			t.Errorf("%s %s%s: bucket %q key %q op %s; want %q %q %s", c.method, c.host, c.uri, rq.bucket, rq.key, op, c.bucket, c.key, c.op)
		}
	}
}

func TestStripAWSChunked(t *testing.T) {
	cases := map[string]string{"aws-chunked": "", "aws-chunked,gzip": "gzip", "gzip, AWS-Chunked": "gzip", "br": "br", "": ""}
	for in, want := range cases {
		if got := stripAWSChunked(in); got != want {
			t.Errorf("stripAWSChunked(%q) = %q, want %q", in, got, want)
		}
	}
}
