package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// localFile is a generated file and what it should read back as.
type localFile struct {
	key  string
	path string
	size int64
	sum  string
}

// makeFiles writes one file per size into dir, keyed under prefix.
func makeFiles(t *testing.T, dir, prefix string, sizes []int64, seed uint64) []localFile {
	t.Helper()
	var files []localFile
	for i, n := range sizes {
		name := fmt.Sprintf("f%02d-%s.bin", i, sizeName(n))
		p := filepath.Join(dir, name)
		files = append(files, localFile{key: prefix + name, path: p, size: n, sum: writeRandomFile(t, p, n, seed+uint64(i))})
	}
	return files
}

// TestAWSCLI drives aws-cli v1 (when on PATH) and v2: bucket and object
// round trips of small files and one big file (1 GiB) per client version.
func TestAWSCLI(t *testing.T) {
	wolkeBin(t) // skip or fail before anything else
	clis := awsCLIs(t)
	c := StartCluster(t)
	work := t.TempDir()
	small := makeFiles(t, work, "small/", smallSizes(), 100)
	bigSize := int64(envInt(t, "WOLKE_E2E_BIG_MB", 1024)) << 20
	big := localFile{key: "big/" + sizeName(bigSize) + ".bin", path: filepath.Join(work, "big.bin"), size: bigSize}
	big.sum = writeRandomFile(t, big.path, bigSize, 7)

	for _, cli := range clis {
		t.Run(cli.name, func(t *testing.T) {
			awsRoundTrip(t, c, cli, work, small, big)
		})
	}
}

func awsRoundTrip(t *testing.T, c *Cluster, cli awsCLI, work string, small []localFile, big localFile) {
	const short = 2 * time.Minute
	bucket := "awscli-" + cli.name
	dl := t.TempDir()

	out := c.AWS(t, cli, short, work, "s3", "mb", "s3://"+bucket)
	if !strings.Contains(out, "make_bucket: "+bucket) {
		t.Fatalf("s3 mb output %q lacks make_bucket", out)
	}
	if out := c.AWS(t, cli, short, work, "s3", "ls"); !containsField(out, bucket) {
		t.Fatalf("s3 ls does not list %s:\n%s", bucket, out)
	}

	roundTrip := func(f localFile, timeout time.Duration) {
		t.Helper()
		url := "s3://" + bucket + "/" + f.key
		start := time.Now()
		c.AWS(t, cli, timeout, work, "s3", "cp", "--no-progress", f.path, url)
		up := time.Since(start)
		head := headObject(t, c, cli, bucket, f.key)
		if head.ContentLength != f.size {
			t.Errorf("head-object %s: ContentLength %d, want %d", f.key, head.ContentLength, f.size)
		}
		if head.ETag == "" {
			t.Errorf("head-object %s: no ETag", f.key)
		}
		local := filepath.Join(dl, filepath.Base(f.path))
		start = time.Now()
		c.AWS(t, cli, timeout, work, "s3", "cp", "--no-progress", url, local)
		down := time.Since(start)
		if got := fileSHA256(t, local); got != f.sum {
			t.Errorf("%s: downloaded %d bytes with sha256 %s, uploaded %d bytes with %s",
				f.key, fileSize(t, local), got, f.size, f.sum)
		}
		os.Remove(local)
		if f.size >= 64<<20 {
			t.Logf("%s: up %v (%s), down %v (%s)", f.key, up.Round(time.Millisecond), mbps(f.size, up),
				down.Round(time.Millisecond), mbps(f.size, down))
		}
	}
	for _, f := range small {
		roundTrip(f, short)
	}
	roundTrip(big, 5*time.Minute)

	// A missing key is a 404, not an empty object.
	if out, err := c.AWSErr(t, cli, short, work, "s3api", "head-object", "--bucket", bucket, "--key", "no/such/key"); err == nil {
		t.Errorf("head-object of a missing key succeeded:\n%s", out)
	} else if !strings.Contains(out, "404") && !strings.Contains(out, "Not Found") {
		t.Errorf("head-object of a missing key: want 404, got:\n%s", out)
	}

	// Listing: top level shows the prefixes, recursive shows every key and size.
	out = c.AWS(t, cli, short, work, "s3", "ls", "s3://"+bucket+"/")
	for _, p := range []string{"small/", "big/"} {
		if !strings.Contains(out, "PRE "+p) {
			t.Errorf("s3 ls s3://%s/ lacks PRE %s:\n%s", bucket, p, out)
		}
	}
	listed := parseAWSList(c.AWS(t, cli, short, work, "s3", "ls", "--recursive", "s3://"+bucket))
	all := append(append([]localFile(nil), small...), big)
	for _, f := range all {
		if n, ok := listed[f.key]; !ok || n != f.size {
			t.Errorf("s3 ls --recursive: %s listed=%v size %d, want size %d", f.key, ok, n, f.size)
		}
	}
	if len(listed) != len(all) {
		t.Errorf("s3 ls --recursive lists %d keys, want %d: %v", len(listed), len(all), listed)
	}

	// Delete one key, then the rest recursively; then the bucket.
	c.AWS(t, cli, short, work, "s3", "rm", "s3://"+bucket+"/"+big.key)
	if _, err := c.AWSErr(t, cli, short, work, "s3api", "head-object", "--bucket", bucket, "--key", big.key); err == nil {
		t.Errorf("head-object after s3 rm succeeded")
	}
	c.AWS(t, cli, short, work, "s3", "rm", "--recursive", "s3://"+bucket+"/")
	// v1 prints {"KeyCount": 0}, v2 prints nothing for an empty listing.
	out = c.AWS(t, cli, short, work, "s3api", "list-objects-v2", "--bucket", bucket, "--output", "json")
	var lv2 struct {
		KeyCount int
		Contents []struct{ Key string }
	}
	if strings.TrimSpace(out) != "" {
		if err := json.Unmarshal([]byte(out), &lv2); err != nil {
			t.Errorf("list-objects-v2 output: %v\n%s", err, out)
		}
	}
	if lv2.KeyCount != 0 || len(lv2.Contents) != 0 {
		t.Errorf("after rm --recursive the bucket still lists %d keys: %v", lv2.KeyCount, lv2.Contents)
	}
	c.AWS(t, cli, short, work, "s3", "rb", "s3://"+bucket)
	if out := c.AWS(t, cli, short, work, "s3", "ls"); containsField(out, bucket) {
		t.Errorf("s3 ls still lists %s after rb:\n%s", bucket, out)
	}
}

