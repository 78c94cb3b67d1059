package e2e

import (
	"context"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// s3LockScript drives object lock and Content-MD5 with boto3: a locked
// version resists deletion until governance is bypassed, a legal hold
// until it is lifted; a wrong Content-MD5 is BadDigest and stores
// nothing.
const s3LockScript = boto3Prelude + `
b = "locked-bucket"
s3.create_bucket(Bucket=b, ObjectLockEnabledForBucket=True)
until = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=1)
v = s3.put_object(Bucket=b, Key="k", Body=b"keep me", ObjectLockMode="GOVERNANCE", ObjectLockRetainUntilDate=until)["VersionId"]
h = s3.head_object(Bucket=b, Key="k", VersionId=v)
check(h.get("ObjectLockMode") == "GOVERNANCE", "lock headers: %s" % h.get("ObjectLockMode"))
check(error_code(s3.delete_object, Bucket=b, Key="k", VersionId=v) == "AccessDenied", "delete of a GOVERNANCE version")
s3.delete_object(Bucket=b, Key="k", VersionId=v, BypassGovernanceRetention=True)
v = s3.put_object(Bucket=b, Key="held", Body=b"held")["VersionId"]
s3.put_object_legal_hold(Bucket=b, Key="held", VersionId=v, LegalHold={"Status": "ON"})
check(error_code(s3.delete_object, Bucket=b, Key="held", VersionId=v) == "AccessDenied", "delete under legal hold")
s3.put_object_legal_hold(Bucket=b, Key="held", VersionId=v, LegalHold={"Status": "OFF"})
s3.delete_object(Bucket=b, Key="held", VersionId=v)

body = b"checked body"
good = base64.b64encode(hashlib.md5(body).digest()).decode()
bad = base64.b64encode(hashlib.md5(b"other").digest()).decode()
s3.create_bucket(Bucket="md5-bucket")
check(error_code(s3.put_object, Bucket="md5-bucket", Key="bad", Body=body, ContentMD5=bad) == "BadDigest", "wrong Content-MD5")
check(error_code(s3.put_object, Bucket="md5-bucket", Key="bad", Body=body, ContentMD5="not-md5") == "InvalidDigest", "malformed Content-MD5")
check(s3.list_objects_v2(Bucket="md5-bucket")["KeyCount"] == 0, "a bad Content-MD5 stored something")
s3.put_object(Bucket="md5-bucket", Key="good", Body=body, ContentMD5=good)
check(s3.get_object(Bucket="md5-bucket", Key="good")["Body"].read() == body, "good Content-MD5")
print("OK")
`

// TestS3IssueGaps covers what issue 3 lists and no other end-to-end test
// drove against the real binary: virtual-hosted-style requests (--domain)
// with aws-sdk-go-v2, the 15-minute clock-skew limit, object lock and
// Content-MD5 with boto3.
func TestS3IssueGaps(t *testing.T) {
	wolkeBin(t)
	needBoto3(t)
	const domain = "s3.wolke.test"
	c := NewCluster(t)
	c.Args = append(c.Args, "--domain", domain)
	c.Start()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	// Virtual-hosted style: every <bucket>.s3.wolke.test dials the cluster.
	dial := &net.Dialer{Timeout: 5 * time.Second}
	var hosts []string // what the SDK dialed
	vh := s3.New(s3.Options{
		Region:       region,
		BaseEndpoint: aws.String("http://" + domain + ":" + strconv.Itoa(c.Port)),
		Credentials:  credentials.NewStaticCredentialsProvider(c.AccessKey, c.SecretKey, ""),
		HTTPClient: &http.Client{Timeout: time.Minute, Transport: &http.Transport{
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				hosts = append(hosts, addr)
				return dial.DialContext(ctx, network, c.Addr())
			}}},
	})
	if _, err := vh.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("vhost")}); err != nil {
		t.Fatal(err)
	}
	if _, err := vh.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("vhost"), Key: aws.String("a/b c"), Body: strings.NewReader("virtual")}); err != nil {
		t.Fatal(err)
	}
	g, err := vh.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("vhost"), Key: aws.String("a/b c")})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(g.Body)
	g.Body.Close()
	if string(got) != "virtual" {
		t.Fatalf("virtual-hosted get: %q", got)
	}
	l, err := c.S3(1).ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("vhost")})
	if err != nil || len(l.Contents) != 1 || aws.ToString(l.Contents[0].Key) != "a/b c" {
		t.Fatalf("path-style listing of the virtual-hosted bucket: %v %v", l, err)
	}
	if len(hosts) == 0 {
		t.Error("the SDK dialed nothing")
	}
	for _, h := range hosts {
		if !strings.HasPrefix(h, "vhost."+domain) {
			t.Errorf("request to host %q, want vhost.%s (virtual-hosted style)", h, domain)
		}
	}

	// Clock skew: 14 minutes is accepted, 16 minutes RequestTimeTooSkewed.
	for _, tc := range []struct {
		skew   time.Duration
		status int
	}{{-14 * time.Minute, 200}, {-16 * time.Minute, 403}, {16 * time.Minute, 403}} {
		req, _ := http.NewRequest("GET", c.Endpoint()+"/vhost", nil)
		req.Header.Set("X-Amz-Content-Sha256", emptySHA256)
		creds := aws.Credentials{AccessKeyID: c.AccessKey, SecretAccessKey: c.SecretKey}
		if err := signer().SignHTTP(ctx, creds, req, emptySHA256, "s3", region, time.Now().Add(tc.skew)); err != nil {
			t.Fatal(err)
		}
		status, hdr, body := do(t, req)
		if tc.status == 200 && status != 200 {
			t.Errorf("skew %v: status %d\n%s", tc.skew, status, body)
		} else if tc.status != 200 {
			expectS3Error(t, "skew "+tc.skew.String(), status, hdr, body, tc.status, "RequestTimeTooSkewed")
		}
	}

	out := c.Python(t, time.Minute, t.TempDir(), s3LockScript)
	if !strings.Contains(out, "OK") {
		t.Fatalf("lock script did not finish:\n%s", out)
	}
}

const emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
