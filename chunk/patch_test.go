package chunk_test

import (
	"bytes"
	"context"
	"hash/crc32"
	"testing"

	"github.com/wolke-cloud/wolke/chunk"
	"github.com/wolke-cloud/wolke/internal/errs"
)

// TestPatchOverHTTP: PATCH writes a block range in place and bumps the
// generation that GET and HEAD report; a stale base generation is refused.
func TestPatchOverHTTP(t *testing.T) {
	h := start(t, chunk.Config{ID: "s1", Zone: "z1", ClusterID: cluster, Disks: diskConfigs(t.TempDir(), 1)})
	ctx := context.Background()
	d := h.srv.Disks()[0].ID
	want := bytes.Repeat([]byte{1}, 64<<10)
	if err := h.cli.WriteShard(ctx, d, "x", want); err != nil {
		t.Fatal(err)
	}
	if g, err := h.cli.ShardGen(ctx, d, "x"); err != nil || g != 0 {
		t.Fatalf("gen after PUT: %d %v", g, err)
	}
	p := bytes.Repeat([]byte{2}, 8192)
	g, err := h.cli.PatchShard(ctx, d, "x", 4096, p, 0)
	if err != nil || g != 1 {
		t.Fatalf("PatchShard: %d %v", g, err)
	}
	copy(want[4096:], p)
	got, gen, err := h.cli.ReadShardRangeGen(ctx, d, "x", 0, int64(len(want)))
	if err != nil || gen != 1 || !bytes.Equal(got, want) {
		t.Fatalf("read after patch: gen %d equal %v err %v", gen, bytes.Equal(got, want), err)
	}
	if _, err := h.cli.PatchShard(ctx, d, "x", 0, p, 0); !errs.Is(err, errs.Precondition) {
		t.Fatalf("stale base: %v", err)
	}
	if _, err := h.cli.PatchShard(ctx, d, "x", 100, p, 1); !errs.Is(err, errs.Invalid) {
		t.Fatalf("unaligned: %v", err)
	}
	if _, err := h.cli.PatchShard(ctx, d, "nope", 0, p, 0); !errs.Is(err, errs.NotFound) {
		t.Fatalf("missing: %v", err)
	}
	if g, err := h.cli.ShardGen(ctx, d, "x"); err != nil || g != 1 {
		t.Fatalf("gen after PATCH: %d %v", g, err)
	}
	if _, err := h.cli.ShardGen(ctx, d, "nope"); !errs.Is(err, errs.NotFound) {
		t.Fatalf("gen of a missing chunk: %v", err)
	}
	// The whole-chunk CRC32C follows the patch (the scrubber checks it).
	_, crc, err := h.cli.StatShard(ctx, d, "x")
	if err != nil {
		t.Fatal(err)
	}
	whole, err := h.cli.ReadShard(ctx, d, "x")
	if err != nil || !bytes.Equal(whole, want) {
		t.Fatal("ReadShard after patch")
	}
	if crc != crc32c(want) {
		t.Fatalf("chunk CRC %08x, want %08x", crc, crc32c(want))
	}
}

// TestRestoreOverHTTP: a PUT with X-Wolke-Gen stores a lost copy at that
// generation, and only where the chunk is missing.
func TestRestoreOverHTTP(t *testing.T) {
	h := start(t, chunk.Config{ID: "s1", Zone: "z1", ClusterID: cluster, Disks: diskConfigs(t.TempDir(), 1)})
	ctx := context.Background()
	d := h.srv.Disks()[0].ID
	want := bytes.Repeat([]byte{3}, 64<<10)
	if err := h.cli.RestoreShard(ctx, d, "x", want, 5); err != nil {
		t.Fatal(err)
	}
	got, gen, err := h.cli.ReadShardRangeGen(ctx, d, "x", 0, int64(len(want)))
	if err != nil || gen != 5 || !bytes.Equal(got, want) {
		t.Fatalf("read after restore: gen %d (want 5) equal %v err %v", gen, bytes.Equal(got, want), err)
	}
	if err := h.cli.RestoreShard(ctx, d, "x", []byte("other"), 5); !errs.Is(err, errs.Exists) {
		t.Fatalf("restore over an existing chunk: %v, want Exists", err)
	}
	if g, err := h.cli.PatchShard(ctx, d, "x", 0, make([]byte, 4096), 5); err != nil || g != 6 {
		t.Fatalf("patch of the restored copy: gen %d %v", g, err)
	}
}

func crc32c(b []byte) uint32 { return crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli)) }
