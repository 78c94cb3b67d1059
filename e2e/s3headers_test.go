package e2e

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestS3ClassAndGrants drives x-amz-storage-class with s3cmd (put
// --storage-class, info) and x-amz-grant-* with aws-cli (s3api put-object
// --grant-read): a grant to AllUsers makes the object public, an e-mail
// grantee is refused with S3's code.
func TestS3ClassAndGrants(t *testing.T) {
	wolkeBin(t) // skip or fail before anything else
	bin := needS3cmd(t)
	clis := awsCLIs(t)
	c := StartCluster(t)
	const short = time.Minute
	work := t.TempDir()
	f := filepath.Join(work, "f.txt")
	if err := os.WriteFile(f, []byte("labelled"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Run("s3cmd", func(t *testing.T) {
		c.S3cmd(t, bin, short, work, "mb", "s3://classes")
		c.S3cmd(t, bin, short, work, "put", "--storage-class=STANDARD_IA", f, "s3://classes/ia")
		if out := c.S3cmd(t, bin, short, work, "info", "s3://classes/ia"); !strings.Contains(out, "STANDARD_IA") {
			t.Errorf("info lacks the storage class:\n%s", out)
		}
		out, err := c.RunErr(t, short, work, bin, "-c", c.S3cmdConfig(t), "put", "--storage-class=NO_SUCH_CLASS", f, "s3://classes/bad")
		if err == nil || !strings.Contains(out, "InvalidStorageClass") {
			t.Errorf("put with an unknown class: %v\n%s", err, out)
		}
	})
	for _, cli := range clis {
		t.Run("awscli-"+cli.name, func(t *testing.T) {
			b := "grants-" + cli.name
			c.AWS(t, cli, short, work, "s3api", "create-bucket", "--bucket", b)
			c.AWS(t, cli, short, work, "s3api", "put-object", "--bucket", b, "--key", "public", "--body", f,
				"--grant-read", "uri=http://acs.amazonaws.com/groups/global/AllUsers")
			resp, err := http.Get(c.Endpoint() + "/" + b + "/public")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("anonymous GET of an object granted to AllUsers: %d", resp.StatusCode)
			}
			out, err := c.AWSErr(t, cli, short, work, "s3api", "put-object", "--bucket", b, "--key", "mail", "--body", f,
				"--grant-read", "emailAddress=someone@example.com")
			if err == nil || !strings.Contains(out, "UnresolvableGrantByEmailAddress") {
				t.Errorf("e-mail grantee: %v\n%s", err, out)
			}
		})
	}
}
