package store

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wolke-cloud/wolke/chunk/disk"
	"github.com/wolke-cloud/wolke/internal/errs"
)

// TestGetFromMediaSeesRot rots a chunk on the medium under a block
// device's page cache (by writing the loop device's backing file): Get may
// still answer from the cached copy, GetFromMedia must read the medium and
// report the chunk corrupt.
func TestGetFromMediaSeesRot(t *testing.T) {
	dir := t.TempDir()
	backing := filepath.Join(dir, "backing")
	if err := os.WriteFile(backing, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(backing, 64<<20); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("losetup", "-f", "--show", backing).CombinedOutput()
	if err != nil {
		t.Fatalf("losetup: %v: %s", err, out)
	}
	dev := strings.TrimSpace(string(out))
	t.Cleanup(func() { _ = exec.Command("losetup", "-d", dev).Run() })
	d, err := disk.OpenBlock(dev)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	s, err := Format(ctx, d, filepath.Join(dir, "index"), testCluster, "disk-rot", Options{Registry: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	data := bytes.Repeat([]byte("wolke rot "), 3000)
	if err := s.Put(ctx, "c1", data); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Get(ctx, "c1"); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("Get: %v", err)
	}
	rec, err := s.lookupCached("c1")
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(backing, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("ROT"), rec.exts[0].off+100); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetFromMedia(ctx, "c1"); !errs.Is(err, errs.Corrupt) {
		t.Fatalf("GetFromMedia over a rotten block: err %v, want Corrupt", err)
	}
}