type headResult struct {
	ContentLength int64
	ETag          string
}

func headObject(t *testing.T, c *Cluster, cli awsCLI, bucket, key string) headResult {
	t.Helper()
	out := c.AWS(t, cli, time.Minute, "", "s3api", "head-object", "--bucket", bucket, "--key", key, "--output", "json")
	var h headResult
	if err := json.Unmarshal([]byte(out), &h); err != nil {
		t.Fatalf("head-object %s: %v\n%s", key, err, out)
	}
	return h
}

// parseAWSList parses `aws s3 ls --recursive` lines ("date time size key").
func parseAWSList(out string) map[string]int64 {
	m := map[string]int64{}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) < 4 {
			continue
		}
		var n int64
		if _, err := fmt.Sscan(f[2], &n); err != nil {
			continue
		}
		// Keys may contain spaces: take the rest of the line after the size.
		m[afterFields(line, 3)] = n
	}
	return m
}

// afterFields returns line without its first n whitespace-separated fields
// and the blanks after them.
func afterFields(line string, n int) string {
	for i := 0; i < n; i++ {
		line = strings.TrimLeft(line, " \t")
		if j := strings.IndexAny(line, " \t"); j >= 0 {
			line = line[j:]
		} else {
			return ""
		}
	}
	return strings.TrimLeft(line, " \t")
}

// containsField reports whether some line of out has word as a
// whitespace-separated field.
func containsField(out, word string) bool {
	for _, line := range strings.Split(out, "\n") {
		for _, f := range strings.Fields(line) {
			if f == word {
				return true
			}
		}
	}
	return false
}
