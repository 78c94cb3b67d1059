package chunk_test

import (
	"bytes"
	"context"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/wolke-cloud/wolke/chunk"
	"github.com/wolke-cloud/wolke/chunk/disk"
)

// TestPreallocatedDisk: a disk file made with Preallocate is written in
// full (progress reported up to its size) and stays so: neither the
// format nor a delete punches holes in it, also after a restart without
// the option. A sparse disk file is not written in full.
func TestPreallocatedDisk(t *testing.T) {
	dir := t.TempDir()
	const size = 16 << 20
	path := filepath.Join(dir, "disk0")
	var seen atomic.Int64
	cfg := chunk.Config{ID: "s1", Zone: "z1", ClusterID: cluster, Disks: []chunk.DiskConfig{{Path: path, Size: size, Preallocate: true}}}
	deps := chunk.Deps{Preallocating: func(p string, done, total int64) {
		if p == path && total == size {
			seen.Store(max(seen.Load(), done))
		}
	}}
	use := func(h *harness, id string) {
		t.Helper()
		ctx := context.Background()
		d := h.srv.Disks()[0].ID
		want := bytes.Repeat([]byte{5}, 1<<20)
		if err := h.cli.WriteShard(ctx, d, id, want); err != nil {
			t.Fatal(err)
		}
		if got, err := h.cli.ReadShard(ctx, d, id); err != nil || !bytes.Equal(got, want) {
			t.Fatalf("read back: %v", err)
		}
		if err := h.cli.DeleteShard(ctx, d, id); err != nil {
			t.Fatal(err)
		}
	}
	h := startWith(t, cfg, deps)
	if seen.Load() != size || !disk.FullyAllocated(path) {
		t.Fatalf("after start: progress %d of %d, written in full %v", seen.Load(), size, disk.FullyAllocated(path))
	}
	use(h, "a")
	if err := h.srv.Close(); err != nil {
		t.Fatal(err)
	}
	if !disk.FullyAllocated(path) {
		t.Fatal("a delete punched a hole in the preallocated disk file")
	}
	cfg.Disks[0].Preallocate = false
	use(startWith(t, cfg, chunk.Deps{}), "b")
	if !disk.FullyAllocated(path) {
		t.Fatal("a delete after a restart without Preallocate punched a hole")
	}
	sparse := start(t, chunk.Config{ID: "s2", Zone: "z1", ClusterID: cluster, Disks: diskConfigs(t.TempDir(), 1)})
	if disk.FullyAllocated(sparse.srv.Disks()[0].Path) {
		t.Fatal("a sparse disk file is reported written in full")
	}
}
