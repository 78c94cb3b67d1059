package store

import (
	"bytes"
	"context"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/wolke-cloud/wolke/chunk/disk"
)

func counted(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

// waitCompactions returns once no move runs on s.
func waitCompactions(t *testing.T, s *Store) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); len(s.compacting) > 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("a compaction still runs after 10s")
		}
	}
}

// scatter puts chunk id (1 MiB from seed) and patches every sixth block
// (synced), leaving it in many disk extents; it returns its bytes and
// generation.
func scatter(t *testing.T, s *Store, id string, seed uint64) ([]byte, uint64) {
	t.Helper()
	want := randBytes(1<<20, seed)
	if err := s.Put(context.Background(), id, want); err != nil {
		t.Fatal(err)
	}
	gen := uint64(0)
	for b := int64(0); b*disk.BlockSize < int64(len(want)); b += 6 {
		p := randBytes(disk.BlockSize, uint64(b)+500)
		g, err := s.Patch(context.Background(), id, b*disk.BlockSize, p, gen)
		if err != nil {
			t.Fatal(err)
		}
		gen = g
		copy(want[b*disk.BlockSize:], p)
	}
	return want, gen
}

// TestCompactOnRead: a chunk in many disk extents, read whole, is moved
// to one extent in the background with the same bytes, checksums and
// generation; until the next sync the extents it left are kept from
// reuse (a crash brings back the record that names them), and the move
// is in the index after a restart.
func TestCompactOnRead(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	s := f.format(t, 16<<20, "d1")
	want, gen := scatter(t, s, "c", 1)
	rec0, err := s.lookup("c")
	if err != nil || len(rec0.exts) < compactAt {
		t.Fatalf("scattered chunk in %d extents, want at least %d: %v", len(rec0.exts), compactAt, err)
	}
	_, used0 := s.Usage()
	p := disk.AlignedBuffer(1 << 20)
	if g, err := s.ReadInto(ctx, "c", 0, p); err != nil || g != gen || !bytes.Equal(p, want) {
		t.Fatalf("read: gen %d want %d, equal %v, %v", g, gen, bytes.Equal(p, want), err)
	}
	var rec *record
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if rec, err = s.lookup("c"); err != nil {
			t.Fatal(err)
		}
		if len(rec.exts) == 1 || time.Now().After(deadline) {
			break
		}
	}
	if len(rec.exts) != 1 || rec.gen != gen || rec.crc != rec0.crc || !slices.Equal(rec.blocks, rec0.blocks) {
		t.Fatalf("after the read: %d extents, gen %d (want 1, %d), same checksums %v", len(rec.exts), rec.gen, gen, slices.Equal(rec.blocks, rec0.blocks))
	}
	if n := counted(t, s.compacted); n != 1 {
		t.Fatalf("%v compactions counted, want 1", n)
	}
	if got, g, err := s.GetRangeGen(ctx, "c", 0, -1); err != nil || g != gen || !bytes.Equal(got, want) {
		t.Fatalf("read after the move: gen %d, equal %v, %v", g, bytes.Equal(got, want), err)
	}
	// Unsynced: every free byte taken leaves the old extents intact.
	s.allocMu.Lock()
	avail := s.avail.free
	s.allocMu.Unlock()
	if err := s.Put(ctx, "filler", randBytes(int(avail), 9)); err != nil {
		t.Fatal(err)
	}
	if buf, bad, err := s.readVerified(ctx, rec0, 0, int64(len(rec0.blocks))); err != nil || bad >= 0 || !bytes.Equal(buf, want) {
		t.Fatalf("the extents the move left before a sync: bad block %d, equal %v, %v", bad, bytes.Equal(buf, want), err)
	}
	if err := s.Delete(ctx, "filler"); err != nil {
		t.Fatal(err)
	}
	if err := s.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if _, used := s.Usage(); used != used0 {
		t.Fatalf("used %d after the sync, want %d", used, used0)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = f.mustOpen(t)
	if rec, err := s.lookup("c"); err != nil || len(rec.exts) != 1 || rec.gen != gen {
		t.Fatalf("after reopen: %v, %v", rec, err)
	}
	if got, g, err := s.GetRangeGen(ctx, "c", 0, -1); err != nil || g != gen || !bytes.Equal(got, want) {
		t.Fatalf("read after reopen: gen %d, equal %v, %v", g, bytes.Equal(got, want), err)
	}
}

// TestCompactSkips: no move of a chunk patched since it was read, of one
// read in part, or of one in few extents.
func TestCompactSkips(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	s := f.format(t, 16<<20, "d1")
	want, gen := scatter(t, s, "d", 2)
	stale, err := s.lookup("d")
	if err != nil {
		t.Fatal(err)
	}
	p := randBytes(disk.BlockSize, 77)
	if gen, err = s.Patch(ctx, "d", 5*disk.BlockSize, p, gen); err != nil {
		t.Fatal(err)
	}
	copy(want[5*disk.BlockSize:], p)
	before, _ := s.lookup("d")
	if err := s.compact(ctx, "d", stale, disk.AlignedBuffer(1<<20)); err != nil {
		t.Fatal(err)
	}
	if after, _ := s.lookup("d"); !slices.Equal(after.exts, before.exts) || after.gen != gen {
		t.Fatal("a chunk patched since the read was moved")
	}
	half := disk.AlignedBuffer(1 << 19)
	if _, err := s.ReadInto(ctx, "d", 0, half); err != nil || !bytes.Equal(half, want[:1<<19]) {
		t.Fatal(err)
	}
	if err := s.Put(ctx, "e", randBytes(1<<20, 3)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ReadInto(ctx, "e", 0, disk.AlignedBuffer(1<<20)); err != nil {
		t.Fatal(err)
	}
	waitCompactions(t, s)
	if after, _ := s.lookup("d"); !slices.Equal(after.exts, before.exts) {
		t.Fatal("a chunk read in part was moved")
	}
	if n := counted(t, s.compacted); n != 0 {
		t.Fatalf("%v compactions counted, want 0", n)
	}
}
