package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

const region = "us-east-1"

// S3 returns an aws-sdk-go-v2 client for the cluster (path style, no
// shared config). retries is the SDK's RetryMaxAttempts (0: SDK default).
func (c *Cluster) S3(retries int) *s3.Client {
	return s3.New(s3.Options{
		Region:           region,
		BaseEndpoint:     aws.String(c.Endpoint()),
		UsePathStyle:     true,
		Credentials:      credentials.NewStaticCredentialsProvider(c.AccessKey, c.SecretKey, ""),
		RetryMaxAttempts: retries,
		HTTPClient:       &http.Client{Timeout: 2 * time.Minute},
	})
}

// signer signs raw requests as S3 clients do (no double path escaping).
func signer() *v4.Signer {
	return v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
}

// signRequest signs req with SigV4 for s3 in us-east-1. payloadHash is the
// hex sha256 of the body or "UNSIGNED-PAYLOAD".
func signRequest(t *testing.T, req *http.Request, accessKey, secretKey, payloadHash string) {
	t.Helper()
	req.Header.Set("X-Amz-Content-Sha256", payloadHash)
	creds := aws.Credentials{AccessKeyID: accessKey, SecretAccessKey: secretKey}
	if err := signer().SignHTTP(context.Background(), creds, req, payloadHash, "s3", region, time.Now()); err != nil {
		t.Fatalf("sign: %v", err)
	}
}

// newSignedRequest builds a signed request to the cluster with a body.
func (c *Cluster) newSignedRequest(t *testing.T, method, path string, body []byte) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, c.Endpoint()+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = int64(len(body))
	if body == nil {
		req.Body = http.NoBody
	}
	sum := sha256.Sum256(body)
	signRequest(t, req, c.AccessKey, c.SecretKey, hex.EncodeToString(sum[:]))
	return req
}

// s3Error is the body of an S3 error response.
type s3Error struct {
	XMLName   xml.Name `xml:"Error"`
	Code      string   `xml:"Code"`
	Message   string   `xml:"Message"`
	Resource  string   `xml:"Resource"`
	RequestID string   `xml:"RequestId"`
}

// do sends req and returns status, headers and body.
func do(t *testing.T, req *http.Request) (int, http.Header, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", req.Method, req.URL.Path, err)
	}
	return resp.StatusCode, resp.Header, body
}

// expectS3Error checks an S3 error response: status, XML body and code.
// HEAD responses have no body; then only the status is checked.
func expectS3Error(t *testing.T, what string, status int, hdr http.Header, body []byte, wantStatus int, wantCode string) {
	t.Helper()
	if status != wantStatus {
		t.Errorf("%s: status %d, want %d (%s); body:\n%s", what, status, wantStatus, wantCode, clip(string(body), 2048))
		return
	}
	if len(body) == 0 {
		t.Errorf("%s: empty body, want an XML error %s", what, wantCode)
		return
	}
	if ct := hdr.Get("Content-Type"); !strings.Contains(ct, "xml") {
		t.Errorf("%s: Content-Type %q, want XML", what, ct)
	}
	var e s3Error
	if err := xml.Unmarshal(body, &e); err != nil {
		t.Errorf("%s: body is not an S3 error document: %v\n%s", what, err, clip(string(body), 2048))
		return
	}
	if e.Code != wantCode {
		t.Errorf("%s: Code %q (%s), want %q", what, e.Code, e.Message, wantCode)
		return
	}
	t.Logf("%s: %d %s (%s)", what, status, e.Code, e.Message)
}
