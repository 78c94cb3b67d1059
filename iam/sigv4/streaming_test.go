package sigv4

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7/pkg/signer"
)

const (
	testAK     = "AKIATEST"
	testSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
)

// sha256Hasher adapts crypto/sha256 to the hasher minio's signer takes.
type sha256Hasher struct{ hash.Hash }

func (sha256Hasher) Close() {}

// echoServer verifies each request and answers the decoded body, or the
// error code with status 400.
func echoServer(t *testing.T) *httptest.Server {
	v := &Verifier{Creds: mapStore{testAK: testSecret}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		res, err := v.Verify(r.Context(), r)
		if err == nil {
			var body io.Reader
			var size int64
			body, size, err = res.Body(r)
			if err == nil {
				var b []byte
				b, err = io.ReadAll(io.LimitReader(body, size))
				if err == nil && int64(len(b)) == size {
					w.Header().Set("X-Size", fmt.Sprint(size))
					w.Write(b)
					return
				}
			}
		}
		w.WriteHeader(400)
		io.WriteString(w, CodeOf(err))
	}))
	t.Cleanup(srv.Close)
	return srv
}

func do(t *testing.T, req *http.Request) (int, string) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func crc32Trailer(data []byte) string {
	h, _ := NewChecksum("crc32c")
	h.Write(data)
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

func TestStreamingSigned(t *testing.T) {
	srv := echoServer(t)
	data := bytes.Repeat([]byte("0123456789abcdef"), 70000/16) // several 64 KiB chunks
	cases := []struct {
		name    string
		size    int
		trailer string // crc32c trailer value; "" for none
		tamper  func(b []byte) []byte
		code    string
	}{
		{"plain", len(data), "", nil, ""},
		{"empty", 0, "", nil, ""},
		{"trailer", len(data), "good", nil, ""},
		{"bad trailer checksum", len(data), "AAAAAA==", nil, CodeBadDigest},
		{"flipped data byte", len(data), "", func(b []byte) []byte {
			i := bytes.Index(b, []byte("\r\n")) + 2 + 100
			b[i] ^= 1
			return b
		}, CodeSignatureDoesNotMatch},
		{"flipped byte in last chunk", len(data), "good", func(b []byte) []byte {
			i := bytes.LastIndex(b, []byte("0123"))
			b[i] ^= 1
			return b
		}, CodeSignatureDoesNotMatch},
		{"truncated", len(data), "", func(b []byte) []byte { return b[:len(b)-200] }, CodeIncompleteBody},
		{"bad chunk size", len(data), "", func(b []byte) []byte { b[0] = 'x'; return b }, CodeInvalidRequest},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			payload := data[:c.size]
			req, _ := http.NewRequest("PUT", srv.URL+"/bucket/key", bytes.NewReader(payload))
			if c.trailer != "" {
				v := c.trailer
				if v == "good" {
					v = crc32Trailer(payload)
				}
				req.Trailer = http.Header{"x-amz-checksum-crc32c": {v}}
			}
			req = signer.StreamingSignV4(req, testAK, testSecret, "", "us-east-1", int64(c.size), time.Now().UTC(), sha256Hasher{sha256.New()})
			if c.tamper != nil {
				b, err := io.ReadAll(req.Body)
				if err != nil {
					t.Fatal(err)
				}
				b = c.tamper(b)
				req.Body = io.NopCloser(bytes.NewReader(b))
				req.ContentLength = int64(len(b))
			}
			status, body := do(t, req)
			if c.code == "" {
				if status != 200 || body != string(payload) {
					t.Fatalf("status %d, body %q…", status, body[:min(len(body), 40)])
				}
				return
			}
			if status != 400 || body != c.code {
				t.Fatalf("status %d, code %q, want %q", status, body, c.code)
			}
		})
	}
}

