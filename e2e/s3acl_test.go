package e2e

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestS3ObjectACL: aws-cli uploads with --acl public-read and changes the
// ACL with put-object-acl; anonymous HTTP GETs follow the object's ACL.
func TestS3ObjectACL(t *testing.T) {
	wolkeBin(t)
	clis := awsCLIs(t)
	c := StartCluster(t)
	const timeout = time.Minute
	work := t.TempDir()
	src := filepath.Join(work, "f.txt")
	if err := os.WriteFile(src, []byte("public words"), 0o644); err != nil {
		t.Fatal(err)
	}
	anonGet := func(key string) (int, string) {
		t.Helper()
		r, err := http.Get(c.Endpoint() + "/acl-e2e/" + key)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Body.Close()
		b, _ := io.ReadAll(r.Body)
		return r.StatusCode, string(b)
	}
	for i, cli := range clis {
		if i == 0 {
			c.AWS(t, cli, timeout, work, "s3", "mb", "s3://acl-e2e")
		}
		key := "pub-" + cli.name
		c.AWS(t, cli, timeout, work, "s3", "cp", "--acl", "public-read", src, "s3://acl-e2e/"+key)
		if code, body := anonGet(key); code != 200 || body != "public words" {
			t.Errorf("%s: anonymous GET of a public-read object: %d %q", cli.name, code, body)
		}
		out := c.AWS(t, cli, timeout, work, "s3api", "get-object-acl", "--bucket", "acl-e2e", "--key", key)
		if !strings.Contains(out, "AllUsers") || !strings.Contains(out, `"READ"`) {
			t.Errorf("%s: get-object-acl lacks the AllUsers READ grant:\n%s", cli.name, out)
		}
		c.AWS(t, cli, timeout, work, "s3api", "put-object-acl", "--bucket", "acl-e2e", "--key", key, "--acl", "private")
		if code, _ := anonGet(key); code != 403 {
			t.Errorf("%s: anonymous GET after put-object-acl private: %d, want 403", cli.name, code)
		}
		c.AWS(t, cli, timeout, work, "s3api", "put-object-acl", "--bucket", "acl-e2e", "--key", key, "--acl", "public-read")
		if code, _ := anonGet(key); code != 200 {
			t.Errorf("%s: anonymous GET after put-object-acl public-read: %d, want 200", cli.name, code)
		}
	}
	c.AWS(t, clis[0], timeout, work, "s3", "cp", src, "s3://acl-e2e/private")
	if code, _ := anonGet("private"); code != 403 {
		t.Errorf("anonymous GET of a private object: %d, want 403", code)
	}
}
