package e2e

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestS3cmd drives s3cmd: mb, put, ls, ls -r, info, get, del, rb.
func TestS3cmd(t *testing.T) {
	wolkeBin(t) // skip or fail before anything else
	bin := needS3cmd(t)
	c := StartCluster(t)
	const timeout = 2 * time.Minute
	work, dl := t.TempDir(), t.TempDir()
	bucket := "s3cmd-test"
	root := "s3://" + bucket
	files := makeFiles(t, work, "dir/sub/", smallSizes(), 200)
	top := makeFiles(t, work, "", []int64{4096}, 300)[0]
	all := append(files, top)

	out := c.S3cmd(t, bin, timeout, work, "mb", root)
	if !strings.Contains(out, "created") {
		t.Errorf("mb output %q, want ... created", out)
	}
	if out := c.S3cmd(t, bin, timeout, work, "ls"); !strings.Contains(out, root) {
		t.Fatalf("ls does not list %s:\n%s", root, out)
	}

	for _, f := range all {
		c.S3cmd(t, bin, timeout, work, "put", f.path, root+"/"+f.key)
	}

	// ls shows the top-level object and the directory; ls -r every key.
	out = c.S3cmd(t, bin, timeout, work, "ls", root)
	if !strings.Contains(out, "DIR") || !strings.Contains(out, root+"/dir/") {
		t.Errorf("ls %s lacks DIR %s/dir/:\n%s", root, root, out)
	}
	if !strings.Contains(out, root+"/"+top.key) {
		t.Errorf("ls %s lacks %s:\n%s", root, top.key, out)
	}
	if strings.Contains(out, files[0].key) {
		t.Errorf("ls %s (not recursive) lists nested keys:\n%s", root, out)
	}
	listed := parseS3cmdList(c.S3cmd(t, bin, timeout, work, "ls", "-r", root))
	for _, f := range all {
		if n, ok := listed[root+"/"+f.key]; !ok || n != f.size {
			t.Errorf("ls -r: %s listed=%v size %d, want %d", f.key, ok, n, f.size)
		}
	}
	if len(listed) != len(all) {
		t.Errorf("ls -r lists %d objects, want %d: %v", len(listed), len(all), listed)
	}

	for _, f := range all {
		out := c.S3cmd(t, bin, timeout, work, "info", root+"/"+f.key)
		if want := fmt.Sprintf("File size: %d", f.size); !strings.Contains(out, want) {
			t.Errorf("info %s lacks %q:\n%s", f.key, want, out)
		}
		local := filepath.Join(dl, filepath.Base(f.path))
		c.S3cmd(t, bin, timeout, work, "get", "--force", root+"/"+f.key, local)
		if got := fileSHA256(t, local); got != f.sum {
			t.Errorf("get %s: sha256 %s (%d bytes), want %s (%d bytes)", f.key, got, fileSize(t, local), f.sum, f.size)
		}
	}

	c.S3cmd(t, bin, timeout, work, "del", root+"/"+top.key)
	if _, err := c.RunErr(t, timeout, work, bin, "-c", c.S3cmdConfig(t), "info", root+"/"+top.key); err == nil {
		t.Errorf("info of a deleted object succeeded")
	}
	c.S3cmd(t, bin, timeout, work, "del", "--recursive", "--force", root+"/dir/")
	if listed := parseS3cmdList(c.S3cmd(t, bin, timeout, work, "ls", "-r", root)); len(listed) != 0 {
		t.Errorf("after del the bucket still lists %v", listed)
	}
	c.S3cmd(t, bin, timeout, work, "rb", root)
	if out := c.S3cmd(t, bin, timeout, work, "ls"); strings.Contains(out, root) {
		t.Errorf("ls still lists %s after rb:\n%s", root, out)
	}
}

// parseS3cmdList parses `s3cmd ls -r` lines ("date time size s3://b/key").
func parseS3cmdList(out string) map[string]int64 {
	m := map[string]int64{}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) < 4 || f[2] == "DIR" {
			continue
		}
		var n int64
		if _, err := fmt.Sscan(f[2], &n); err != nil {
			continue
		}
		m[afterFields(line, 3)] = n
	}
	return m
}
