package chunk_test

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wolke-cloud/wolke/chunk"
	"github.com/wolke-cloud/wolke/internal/errs"
)

func newServer(t *testing.T, cfg chunk.Config) (*chunk.Server, error) {
	t.Helper()
	s, err := chunk.New(cfg, chunk.Deps{})
	if err == nil {
		t.Cleanup(func() { _ = s.Close() })
	}
	return s, err
}

// TestDiskLifecycle: a missing file becomes a fresh disk; the same file is
// reopened as the same disk; a lost file is replaced by a fresh disk that
// names the one it replaced.
func TestDiskLifecycle(t *testing.T) {
	dir := t.TempDir()
	cfg := chunk.Config{ID: "s1", ClusterID: cluster, Disks: diskConfigs(dir, 1)}
	s, err := newServer(t, cfg)
	if err != nil {
		t.Fatal(err)
	}
	first := s.Disks()[0]
	if !first.Fresh || !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(first.ID) {
		t.Fatalf("first start: %+v, want a fresh disk with a uuid", first)
	}
	if first.Path != cfg.Disks[0].Path {
		t.Fatalf("Path = %q", first.Path)
	}
	_ = s.Close()

	s, err = newServer(t, cfg)
	if err != nil {
		t.Fatal(err)
	}
	again := s.Disks()[0]
	if again.Fresh || again.ID != first.ID || again.Replaced != "" {
		t.Fatalf("restart: %+v, want disk %s reopened", again, first.ID)
	}
	_ = s.Close()

	if err := os.Remove(cfg.Disks[0].Path); err != nil {
		t.Fatal(err)
	}
	s, err = newServer(t, cfg)
	if err != nil {
		t.Fatal(err)
	}
	repl := s.Disks()[0]
	if !repl.Fresh || repl.ID == first.ID || repl.Replaced != first.ID || repl.Lost != first.ID {
		t.Fatalf("after losing the file: %+v, want a fresh disk replacing %s", repl, first.ID)
	}
}

func TestRefusedDisks(t *testing.T) {
	dir := t.TempDir()
	// A disk of another cluster.
	other := chunk.Config{ID: "s1", ClusterID: "other-cluster", Disks: diskConfigs(filepath.Join(dir, "a"), 1)}
	s, err := newServer(t, other)
	if err != nil {
		t.Fatal(err)
	}
	_ = s.Close()
	// A file that is not a Wolke disk.
	junk := filepath.Join(dir, "junk")
	if err := os.WriteFile(junk, bytes.Repeat([]byte("junk"), 1<<18), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		cfg  chunk.Config
		kind errs.Kind
	}{
		{"other cluster", chunk.Config{ID: "s1", ClusterID: cluster, Disks: other.Disks}, errs.Precondition},
		{"not a wolke file", chunk.Config{ID: "s1", ClusterID: cluster, Disks: []chunk.DiskConfig{{Path: junk}}}, errs.Invalid},
		{"same disk twice", chunk.Config{ID: "s1", ClusterID: "other-cluster", Disks: []chunk.DiskConfig{
			other.Disks[0], {Path: other.Disks[0].Path, IndexDir: filepath.Join(dir, "idx2")}}}, errs.Invalid},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := newServer(t, c.cfg); !errs.Is(err, c.kind) {
				t.Fatalf("New = %v, want %v", err, c.kind)
			}
		})
	}
	// The junk file is untouched by the refusal, and formatted when allowed.
	if b, _ := os.ReadFile(junk); !bytes.HasPrefix(b, []byte("junkjunk")) {
		t.Fatal("a refused file was modified")
	}
	s, err = newServer(t, chunk.Config{ID: "s1", ClusterID: cluster, Disks: []chunk.DiskConfig{{Path: junk, Format: true}}})
	if err != nil {
		t.Fatalf("New with Format: %v", err)
	}
	if d := s.Disks()[0]; !d.Fresh {
		t.Fatalf("formatted junk file: %+v", d)
	}
}

