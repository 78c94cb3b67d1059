package gateway_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"testing/iotest"

	"github.com/minio/minio-go/v7/pkg/signer"
	dto "github.com/prometheus/client_model/go"

	"github.com/wolke-cloud/wolke/core"
	"github.com/wolke-cloud/wolke/gateway"
	"github.com/wolke-cloud/wolke/gateway/gatewaytest"
	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/meta/metapb"
)

type rawReq struct {
	method, path string
	body         []byte
	headers      map[string]string
	region       string // default us-east-1
	service      string // default s3
	ak, sk       string // default the test user
	unsigned     bool   // send without any signature
	mutate       func(r *http.Request)
}

type rawResp struct {
	status  int
	code    string
	body    []byte
	headers http.Header
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// do signs (with minio-go's signer) and sends a hand-made request.
func (e *env) do(t *testing.T, rr rawReq) rawResp {
	t.Helper()
	var body io.Reader
	if rr.body != nil {
		body = bytes.NewReader(rr.body)
	}
	req, err := http.NewRequest(rr.method, e.url+rr.path, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Amz-Content-Sha256", sha256Hex(rr.body))
	for k, v := range rr.headers {
		req.Header.Set(k, v)
	}
	if !rr.unsigned {
		region := rr.region
		if region == "" {
			region = "us-east-1"
		}
		service := rr.service
		if service == "" {
			service = "s3"
		}
		ak, sk := accessKey, secretKey
		if rr.ak != "" {
			ak, sk = rr.ak, rr.sk
		}
		req = signer.SignV4WithServiceType(*req, ak, sk, "", region, service)
	}
	if rr.mutate != nil {
		rr.mutate(req)
	}
	resp, err := e.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	out := rawResp{status: resp.StatusCode, body: b, headers: resp.Header}
	if resp.Header.Get("X-Amz-Request-Id") == "" || resp.Header.Get("X-Amz-Id-2") == "" {
		t.Errorf("%s %s: no request id headers", rr.method, rr.path)
	}
	if resp.StatusCode >= 300 && len(b) > 0 {
		var ex struct{ Code, Message, Resource, RequestId string }
		if err := xml.Unmarshal(b, &ex); err != nil {
			t.Fatalf("%s %s: error body %q: %v", rr.method, rr.path, b, err)
		}
		if ex.RequestId != resp.Header.Get("X-Amz-Request-Id") || ex.Message == "" || ex.Resource == "" {
			t.Errorf("%s %s: error body %+v", rr.method, rr.path, ex)
		}
		out.code = ex.Code
	}
	return out
}

func TestRawErrors(t *testing.T) {
	e := newEnv(t, envOpts{})
	if r := e.do(t, rawReq{method: "PUT", path: "/raw"}); r.status != 200 {
		t.Fatalf("create bucket: %d %s", r.status, r.body)
	}
	data := []byte("some object data")
	longKey := strings.Repeat("k", 1025)
	bigMeta := map[string]string{"X-Amz-Meta-Big": strings.Repeat("v", 2100)}
	cases := []struct {
		name   string
		req    rawReq
		status int
		code   string
	}{
		{"bad signature", rawReq{method: "PUT", path: "/raw/k1", body: data, mutate: func(r *http.Request) {
			a := r.Header.Get("Authorization")
			r.Header.Set("Authorization", a[:len(a)-4]+"0000")
		}}, 403, "SignatureDoesNotMatch"},
		{"unsigned header changed", rawReq{method: "PUT", path: "/raw/k1", body: data, mutate: func(r *http.Request) {
			r.Header.Set("X-Amz-Meta-Sneaky", "1") // x-amz-meta-* are signed by minio-go; added after
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "SignedHeaders=", "SignedHeaders=x-amz-meta-sneaky;", 1))
		}}, 403, "SignatureDoesNotMatch"},
		{"payload hash mismatch", rawReq{method: "PUT", path: "/raw/k1", body: data,
			headers: map[string]string{"X-Amz-Content-Sha256": sha256Hex([]byte("other"))}}, 400, "XAmzContentSHA256Mismatch"},
		{"content-md5 mismatch", rawReq{method: "PUT", path: "/raw/k1", body: data,
			headers: map[string]string{"Content-Md5": "1B2M2Y8AsgTpgAmY7PhCfg=="}}, 400, "BadDigest"},
		{"content-md5 malformed", rawReq{method: "PUT", path: "/raw/k1", body: data,
			headers: map[string]string{"Content-Md5": "nope"}}, 400, "InvalidDigest"},
		{"key too long", rawReq{method: "PUT", path: "/raw/" + longKey, body: data}, 400, "KeyTooLongError"},
		{"metadata too large", rawReq{method: "PUT", path: "/raw/k1", body: data, headers: bigMeta}, 400, "MetadataTooLarge"},
		{"missing content length", rawReq{method: "PUT", path: "/raw/k1", body: data,
			headers: map[string]string{"X-Amz-Content-Sha256": "UNSIGNED-PAYLOAD"},
			mutate:  func(r *http.Request) { r.ContentLength = -1; r.Body = io.NopCloser(bytes.NewReader(data)) }}, 411, "MissingContentLength"},
		{"no such bucket (object)", rawReq{method: "GET", path: "/nobucket/k"}, 404, "NoSuchBucket"},
		{"no such bucket (list)", rawReq{method: "GET", path: "/nobucket"}, 404, "NoSuchBucket"},
		{"no such key", rawReq{method: "GET", path: "/raw/nokey"}, 404, "NoSuchKey"},
		{"head no such key", rawReq{method: "HEAD", path: "/raw/nokey"}, 404, ""},
		{"bad delete xml", rawReq{method: "POST", path: "/raw?delete", body: []byte("<Delete><Object>")}, 400, "MalformedXML"},
		{"bad complete xml", rawReq{method: "POST", path: "/raw/k1?uploadId=abc", body: []byte("not xml")}, 400, "MalformedXML"},
		{"bad bucket config xml", rawReq{method: "PUT", path: "/newbucket", body: []byte("<CreateBucketConfiguration>")}, 400, "MalformedXML"},
		{"website not implemented", rawReq{method: "GET", path: "/raw?website"}, 501, "NotImplemented"},
		{"copy of a missing source", rawReq{method: "PUT", path: "/raw/k2", headers: map[string]string{"X-Amz-Copy-Source": "/raw/k1"}}, 404, "NoSuchKey"},
		{"if-match on a missing key", rawReq{method: "PUT", path: "/raw/k1", body: data, headers: map[string]string{"If-Match": `"0123"`}}, 404, "NoSuchKey"},
		{"if-none-match not *", rawReq{method: "PUT", path: "/raw/k1", body: data, headers: map[string]string{"If-None-Match": `"0123"`}}, 501, "NotImplemented"},
		{"duplicate tag in header", rawReq{method: "PUT", path: "/raw/k1", body: data, headers: map[string]string{"X-Amz-Tagging": "a=b&a=c"}}, 400, "InvalidTag"},
		{"public-read-write acl not implemented", rawReq{method: "PUT", path: "/raw/k1", body: data, headers: map[string]string{"X-Amz-Acl": "public-read-write"}}, 501, "NotImplemented"},
		{"sse-kms not implemented", rawReq{method: "POST", path: "/raw/k1?uploads", headers: map[string]string{"X-Amz-Server-Side-Encryption": "aws:kms"}}, 501, "NotImplemented"},
		{"part number of a missing key", rawReq{method: "GET", path: "/raw/k1?partNumber=1"}, 404, "NoSuchKey"},
		{"attributes without x-amz-object-attributes", rawReq{method: "GET", path: "/raw/k1?attributes"}, 400, "InvalidArgument"},
		{"attributes of an unknown name", rawReq{method: "GET", path: "/raw/k1?attributes", headers: map[string]string{"X-Amz-Object-Attributes": "ETag,Colour"}}, 400, "InvalidArgument"},
		{"attributes of a missing key", rawReq{method: "GET", path: "/raw/k1?attributes", headers: map[string]string{"X-Amz-Object-Attributes": "ETag"}}, 404, "NoSuchKey"},
		{"method not allowed", rawReq{method: "PATCH", path: "/raw/k1"}, 405, "MethodNotAllowed"},
		{"anonymous", rawReq{method: "GET", path: "/raw", unsigned: true}, 403, "AccessDenied"},
		{"wrong region", rawReq{method: "GET", path: "/raw", region: "eu-central-1"}, 400, "AuthorizationHeaderMalformed"},
		{"unknown access key", rawReq{method: "GET", path: "/raw", mutate: func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), accessKey, "AKIAUNKNOWN", 1))
		}}, 403, "InvalidAccessKeyId"},
		{"bucket of another user", rawReq{method: "PUT", path: "/raw", ak: otherKey, sk: otherSec}, 409, "BucketAlreadyExists"},
		{"own bucket again", rawReq{method: "PUT", path: "/raw"}, 409, "BucketAlreadyOwnedByYou"},
		{"own bucket, other key", rawReq{method: "PUT", path: "/raw", ak: secondKey, sk: otherSec}, 409, "BucketAlreadyOwnedByYou"},
		{"other service", rawReq{method: "GET", path: "/raw", service: "sqs"}, 501, "NotImplemented"},
	}
	for _, tc := range cases {
		r := e.do(t, tc.req)
		if r.status != tc.status || r.code != tc.code {
			t.Errorf("%s: %d %q, want %d %q (%s)", tc.name, r.status, r.code, tc.status, tc.code, r.body)
		}
		if tc.req.method == "HEAD" && len(r.body) != 0 {
			t.Errorf("%s: HEAD error with a body", tc.name)
		}
	}
	if keys := e.mem.Keys("raw"); len(keys) != 0 {
		t.Fatalf("failed requests stored %q", keys)
	}
	if r := e.do(t, rawReq{method: "PUT", path: "/raw/k1", body: data, headers: map[string]string{"Content-Md5": md5b64(data)}}); r.status != 200 {
		t.Fatalf("good put: %d %s", r.status, r.body)
	}
}

