package cluster

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awscreds "github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

func TestSelfSignedCertificate(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	hosts := tlsHosts("s3.test")
	cert, key, err := selfSigned(dir, hosts, now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tls.LoadX509KeyPair(cert, key); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(cert)
	tests := []struct {
		name  string
		hosts []string
		now   time.Time
		same  bool
	}{
		{"kept", hosts, now, true},
		{"new host", tlsHosts("other.test"), now, false},
		{"expiring", hosts, now.AddDate(1, 0, 0), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, err := selfSigned(dir, tc.hosts, tc.now); err != nil {
				t.Fatal(err)
			}
			after, _ := os.ReadFile(cert)
			if (string(after) == string(before)) != tc.same {
				t.Fatalf("certificate kept: %v, want %v", string(after) == string(before), tc.same)
			}
			before = after
		})
	}
	// The server certificate chains to the CA for every host.
	pool := x509.NewCertPool()
	caPEM, _ := os.ReadFile(filepath.Join(dir, "ca.pem"))
	if !pool.AppendCertsFromPEM(caPEM) {
		t.Fatal("no CA")
	}
	pair, err := tls.LoadX509KeyPair(cert, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(pair.Certificate[0])
	for _, h := range []string{"localhost", "127.0.0.1", "bk.localhost", "::1"} {
		if _, err := leaf.Verify(x509.VerifyOptions{DNSName: h, Roots: pool, CurrentTime: now.AddDate(1, 0, 1)}); err != nil {
			t.Errorf("%s: %v", h, err)
		}
	}
}

// HTTPS with the self-signed certificate, virtual-hosted-style requests and
// two users, through the whole stack.
func TestTLSDomainUsers(t *testing.T) {
	c := Start(t, Options{
		Domain: "s3.localtest", TLSSelfSigned: true,
		Users: []User{{Name: "bob", Credentials: Credentials{AccessKey: "BOBKEY", SecretKey: "bobsecret"}}},
	})
	ep := c.S3Endpoint()
	if !strings.HasPrefix(ep, "https://") || c.CABundle() == "" {
		t.Fatalf("endpoint %s, CA %q", ep, c.CABundle())
	}
	pool := x509.NewCertPool()
	caPEM, err := os.ReadFile(c.CABundle())
	if err != nil || !pool.AppendCertsFromPEM(caPEM) {
		t.Fatalf("CA bundle: %v", err)
	}
	addr := strings.TrimPrefix(ep, "https://")
	_, port, _ := net.SplitHostPort(addr)
	// Every name resolves to the gateway; TLS verifies the names.
	hc := &http.Client{Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool},
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		},
	}}
	client := func(ak, sk, endpoint string, pathStyle bool) *s3.Client {
		return s3.NewFromConfig(aws.Config{Region: "us-east-1", HTTPClient: hc,
			Credentials: awscreds.NewStaticCredentialsProvider(ak, sk, "")}, func(o *s3.Options) {
			o.BaseEndpoint = aws.String(endpoint)
			o.UsePathStyle = pathStyle
			o.RetryMaxAttempts = 1
		})
	}
	root := c.Root()
	ctx := context.Background()
	rootPath := client(root.AccessKey, root.SecretKey, ep, true)
	rootVhost := client(root.AccessKey, root.SecretKey, "https://s3.localtest:"+port, false)
	bob := client("BOBKEY", "bobsecret", ep, true)
	if _, err := rootPath.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("tls-bk")}); err != nil {
		t.Fatal(err)
	}
	if _, err := rootVhost.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("tls-bk"), Key: aws.String("a/b.txt"),
		Body: strings.NewReader("over https")}); err != nil {
		t.Fatal(err)
	}
	out, err := rootPath.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("tls-bk"), Key: aws.String("a/b.txt")})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(out.Body)
	out.Body.Close()
	if string(b) != "over https" {
		t.Fatalf("read %q", b)
	}
	// The virtual host named the bucket: the request went to tls-bk.s3.localtest.
	lst, err := rootVhost.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("tls-bk")})
	if err != nil || len(lst.Contents) != 1 {
		t.Fatalf("vhost list %v %v", lst, err)
	}
	// bob sees nothing of root's and may not read it...
	bl, err := bob.ListBuckets(ctx, &s3.ListBucketsInput{})
	if err != nil || len(bl.Buckets) != 0 {
		t.Fatalf("bob lists %v %v", bl, err)
	}
	if _, err := bob.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("tls-bk"), Key: aws.String("a/b.txt")}); err == nil ||
		!strings.Contains(err.Error(), "AccessDenied") {
		t.Fatalf("bob reads root's object: %v", err)
	}
	// ...until a policy, kept in meta, allows it over TLS only.
	pol := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"bob"},"Action":"s3:GetObject",
	  "Resource":"arn:aws:s3:::tls-bk/*","Condition":{"Bool":{"aws:SecureTransport":"true"}}}]}`
	if _, err := rootPath.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String("tls-bk"), Policy: aws.String(pol)}); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("tls-bk"), Key: aws.String("a/b.txt")}); err != nil {
		t.Fatalf("bob reads under the policy: %v", err)
	}
	names := []string{}
	all, err := rootPath.ListBuckets(ctx, &s3.ListBucketsInput{})
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range all.Buckets {
		names = append(names, aws.ToString(b.Name))
	}
	if !slices.Equal(names, []string{"tls-bk"}) {
		t.Fatalf("root lists %v", names)
	}
}