func TestPresignedAndPayloadHash(t *testing.T) {
	srv := echoServer(t)
	body := []byte("hello, wolke")
	sum := sha256.Sum256(body)
	cases := []struct {
		name  string
		build func() *http.Request
		code  string
	}{
		{"presigned get", func() *http.Request {
			req, _ := http.NewRequest("GET", srv.URL+"/bucket/a%2Bb/c?x=1", nil)
			return signer.PreSignV4(*req, testAK, testSecret, "", "us-east-1", 60)
		}, ""},
		{"presigned tampered path", func() *http.Request {
			req, _ := http.NewRequest("GET", srv.URL+"/bucket/k", nil)
			req = signer.PreSignV4(*req, testAK, testSecret, "", "us-east-1", 60)
			req.URL.Path = "/bucket/other"
			return req
		}, CodeSignatureDoesNotMatch},
		{"signed sha256", func() *http.Request {
			req, _ := http.NewRequest("PUT", srv.URL+"/bucket/k", bytes.NewReader(body))
			req.Header.Set("X-Amz-Content-Sha256", hex.EncodeToString(sum[:]))
			return signer.SignV4(*req, testAK, testSecret, "", "us-east-1")
		}, ""},
		{"sha256 mismatch", func() *http.Request {
			req, _ := http.NewRequest("PUT", srv.URL+"/bucket/k", bytes.NewReader(body))
			req.Header.Set("X-Amz-Content-Sha256", strings.Repeat("ab", 32))
			return signer.SignV4(*req, testAK, testSecret, "", "us-east-1")
		}, CodeContentSHA256Mismatch},
		{"unsigned payload with crc32 header", func() *http.Request {
			req, _ := http.NewRequest("PUT", srv.URL+"/bucket/k", bytes.NewReader(body))
			req.Header.Set("X-Amz-Content-Sha256", UnsignedPayload)
			h, _ := NewChecksum("crc32")
			h.Write(body)
			req.Header.Set("X-Amz-Checksum-Crc32", base64.StdEncoding.EncodeToString(h.Sum(nil)))
			return signer.SignV4(*req, testAK, testSecret, "", "us-east-1")
		}, ""},
		{"crc32 header mismatch", func() *http.Request {
			req, _ := http.NewRequest("PUT", srv.URL+"/bucket/k", bytes.NewReader(body))
			req.Header.Set("X-Amz-Content-Sha256", UnsignedPayload)
			req.Header.Set("X-Amz-Checksum-Crc32", "AAAAAA==")
			return signer.SignV4(*req, testAK, testSecret, "", "us-east-1")
		}, CodeBadDigest},
		{"missing content sha256", func() *http.Request {
			req, _ := http.NewRequest("PUT", srv.URL+"/bucket/k", bytes.NewReader(body))
			req = signer.SignV4(*req, testAK, testSecret, "", "us-east-1")
			req.Header.Del("X-Amz-Content-Sha256")
			return req
		}, CodeMissingSecurityHeader},
	}
	for _, c := range cases {
		status, got := do(t, c.build())
		if c.code == "" && status != 200 || c.code != "" && (status != 400 || got != c.code) {
			t.Errorf("%s: status %d, body %q, want code %q", c.name, status, got, c.code)
		}
	}
}

// shortReader serves its data and then fails like a dropped connection.
type shortReader struct{ r io.Reader }

func (s shortReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err == io.EOF {
		return n, io.ErrUnexpectedEOF
	}
	return n, err
}

func TestBodyWithholdsLastBytes(t *testing.T) {
	data := []byte("0123456789")
	sum := sha256.Sum256(data)
	good := hex.EncodeToString(sum[:])
	cases := []struct {
		name string
		hash string
		body io.Reader
		size int64
		code string
	}{
		{"ok", good, bytes.NewReader(data), 10, ""},
		{"bad hash", strings.Repeat("0", 64), bytes.NewReader(data), 10, CodeContentSHA256Mismatch},
		{"short", good, shortReader{bytes.NewReader(data[:5])}, 10, CodeIncompleteBody},
		{"unknown size ok", good, bytes.NewReader(data), -1, ""},
		{"unknown size bad", strings.Repeat("0", 64), bytes.NewReader(data), -1, CodeContentSHA256Mismatch},
	}
	for _, c := range cases {
		r, _ := http.NewRequestWithContext(context.Background(), "PUT", "http://h/b/k", io.NopCloser(c.body))
		r.ContentLength = c.size
		res := &Result{PayloadHash: c.hash}
		body, size, err := res.Body(r)
		if err != nil || size != c.size {
			t.Fatalf("%s: Body: %d %v", c.name, size, err)
		}
		// io.ReadFull stops at the declared size: the error must come
		// with the last bytes, not after them. With an unknown size the
		// reader can only tell at EOF.
		buf := make([]byte, 10)
		n, err := io.ReadFull(body, buf)
		if c.size < 0 {
			buf, err = io.ReadAll(io.MultiReader(bytes.NewReader(buf[:n]), body))
			n = len(buf)
			if c.code != "" && err != nil {
				n = 0
			}
		}
		if c.code == "" {
			if err != nil || n != 10 {
				t.Errorf("%s: %d %v", c.name, n, err)
			}
			continue
		}
		if CodeOf(err) != c.code || n == 10 {
			t.Errorf("%s: n=%d err=%v, want %s before the last byte", c.name, n, err, c.code)
		}
	}
}

func TestChecksums(t *testing.T) {
	cases := map[string]string{
		"crc32":     "cbf43926",
		"crc32c":    "e3069283",
		"crc64nvme": "ae8b14860a799888",
		"sha1":      "f7c3bc1d808e04732adf679965ccc34ca7ae3441",
	}
	for alg, want := range cases {
		h, ok := NewChecksum(alg)
		if !ok {
			t.Fatalf("%s unknown", alg)
		}
		h.Write([]byte("123456789"))
		if got := hex.EncodeToString(h.Sum(nil)); got != want {
			t.Errorf("%s = %s, want %s", alg, got, want)
		}
	}
	for _, alg := range ChecksumAlgorithms() {
		if _, ok := NewChecksum(alg); !ok {
			t.Errorf("listed algorithm %s unknown", alg)
		}
	}
	if _, ok := NewChecksum("md5"); ok {
		t.Error("md5 accepted")
	}
}