// TestCopiedDiskRefused: two paths holding the same disk (a copied file).
func TestCopiedDiskRefused(t *testing.T) {
	dir := t.TempDir()
	cfg := chunk.Config{ID: "s1", ClusterID: cluster, Disks: diskConfigs(dir, 1)}
	s, err := newServer(t, cfg)
	if err != nil {
		t.Fatal(err)
	}
	_ = s.Close()
	img, err := os.ReadFile(cfg.Disks[0].Path)
	if err != nil {
		t.Fatal(err)
	}
	cp := filepath.Join(dir, "copy")
	if err := os.WriteFile(cp, img, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg.Disks = append(cfg.Disks, chunk.DiskConfig{Path: cp})
	if _, err := newServer(t, cfg); !errs.Is(err, errs.Precondition) {
		t.Fatalf("New with a copied disk = %v, want Precondition", err)
	}
}

func TestConfigValidate(t *testing.T) {
	ok := chunk.Config{ID: "s1", ClusterID: "c", Disks: []chunk.DiskConfig{{Path: "/x/d0"}}}
	cases := []struct {
		name  string
		edit  func(c *chunk.Config)
		valid bool
	}{
		{"defaults", func(c *chunk.Config) {}, true},
		{"no id", func(c *chunk.Config) { c.ID = "" }, false},
		{"no cluster", func(c *chunk.Config) { c.ClusterID = "" }, false},
		{"no disks", func(c *chunk.Config) { c.Disks = nil }, false},
		{"empty path", func(c *chunk.Config) { c.Disks = []chunk.DiskConfig{{}} }, false},
		{"duplicate path", func(c *chunk.Config) { c.Disks = append(c.Disks, c.Disks[0]) }, false},
		{"unaligned size", func(c *chunk.Config) { c.Disks[0].Size = 1<<20 + 1 }, false},
		{"tiny size", func(c *chunk.Config) { c.Disks[0].Size = 4096 }, false},
		{"huge chunks", func(c *chunk.Config) { c.MaxChunkSize = 1 << 30 }, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := ok
			cfg.Disks = append([]chunk.DiskConfig(nil), ok.Disks...)
			c.edit(&cfg)
			cfg.SetDefaults()
			err := cfg.Validate()
			if (err == nil) != c.valid {
				t.Fatalf("Validate = %v, want valid=%v", err, c.valid)
			}
			if err != nil && !errs.Is(err, errs.Invalid) {
				t.Fatalf("Validate = %v, want kind Invalid", err)
			}
		})
	}
	cfg := ok
	cfg.Disks = append([]chunk.DiskConfig(nil), ok.Disks...)
	cfg.SetDefaults()
	if cfg.Disks[0].IndexDir != "/x/d0.index" || cfg.Disks[0].Size != chunk.DefaultDiskSize {
		t.Fatalf("defaults: %+v", cfg.Disks[0])
	}
}

// TestSharedRegistry: dev mode runs many servers on one metrics registry.
func TestSharedRegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	dir := t.TempDir()
	open := func(id string) *chunk.Server {
		s, err := chunk.New(chunk.Config{ID: id, ClusterID: cluster, Disks: diskConfigs(filepath.Join(dir, id), 2)}, chunk.Deps{Registry: reg})
		if err != nil {
			t.Fatalf("server %s: %v", id, err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	}
	s1 := open("s1")
	open("s2")
	// A server restarted in the same process registers its metrics again.
	if err := s1.Close(); err != nil {
		t.Fatal(err)
	}
	open("s1")
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	series := 0
	for _, mf := range mfs {
		if mf.GetName() == "wolke_chunk_disk_capacity_bytes" {
			series += len(mf.GetMetric())
		}
	}
	if series != 4 {
		t.Fatalf("%d capacity series, want one per disk (4)", series)
	}
}

// TestPrimarySuperblockRepaired: a server starts on a disk whose primary
// superblock is damaged, restoring it from the backup.
func TestPrimarySuperblockRepaired(t *testing.T) {
	cfg := chunk.Config{ID: "s1", ClusterID: cluster, Disks: diskConfigs(t.TempDir(), 1)}
	s, err := newServer(t, cfg)
	if err != nil {
		t.Fatal(err)
	}
	id := s.Disks()[0].ID
	_ = s.Close()
	f, err := os.OpenFile(cfg.Disks[0].Path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(make([]byte, 512), 0); err != nil {
		t.Fatal(err)
	}
	_ = f.Sync()
	_ = f.Close()
	s, err = newServer(t, cfg)
	if err != nil {
		t.Fatalf("New with a damaged primary superblock: %v", err)
	}
	if got := s.Disks()[0].ID; got != id {
		t.Fatalf("disk id %s after repair, want %s", got, id)
	}
}
