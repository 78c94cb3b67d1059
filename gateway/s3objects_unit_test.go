package gateway

import (
	"crypto/md5"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"

	"github.com/wolke-cloud/wolke/iam/sigv4"
)

func TestParseCopySource(t *testing.T) {
	cases := []struct {
		in               string
		bucket, key, vid string
		code             string
	}{
		{"b/k", "b", "k", "", ""},
		{"/b/dir/a%20b%2Bc%3Fd", "b", "dir/a b+c?d", "", ""},
		{"b/k?versionId=v1", "b", "k", "v1", ""},
		{"b/k?versionId=", "", "", "", sigv4.CodeInvalidArgument},
		{"b", "", "", "", sigv4.CodeInvalidArgument},
		{"/b/", "", "", "", sigv4.CodeInvalidArgument},
		{"b/%zz", "", "", "", sigv4.CodeInvalidArgument},
	}
	for _, c := range cases {
		src, err := parseCopySource(c.in)
		if sigv4.CodeOf(err) != c.code || src.bucket != c.bucket || src.key != c.key || src.versionID != c.vid {
			t.Errorf("parseCopySource(%q) = %+v, %v", c.in, src, err)
		}
	}
}

func TestSourceRange(t *testing.T) {
	cases := []struct {
		spec        string
		off, length int64
		code        string
	}{
		{"", 0, 100, ""},
		{"bytes=0-9", 0, 10, ""},
		{"bytes=90-99", 90, 10, ""},
		{"bytes=90-100", 0, 0, codeInvalidRange},
		{"bytes=5-4", 0, 0, sigv4.CodeInvalidArgument},
		{"bytes=-5", 0, 0, sigv4.CodeInvalidArgument},
		{"items=0-1", 0, 0, sigv4.CodeInvalidArgument},
	}
	for _, c := range cases {
		off, length, err := sourceRange(c.spec, 100)
		if sigv4.CodeOf(err) != c.code || off != c.off || length != c.length {
			t.Errorf("sourceRange(%q) = %d, %d, %v", c.spec, off, length, err)
		}
	}
}

func TestHeaderTags(t *testing.T) {
	cases := []struct {
		in   string
		n    int
		code string
	}{
		{"", 0, ""},
		{"a=1&b=two%20words", 2, ""},
		{"a=1&a=2", 0, codeInvalidTag},
		{"k=" + strings.Repeat("v", 257), 0, codeInvalidTag},
		{strings.Repeat("k", 129) + "=v", 0, codeInvalidTag},
		{"a=%3C", 0, codeInvalidTag},
		{"a=1&b=1&c=1&d=1&e=1&f=1&g=1&h=1&i=1&j=1&k=1", 0, codeInvalidTag},
	}
	for _, c := range cases {
		h := http.Header{}
		if c.in != "" {
			h.Set("X-Amz-Tagging", c.in)
		}
		tags, err := headerTags(h)
		if sigv4.CodeOf(err) != c.code || len(tags) != c.n {
			t.Errorf("headerTags(%q) = %v, %v", c.in, tags, err)
		}
	}
}

func TestWriteEncryption(t *testing.T) {
	key := make([]byte, 32)
	sum := md5.Sum(key)
	k64, m64 := base64.StdEncoding.EncodeToString(key), base64.StdEncoding.EncodeToString(sum[:])
	cases := []struct {
		name     string
		hdr      map[string]string
		customer bool
		none     bool
		code     string
	}{
		{"none", nil, false, true, ""},
		{"sse-s3", map[string]string{"X-Amz-Server-Side-Encryption": "AES256"}, false, false, ""},
		{"kms", map[string]string{"X-Amz-Server-Side-Encryption": "aws:kms"}, false, false, codeNotImplemented},
		{"bad", map[string]string{"X-Amz-Server-Side-Encryption": "ROT13"}, false, false, sigv4.CodeInvalidArgument},
		{"sse-c", map[string]string{ssecPrefix + "Algorithm": "AES256", ssecPrefix + "Key": k64, ssecPrefix + "Key-Md5": m64}, true, false, ""},
		{"sse-c bad md5", map[string]string{ssecPrefix + "Algorithm": "AES256", ssecPrefix + "Key": k64, ssecPrefix + "Key-Md5": k64}, false, false, sigv4.CodeInvalidArgument},
		{"sse-c short key", map[string]string{ssecPrefix + "Algorithm": "AES256", ssecPrefix + "Key": "c2hvcnQ="}, false, false, sigv4.CodeInvalidArgument},
		{"sse-c no algorithm", map[string]string{ssecPrefix + "Key": k64}, false, false, sigv4.CodeInvalidArgument},
		{"both", map[string]string{"X-Amz-Server-Side-Encryption": "AES256", ssecPrefix + "Algorithm": "AES256", ssecPrefix + "Key": k64}, false, false, sigv4.CodeInvalidArgument},
	}
	for _, c := range cases {
		h := http.Header{}
		for k, v := range c.hdr {
			h.Set(k, v)
		}
		enc, err := writeEncryption(h)
		if sigv4.CodeOf(err) != c.code {
			t.Errorf("%s: %v, want code %q", c.name, err, c.code)
			continue
		}
		if err == nil && ((enc == nil) != c.none || enc != nil && (enc.CustomerKey != nil) != c.customer) {
			t.Errorf("%s: encryption %+v", c.name, enc)
		}
	}
}
