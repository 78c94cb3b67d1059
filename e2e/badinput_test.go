package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// TestBadInput sends malformed requests as raw HTTP and checks the S3
// error each one gets.
func TestBadInput(t *testing.T) {
	wolkeBin(t) // skip or fail before anything else
	c := StartCluster(t)
	const bucket = "bad-input"
	if _, err := c.S3(1).CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatalf("CreateBucket: %v", err)
	}
	listPath := "/" + bucket + "?list-type=2"

	t.Run("Control", func(t *testing.T) {
		// The same requests, signed properly, succeed: the failures below
		// come from what was broken, not from the signing.
		status, _, body := do(t, c.newSignedRequest(t, http.MethodGet, listPath, nil))
		if status != http.StatusOK {
			t.Fatalf("signed ListObjectsV2: status %d\n%s", status, clip(string(body), 2048))
		}
	})

	t.Run("TamperedSignature", func(t *testing.T) {
		req := c.newSignedRequest(t, http.MethodGet, listPath, nil)
		auth := req.Header.Get("Authorization")
		i := strings.LastIndex(auth, "Signature=")
		if i < 0 || len(auth) < i+len("Signature=")+64 {
			t.Fatalf("unexpected Authorization %q", auth)
		}
		last := auth[len(auth)-1]
		flip := byte('0')
		if last == '0' {
			flip = '1'
		}
		req.Header.Set("Authorization", auth[:len(auth)-1]+string(flip))
		status, hdr, body := do(t, req)
		expectS3Error(t, "tampered signature", status, hdr, body, http.StatusForbidden, "SignatureDoesNotMatch")
	})

	t.Run("WrongSecret", func(t *testing.T) {
		req, err := http.NewRequest(http.MethodGet, c.Endpoint()+listPath, http.NoBody)
		if err != nil {
			t.Fatal(err)
		}
		signRequest(t, req, c.AccessKey, c.SecretKey+"x", sha256Hex(nil))
		status, hdr, body := do(t, req)
		expectS3Error(t, "wrong secret key", status, hdr, body, http.StatusForbidden, "SignatureDoesNotMatch")
	})

	t.Run("UnknownAccessKey", func(t *testing.T) {
		req, err := http.NewRequest(http.MethodGet, c.Endpoint()+listPath, http.NoBody)
		if err != nil {
			t.Fatal(err)
		}
		signRequest(t, req, "AKIANOSUCHKEY0000000", c.SecretKey, sha256Hex(nil))
		status, hdr, body := do(t, req)
		expectS3Error(t, "unknown access key", status, hdr, body, http.StatusForbidden, "InvalidAccessKeyId")
	})

	t.Run("NoSuchBucket", func(t *testing.T) {
		status, hdr, body := do(t, c.newSignedRequest(t, http.MethodGet, "/no-such-bucket-e2e?list-type=2", nil))
		expectS3Error(t, "list unknown bucket", status, hdr, body, http.StatusNotFound, "NoSuchBucket")
		status, hdr, body = do(t, c.newSignedRequest(t, http.MethodGet, "/no-such-bucket-e2e/some/key", nil))
		expectS3Error(t, "get from unknown bucket", status, hdr, body, http.StatusNotFound, "NoSuchBucket")
		status, hdr, body = do(t, c.newSignedRequest(t, http.MethodPut, "/no-such-bucket-e2e/some/key", []byte("data")))
		expectS3Error(t, "put into unknown bucket", status, hdr, body, http.StatusNotFound, "NoSuchBucket")
		status, _, _ = do(t, c.newSignedRequest(t, http.MethodHead, "/no-such-bucket-e2e", nil))
		if status != http.StatusNotFound {
			t.Errorf("HEAD unknown bucket: status %d, want 404", status)
		}
	})

	t.Run("KeyTooLong", func(t *testing.T) {
		longest := strings.Repeat("k", 1024)
		status, _, body := do(t, c.newSignedRequest(t, http.MethodPut, "/"+bucket+"/"+longest, []byte("fits")))
		if status != http.StatusOK {
			t.Errorf("PUT with a 1024-byte key: status %d, want 200\n%s", status, clip(string(body), 2048))
		}
		status, hdr, body := do(t, c.newSignedRequest(t, http.MethodPut, "/"+bucket+"/"+longest+"k", []byte("too long")))
		expectS3Error(t, "PUT with a 1025-byte key", status, hdr, body, http.StatusBadRequest, "KeyTooLongError")
	})

	t.Run("IncompleteBody", func(t *testing.T) {
		full := randomBytes(256<<10, 5)
		for _, tc := range []struct {
			name, hash string
		}{
			{"SignedPayload", sha256Hex(full)},
			{"UnsignedPayload", "UNSIGNED-PAYLOAD"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				key := "truncated-" + strings.ToLower(tc.name)
				status, hdr, body := truncatedPut(t, c, "/"+bucket+"/"+key, full, len(full)/2, tc.hash)
				expectS3Error(t, "truncated PUT body", status, hdr, body, http.StatusBadRequest, "IncompleteBody")
				status, hdr, body = do(t, c.newSignedRequest(t, http.MethodGet, "/"+bucket+"/"+key, nil))
				expectS3Error(t, "GET after a truncated PUT", status, hdr, body, http.StatusNotFound, "NoSuchKey")
			})
		}
	})
}

// truncatedPut sends a signed PUT whose Content-Length announces all of
// full but only the first sent bytes follow; then it closes its side of
// the connection and reads the answer.
func truncatedPut(t *testing.T, c *Cluster, path string, full []byte, sent int, payloadHash string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPut, c.Endpoint()+path, http.NoBody)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = int64(len(full))
	signRequest(t, req, c.AccessKey, c.SecretKey, payloadHash)

	conn, err := net.DialTimeout("tcp", c.Addr(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	var head bytes.Buffer
	fmt.Fprintf(&head, "PUT %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n", req.URL.RequestURI(), c.Addr(), len(full))
	for _, k := range []string{"Authorization", "X-Amz-Date", "X-Amz-Content-Sha256"} {
		fmt.Fprintf(&head, "%s: %s\r\n", k, req.Header.Get(k))
	}
	head.WriteString("\r\n")
	if _, err := conn.Write(head.Bytes()); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Write(full[:sent]); err != nil {
		t.Fatal(err)
	}
	if err := conn.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), req)
	if err != nil {
		t.Fatalf("no HTTP answer to a truncated body (want 400 IncompleteBody): %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, body
}
