package chunk_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/wolke-cloud/wolke/chunk"
	"github.com/wolke-cloud/wolke/internal/errs"
)

func TestScrubDeletesDamagedChunks(t *testing.T) {
	dir := t.TempDir()
	h := start(t, chunk.Config{ID: "s1", ClusterID: cluster, Disks: diskConfigs(dir, 1)})
	id := h.srv.Disks()[0].ID
	ctx := context.Background()
	// The first chunk on a fresh disk starts right after the superblock.
	if err := h.cli.WriteShard(ctx, id, "victim", bytes.Repeat([]byte("v"), 20000)); err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"good-1", "good-2"} {
		if err := h.cli.WriteShard(ctx, id, c, bytes.Repeat([]byte(c), 3000)); err != nil {
			t.Fatal(err)
		}
	}
	sc, err := chunk.NewScrubber(h.srv, chunk.ScrubConfig{Rate: 1 << 30, Page: 2})
	if err != nil {
		t.Fatal(err)
	}
	// A clean pass finds nothing.
	if err := sc.Pass(ctx); err != nil {
		t.Fatalf("clean pass: %v", err)
	}
	if p := sc.Progress(); p.Chunks != 3 || p.Bad != 0 || p.Passes != 1 {
		t.Fatalf("clean pass progress %+v, want 3 chunks, 0 bad", p)
	}
	raw, err := os.OpenFile(filepath.Join(dir, "disk0"), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.WriteAt([]byte("y"), 4096+5000); err != nil {
		t.Fatal(err)
	}
	_ = raw.Sync()
	_ = raw.Close()
	if err := sc.Pass(ctx); err != nil {
		t.Fatalf("pass: %v", err)
	}
	bad := sc.Bad()
	if len(bad) != 1 || bad[0].Chunk != "victim" || bad[0].Disk != id {
		t.Fatalf("bad chunks %+v, want victim on %s", bad, id)
	}
	if _, _, err := h.cli.StatShard(ctx, id, "victim"); !errs.Is(err, errs.NotFound) {
		t.Fatalf("damaged chunk after scrub: %v, want NotFound", err)
	}
	for _, c := range []string{"good-1", "good-2"} {
		if _, err := h.cli.ReadShard(ctx, id, c); err != nil {
			t.Fatalf("good chunk %s: %v", c, err)
		}
	}
	if got := metricValue(t, h.reg, "wolke_chunk_scrub_bad_chunks_total", map[string]string{"disk": id, "server": "s1"}); got != 1 {
		t.Fatalf("scrub bad chunks = %v, want 1", got)
	}
	if p := sc.Progress(); p.Bad != 1 || p.Passes != 2 {
		t.Fatalf("progress %+v, want 1 bad after 2 passes", p)
	}
}
