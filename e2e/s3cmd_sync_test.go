package e2e

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestS3cmdSync syncs a directory tree up with s3cmd, changes it (modify,
// delete, add), syncs again with --delete-removed, syncs the bucket down
// into an empty directory and compares the trees file by file.
func TestS3cmdSync(t *testing.T) {
	wolkeBin(t)
	bin := needS3cmd(t)
	c := StartCluster(t)
	const timeout = 2 * time.Minute
	src, down := t.TempDir(), t.TempDir()
	root := "s3://s3cmd-sync"
	c.S3cmd(t, bin, timeout, src, "mb", root)

	files := map[string]int64{
		"a.txt": 10, "empty": 0, "dir/b.bin": 200 << 10, "dir/sub/c.bin": 3 << 20,
		"dir/sub/deep/d.txt": 1, "other/e f.txt": 4096, "other/gone.txt": 77,
	}
	seed := uint64(500)
	for name, size := range files {
		seed++
		writeTreeFile(t, src, name, size, seed)
	}
	c.S3cmd(t, bin, timeout, src, "sync", "--no-preserve", src+"/", root+"/")
	if got := parseS3cmdList(c.S3cmd(t, bin, timeout, src, "ls", "-r", root)); len(got) != len(files) {
		t.Fatalf("after the first sync the bucket lists %d objects, want %d: %v", len(got), len(files), got)
	}

	// Change the tree: same size but new content, a new size, a deletion
	// and new files, one in a new directory.
	writeTreeFile(t, src, "a.txt", 10, 900)
	writeTreeFile(t, src, "dir/b.bin", 300<<10, 901)
	if err := os.Remove(filepath.Join(src, "other/gone.txt")); err != nil {
		t.Fatal(err)
	}
	writeTreeFile(t, src, "new.txt", 123, 902)
	writeTreeFile(t, src, "fresh/dir/f.bin", 1<<20, 903)
	out := c.S3cmd(t, bin, timeout, src, "sync", "--no-preserve", "--delete-removed", src+"/", root+"/")
	if !strings.Contains(out, "delete: '"+root+"/other/gone.txt'") {
		t.Errorf("second sync did not delete other/gone.txt:\n%s", out)
	}
	if strings.Contains(out, "dir/sub/c.bin") {
		t.Errorf("second sync uploaded an unchanged file again:\n%s", out)
	}

	c.S3cmd(t, bin, timeout, down, "sync", "--no-preserve", root+"/", down+"/")
	want, got := treeSums(t, src), treeSums(t, down)
	for name, sum := range want {
		if got[name] != sum {
			t.Errorf("%s: synced down %q, want %q", name, got[name], sum)
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("%s: synced down but not in the source tree", name)
		}
	}

	// A third sync up has nothing to do.
	out = c.S3cmd(t, bin, timeout, src, "sync", "--no-preserve", "--delete-removed", src+"/", root+"/")
	if strings.Contains(out, "upload:") || strings.Contains(out, "delete:") {
		t.Errorf("sync of an unchanged tree transferred something:\n%s", out)
	}
}

// writeTreeFile writes a pseudo-random file at dir/name, making its
// directories.
func writeTreeFile(t *testing.T, dir, name string, size int64, seed uint64) {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	writeRandomFile(t, p, size, seed)
}

// treeSums maps every regular file under dir (by slash path) to its SHA-256.
func treeSums(t *testing.T, dir string) map[string]string {
	t.Helper()
	m := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		m[filepath.ToSlash(rel)] = fileSHA256(t, p)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}
