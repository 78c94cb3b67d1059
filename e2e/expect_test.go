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

// TestExpectContinue checks that a PUT with "Expect: 100-continue" gets
// "100 Continue" before its final answer, with a body and without one. S3
// always sends it, and botocore depends on that: when a final status answers
// such a request directly (as net/http does for an empty body), botocore
// keeps a stale status on the connection and its next PUT on it hangs until
// the read timeout (60 s).
func TestExpectContinue(t *testing.T) {
	wolkeBin(t) // skip or fail before anything else
	c := StartCluster(t)
	const bucket = "expect"
	if _, err := c.S3(1).CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatalf("CreateBucket: %v", err)
	}
	for _, tc := range []struct {
		name string
		body []byte
	}{
		{"EmptyBody", nil},
		{"WithBody", randomBytes(1000, 9)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key := "/" + bucket + "/" + strings.ToLower(tc.name)
			req, err := http.NewRequest(http.MethodPut, c.Endpoint()+key, http.NoBody)
			if err != nil {
				t.Fatal(err)
			}
			req.ContentLength = int64(len(tc.body))
			signRequest(t, req, c.AccessKey, c.SecretKey, sha256Hex(tc.body))

			conn, err := net.DialTimeout("tcp", c.Addr(), 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(30 * time.Second))
			var head bytes.Buffer
			fmt.Fprintf(&head, "PUT %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\nExpect: 100-continue\r\n",
				req.URL.RequestURI(), c.Addr(), len(tc.body))
			for _, k := range []string{"Authorization", "X-Amz-Date", "X-Amz-Content-Sha256"} {
				fmt.Fprintf(&head, "%s: %s\r\n", k, req.Header.Get(k))
			}
			head.WriteString("\r\n")
			if _, err := conn.Write(head.Bytes()); err != nil {
				t.Fatal(err)
			}
			br := bufio.NewReader(conn)
			status, err := br.ReadString('\n')
			if err != nil {
				t.Fatalf("no answer to the request headers: %v", err)
			}
			if !strings.HasPrefix(status, "HTTP/1.1 100 ") {
				t.Fatalf("first answer %q, want HTTP/1.1 100 Continue before the final status", strings.TrimSpace(status))
			}
			for {
				line, err := br.ReadString('\n')
				if err != nil {
					t.Fatalf("reading the 100 Continue headers: %v", err)
				}
				if line == "\r\n" {
					break
				}
			}
			if _, err := conn.Write(tc.body); err != nil {
				t.Fatal(err)
			}
			resp, err := http.ReadResponse(br, req)
			if err != nil {
				t.Fatalf("no final answer after the body: %v", err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("final status %d, want 200\n%s", resp.StatusCode, clip(string(body), 2048))
			}
		})
	}
}
