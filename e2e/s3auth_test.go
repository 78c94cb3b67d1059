package e2e

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestS3Auth drives the auth and bucket-configuration side of S3 with real
// clients: s3cmd signing with Signature V2, `aws s3 presign` of aws-cli v1
// (a V2 query signature) fetched with plain HTTP, a second user who sees
// none of root's buckets, and CORS and a bucket policy set with
// `aws s3api`, then enforced for anonymous and cross-user requests.
func TestS3Auth(t *testing.T) {
	wolkeBin(t)
	s3cmd := needS3cmd(t)
	clis := awsCLIs(t)
	v2 := clis[len(clis)-1]
	c := NewCluster(t)
	c.Args = []string{"--user", "bob:BOBKEY0000000000:bobsecret0000"}
	c.Start()
	const timeout = time.Minute
	work := t.TempDir()
	data := bytes.Repeat([]byte("wolke auth "), 3000)
	src := filepath.Join(work, "obj.bin")
	if err := os.WriteFile(src, data, 0o644); err != nil {
		t.Fatal(err)
	}
	creds := filepath.Join(c.home, "aws-credentials")
	if err := os.WriteFile(creds, []byte("[bob]\naws_access_key_id = BOBKEY0000000000\naws_secret_access_key = bobsecret0000\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	get := func(t *testing.T, url string, hdr map[string]string, method string) (int, []byte, http.Header) {
		t.Helper()
		req, _ := http.NewRequest(method, url, nil)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b, resp.Header
	}

	t.Run("s3cmd signature v2", func(t *testing.T) {
		c.S3cmd(t, s3cmd, timeout, work, "--signature-v2", "mb", "s3://auth-v2")
		c.S3cmd(t, s3cmd, timeout, work, "--signature-v2", "put", src, "s3://auth-v2/dir/a+b c.bin")
		if out := c.S3cmd(t, s3cmd, timeout, work, "--signature-v2", "ls", "s3://auth-v2/dir/"); !strings.Contains(out, "a+b c.bin") {
			t.Fatalf("ls: %s", out)
		}
		dst := filepath.Join(t.TempDir(), "back.bin")
		c.S3cmd(t, s3cmd, timeout, work, "--signature-v2", "get", "s3://auth-v2/dir/a+b c.bin", dst)
		if b, _ := os.ReadFile(dst); !bytes.Equal(b, data) {
			t.Fatalf("s3cmd get: %d bytes differ", len(b))
		}
		if out := c.S3cmd(t, s3cmd, timeout, work, "--signature-v2", "info", "s3://auth-v2"); !strings.Contains(out, "FULL_CONTROL") {
			t.Fatalf("info: %s", out)
		}
		// A wrong secret is refused.
		out, err := c.RunErr(t, timeout, work, s3cmd, "-c", c.S3cmdConfig(t), "--signature-v2", "--secret_key=wrong", "ls", "s3://auth-v2")
		if err == nil || !strings.Contains(out, "SignatureDoesNotMatch") {
			t.Fatalf("wrong secret: %v %s", err, out)
		}
	})

	t.Run("presign", func(t *testing.T) {
		for _, cli := range clis {
			url := strings.TrimSpace(c.AWS(t, cli, timeout, work, "s3", "presign", "s3://auth-v2/dir/a+b c.bin", "--expires-in", "300"))
			if cli.name == "v1" && !strings.Contains(url, "AWSAccessKeyId=") {
				t.Errorf("aws-cli v1 presigned without Signature V2: %s", url)
			}
			status, b, _ := get(t, url, nil, "GET")
			if status != 200 || !bytes.Equal(b, data) {
				t.Fatalf("%s presigned GET: %d, %d bytes", cli.name, status, len(b))
			}
			if status, _, _ := get(t, strings.Replace(url, "a%2Bb", "a%2Bx", 1), nil, "GET"); status != 403 {
				t.Fatalf("%s tampered presigned GET: %d", cli.name, status)
			}
		}
	})

	t.Run("boto3 presigned post", func(t *testing.T) {
		needBoto3(t)
		script := `
import sys, boto3, requests
from botocore.client import Config
s3 = boto3.client("s3", endpoint_url=sys.argv[1], config=Config(s3={"addressing_style": "path"}))
post = s3.generate_presigned_post("auth-v2", "forms/${filename}",
    Fields={"success_action_status": "201", "Content-Type": "text/plain"},
    Conditions=[{"success_action_status": "201"}, ["starts-with", "$Content-Type", "text/"], ["content-length-range", 1, 1000]],
    ExpiresIn=300)
r = requests.post(post["url"], data=post["fields"], files={"file": ("note.txt", b"hello from a form")})
print("status", r.status_code)
big = requests.post(post["url"], data=post["fields"], files={"file": ("big.txt", b"x" * 2000)})
print("big", big.status_code)
print(s3.get_object(Bucket="auth-v2", Key="forms/note.txt")["Body"].read().decode())
`
		out := c.Python(t, timeout, work, script, c.Endpoint())
		if !strings.Contains(out, "status 201") || !strings.Contains(out, "big 400") || !strings.Contains(out, "hello from a form") {
			t.Fatalf("presigned post:\n%s", out)
		}
	})

	t.Run("second user", func(t *testing.T) {
		c.AWS(t, v2, timeout, work, "--profile", "bob", "s3", "mb", "s3://bobs-bucket")
		out := c.AWS(t, v2, timeout, work, "--profile", "bob", "s3", "ls")
		if !strings.Contains(out, "bobs-bucket") || strings.Contains(out, "auth-v2") {
			t.Fatalf("bob lists:\n%s", out)
		}
		if out := c.AWS(t, v2, timeout, work, "s3", "ls"); strings.Contains(out, "bobs-bucket") || !strings.Contains(out, "auth-v2") {
			t.Fatalf("root lists:\n%s", out)
		}
		out, err := c.AWSErr(t, v2, timeout, work, "--profile", "bob", "s3", "ls", "s3://auth-v2")
		if err == nil || !strings.Contains(out, "AccessDenied") {
			t.Fatalf("bob lists root's bucket: %v %s", err, out)
		}
		out, err = c.AWSErr(t, v2, timeout, work, "--profile", "bob", "s3", "mb", "s3://auth-v2")
		if err == nil || !strings.Contains(out, "BucketAlreadyExists") {
			t.Fatalf("bob creates root's bucket: %v %s", err, out)
		}
	})

	t.Run("cors and policy", func(t *testing.T) {
		cors := `{"CORSRules":[{"AllowedOrigins":["https://app.example.com"],"AllowedMethods":["GET","PUT"],"AllowedHeaders":["*"],"MaxAgeSeconds":600}]}`
		c.AWS(t, v2, timeout, work, "s3api", "put-bucket-cors", "--bucket", "auth-v2", "--cors-configuration", cors)
		if out := c.AWS(t, v2, timeout, work, "s3api", "get-bucket-cors", "--bucket", "auth-v2"); !strings.Contains(out, "https://app.example.com") {
			t.Fatalf("get-bucket-cors: %s", out)
		}
		pol := `{"Version":"2012-10-17","Statement":[
		  {"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::auth-v2/pub/*"},
		  {"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:user/bob"},"Action":["s3:ListBucket","s3:GetObject"],
		   "Resource":["arn:aws:s3:::auth-v2","arn:aws:s3:::auth-v2/*"]}]}`
		c.AWS(t, v2, timeout, work, "s3api", "put-bucket-policy", "--bucket", "auth-v2", "--policy", pol)
		out, err := c.AWSErr(t, v2, timeout, work, "s3api", "put-bucket-policy", "--bucket", "auth-v2", "--policy", `{"Statement":[]}`)
		if err == nil || !strings.Contains(out, "MalformedPolicy") {
			t.Fatalf("malformed policy: %v %s", err, out)
		}
		c.AWS(t, v2, timeout, work, "s3", "cp", src, "s3://auth-v2/pub/page.bin")
		base := c.Endpoint() + "/auth-v2/"
		if status, b, _ := get(t, base+"pub/page.bin", nil, "GET"); status != 200 || !bytes.Equal(b, data) {
			t.Fatalf("anonymous GET of pub/: %d", status)
		}
		if status, _, _ := get(t, base+"dir/a+b%20c.bin", nil, "GET"); status != 403 {
			t.Fatalf("anonymous GET outside pub/: %d", status)
		}
		status, _, h := get(t, base+"pub/page.bin", map[string]string{"Origin": "https://app.example.com",
			"Access-Control-Request-Method": "PUT", "Access-Control-Request-Headers": "content-type"}, "OPTIONS")
		if status != 200 || h.Get("Access-Control-Allow-Origin") != "https://app.example.com" || h.Get("Access-Control-Max-Age") != "600" {
			t.Fatalf("preflight: %d %v", status, h)
		}
		if status, _, _ := get(t, base+"pub/page.bin", map[string]string{"Origin": "https://evil.example.org",
			"Access-Control-Request-Method": "GET"}, "OPTIONS"); status != 403 {
			t.Fatalf("preflight from another origin: %d", status)
		}
		dst := filepath.Join(t.TempDir(), "bob.bin")
		c.AWS(t, v2, timeout, work, "--profile", "bob", "s3", "cp", "s3://auth-v2/dir/a+b c.bin", dst)
		if b, _ := os.ReadFile(dst); !bytes.Equal(b, data) {
			t.Fatalf("bob's copy differs")
		}
		out, err = c.AWSErr(t, v2, timeout, work, "--profile", "bob", "s3", "cp", src, "s3://auth-v2/bob.bin")
		if err == nil || !strings.Contains(out, "AccessDenied") {
			t.Fatalf("bob writes into root's bucket: %v %s", err, out)
		}
		c.AWS(t, v2, timeout, work, "s3api", "delete-bucket-policy", "--bucket", "auth-v2")
		if status, _, _ := get(t, base+"pub/page.bin", nil, "GET"); status != 403 {
			t.Fatalf("anonymous GET after the policy is gone: %d", status)
		}
	})
}

// TestS3TLS runs `wolke dev --tls` and talks to it with aws-cli v2 trusting
// the printed CA with --ca-bundle, and refusing it without.
func TestS3TLS(t *testing.T) {
	wolkeBin(t)
	clis := awsCLIs(t)
	v2 := clis[len(clis)-1]
	c := NewCluster(t)
	c.TLS = true
	c.Start()
	const timeout = time.Minute
	work := t.TempDir()
	// The banner may follow the first healthy answer by a moment.
	says := func(out string) bool {
		return strings.Contains(out, "AWS_CA_BUNDLE="+c.CABundle()) && strings.Contains(out, "https://"+c.Addr())
	}
	out := c.LogTail(64 << 10)
	for deadline := time.Now().Add(10 * time.Second); !says(out) && time.Now().Before(deadline); out = c.LogTail(64 << 10) {
		time.Sleep(100 * time.Millisecond)
	}
	if !says(out) {
		t.Fatalf("wolke dev --tls does not say how to trust it:\n%s", out)
	}
	src := filepath.Join(work, "f.txt")
	if err := os.WriteFile(src, []byte("over TLS"), 0o644); err != nil {
		t.Fatal(err)
	}
	ca := "--ca-bundle=" + c.CABundle()
	c.AWS(t, v2, timeout, work, ca, "s3", "mb", "s3://tls-bucket")
	c.AWS(t, v2, timeout, work, ca, "s3", "cp", src, "s3://tls-bucket/f.txt")
	if out := c.AWS(t, v2, timeout, work, ca, "s3", "cp", "s3://tls-bucket/f.txt", "-"); out != "over TLS" {
		t.Fatalf("read back %q", out)
	}
	out, err := c.AWSErr(t, v2, timeout, work, "s3", "ls")
	if err == nil || !strings.Contains(strings.ToLower(out), "certificate") {
		t.Fatalf("an untrusted certificate was accepted: %v %s", err, out)
	}
}