// TestRawTruncatedBody sends fewer bytes than Content-Length and closes:
// IncompleteBody, and nothing is stored.
func TestRawTruncatedBody(t *testing.T) {
	e := newEnv(t, envOpts{})
	if r := e.do(t, rawReq{method: "PUT", path: "/trunc"}); r.status != 200 {
		t.Fatalf("create bucket: %d", r.status)
	}
	for _, payload := range []string{"UNSIGNED-PAYLOAD", sha256Hex(make([]byte, 100))} {
		req, _ := http.NewRequest("PUT", e.url+"/trunc/obj", bytes.NewReader(make([]byte, 100)))
		req.Header.Set("X-Amz-Content-Sha256", payload)
		req = signer.SignV4(*req, accessKey, secretKey, "", "us-east-1")
		conn, err := net.Dial("tcp", strings.TrimPrefix(e.url, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(conn, "PUT /trunc/obj HTTP/1.1\r\nHost: %s\r\nContent-Length: 100\r\n", req.Host)
		for k, vs := range req.Header {
			fmt.Fprintf(conn, "%s: %s\r\n", k, vs[0])
		}
		io.WriteString(conn, "\r\n")
		conn.Write(make([]byte, 50))
		conn.(*net.TCPConn).CloseWrite()
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		conn.Close()
		if resp.StatusCode != 400 || !bytes.Contains(b, []byte("<Code>IncompleteBody</Code>")) {
			t.Errorf("%s: %d %s", payload, resp.StatusCode, b)
		}
	}
	if keys := e.mem.Keys("trunc"); len(keys) != 0 {
		t.Fatalf("truncated PUT stored %q", keys)
	}
}

func TestHealthAndMetrics(t *testing.T) {
	var sick error
	e := newEnv(t, envOpts{health: func(context.Context) error { return sick }})
	get := func() int {
		resp, err := e.client.Get(e.url + "/_wolke/health")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if s := get(); s != 200 {
		t.Fatalf("healthy: %d", s)
	}
	sick = errors.New("meta unreachable")
	if s := get(); s != 503 {
		t.Fatalf("sick: %d", s)
	}
	e.do(t, rawReq{method: "PUT", path: "/met"})
	e.do(t, rawReq{method: "PUT", path: "/met/obj", body: []byte("12345")})
	e.do(t, rawReq{method: "GET", path: "/met/obj"})
	e.do(t, rawReq{method: "GET", path: "/met/none"})
	mfs, err := e.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	find := func(name string, labels map[string]string) float64 {
		for _, mf := range mfs {
			if mf.GetName() != name {
				continue
			}
			for _, m := range mf.GetMetric() {
				if matches(m, labels) {
					if m.Counter != nil {
						return m.Counter.GetValue()
					}
					return float64(m.Histogram.GetSampleCount())
				}
			}
		}
		return -1
	}
	checks := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"wolke_gateway_requests_total", map[string]string{"operation": "PutObject", "status": "200"}, 1},
		{"wolke_gateway_requests_total", map[string]string{"operation": "GetObject", "status": "404"}, 1},
		{"wolke_gateway_requests_total", map[string]string{"operation": "Health", "status": "503"}, 1},
		{"wolke_gateway_received_bytes_total", map[string]string{"operation": "PutObject"}, 5},
		{"wolke_gateway_sent_bytes_total", map[string]string{"operation": "GetObject"}, -2},
		{"wolke_gateway_request_duration_seconds", map[string]string{"operation": "GetObject"}, 2},
	}
	for _, c := range checks {
		got := find(c.name, c.labels)
		if c.want == -2 && got < 5 || c.want != -2 && got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
}

func matches(m *dto.Metric, labels map[string]string) bool {
	n := 0
	for _, lp := range m.GetLabel() {
		if v, ok := labels[lp.GetName()]; ok {
			if v != lp.GetValue() {
				return false
			}
			n++
		}
	}
	return n == len(labels)
}

// brokenReads fails every object read after a few bytes, like a store that
// loses its shards mid-stream.
type brokenReads struct{ *gatewaytest.Memory }

func (b brokenReads) OpenObject(ctx context.Context, obj *metapb.Object, off, n int64) (io.ReadCloser, error) {
	rc, err := b.Memory.OpenObject(ctx, obj, off, n)
	if err != nil {
		return nil, err
	}
	return io.NopCloser(io.MultiReader(io.LimitReader(rc, 3), iotest.ErrReader(errs.E("test.read", errs.Unavailable)))), nil
}

func (b brokenReads) OpenObjectWith(ctx context.Context, obj *metapb.Object, off, n int64, _ core.ReadOptions) (io.ReadCloser, error) {
	return b.OpenObject(ctx, obj, off, n)
}

func TestRawReadFailsMidStream(t *testing.T) {
	e := newEnv(t, envOpts{wrap: func(m *gatewaytest.Memory) gateway.Objects { return brokenReads{m} }})
	e.do(t, rawReq{method: "PUT", path: "/brk"})
	if r := e.do(t, rawReq{method: "PUT", path: "/brk/k", body: []byte("0123456789")}); r.status != 200 {
		t.Fatalf("put: %d", r.status)
	}
	req, _ := http.NewRequest("GET", e.url+"/brk/k", nil)
	req.Header.Set("X-Amz-Content-Sha256", sha256Hex(nil))
	req = signer.SignV4(*req, accessKey, secretKey, "", "us-east-1")
	resp, err := e.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err == nil || resp.StatusCode != 200 || string(b) != "012" {
		t.Fatalf("a failed read must cut the body short: status %d, %q, %v", resp.StatusCode, b, err)
	}
}
