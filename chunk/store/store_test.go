package store

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wolke-cloud/wolke/chunk/disk"
	"github.com/wolke-cloud/wolke/internal/errs"
)

const testCluster = "cluster-a"

type fixture struct {
	path, index string
	reg         *prometheus.Registry
}

func newFixture(t *testing.T) *fixture {
	dir := t.TempDir()
	return &fixture{
		path:  filepath.Join(dir, "disk"),
		index: filepath.Join(dir, "disk.index"),
		reg:   prometheus.NewRegistry(),
	}
}

func (f *fixture) opts() Options { return Options{Registry: f.reg} }

// format creates the disk file of size bytes and formats it as diskID.
func (f *fixture) format(t *testing.T, size int64, diskID string) *Store {
	t.Helper()
	d, err := disk.CreateFile(f.path, size)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Format(context.Background(), d, f.index, testCluster, diskID, f.opts())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func (f *fixture) open(t *testing.T, cluster string) (*Store, error) {
	t.Helper()
	d, err := disk.Open(f.path)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(context.Background(), d, f.index, cluster, f.opts())
	if err != nil {
		_ = d.Close()
		return nil, err
	}
	t.Cleanup(func() { _ = s.Close() })
	return s, nil
}

func (f *fixture) mustOpen(t *testing.T) *Store {
	t.Helper()
	s, err := f.open(t, testCluster)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

func randBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// checksumErrors reads wolke_chunk_checksum_errors_total of diskID from reg.
func checksumErrors(t *testing.T, reg *prometheus.Registry, diskID string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "wolke_chunk_checksum_errors_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "disk" && l.GetValue() == diskID {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	t.Fatalf("no checksum error counter for disk %s", diskID)
	return 0
}

func TestRoundTrip(t *testing.T) {
	f := newFixture(t)
	s := f.format(t, 16<<20, "disk-1")
	ctx := context.Background()
	sizes := []int{0, 1, 100, disk.BlockSize - 1, disk.BlockSize, disk.BlockSize + 1, 3*disk.BlockSize + 17, 1<<20 + 3}
	for i, n := range sizes {
		id := fmt.Sprintf("chunk.%d", i)
		data := randBytes(n, uint64(i))
		if err := s.Put(ctx, id, data); err != nil {
			t.Fatalf("Put(%d bytes): %v", n, err)
		}
		got, err := s.Get(ctx, id)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("Get(%d bytes) = %d bytes, %v; want the data back", n, len(got), err)
		}
		info, err := s.Stat(ctx, id)
		if err != nil || info.Length != int64(n) || info.CRC32C != crc32c(data) || info.ID != id {
			t.Fatalf("Stat = %+v, %v", info, err)
		}
		ranges := [][2]int64{{0, int64(n)}, {0, int64(n / 2)}, {int64(n / 3), int64(n - n/3)}, {int64(n), 0}}
		if n > disk.BlockSize+10 {
			ranges = append(ranges, [2]int64{disk.BlockSize - 5, 10}, [2]int64{disk.BlockSize, 1})
		}
		for _, r := range ranges {
			got, err := s.GetRange(ctx, id, r[0], r[1])
			if err != nil || !bytes.Equal(got, data[r[0]:r[0]+r[1]]) {
				t.Fatalf("GetRange(%d bytes chunk, %d, %d) = %d bytes, %v", n, r[0], r[1], len(got), err)
			}
		}
	}
	if _, used := s.Usage(); used == 0 {
		t.Fatal("Usage reports nothing used after puts")
	}
	for i := range sizes {
		id := fmt.Sprintf("chunk.%d", i)
		if err := s.Delete(ctx, id); err != nil {
			t.Fatalf("Delete: %v", err)
		}
		if _, err := s.Get(ctx, id); !errs.Is(err, errs.NotFound) {
			t.Fatalf("Get after Delete = %v, want NotFound", err)
		}
	}
	if _, used := s.Usage(); used != 0 {
		t.Fatalf("used = %d after deleting everything", used)
	}
}

func TestErrors(t *testing.T) {
	f := newFixture(t)
	s := f.format(t, 1<<20, "disk-1")
	ctx := context.Background()
	if err := s.Put(ctx, "a", []byte("hello")); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		err  error
		kind errs.Kind
	}{
		{"get missing", func() error { _, err := s.Get(ctx, "nope"); return err }(), errs.NotFound},
		{"stat missing", func() error { _, err := s.Stat(ctx, "nope"); return err }(), errs.NotFound},
		{"delete missing", s.Delete(ctx, "nope"), errs.NotFound},
		{"empty id", s.Put(ctx, "", []byte("x")), errs.Invalid},
		{"slash id", s.Put(ctx, "a/b", []byte("x")), errs.Invalid},
		{"dotdot id", s.Put(ctx, "..", []byte("x")), errs.Invalid},
		{"too large", s.Put(ctx, "big", make([]byte, MaxChunkSize+1)), errs.Invalid},
		{"no space", s.Put(ctx, "big", make([]byte, 2<<20)), errs.NoSpace},
		{"range past end", func() error { _, err := s.GetRange(ctx, "a", 3, 3); return err }(), errs.Invalid},
		{"negative range", func() error { _, err := s.GetRange(ctx, "a", -1, 2); return err }(), errs.Invalid},
	}
	for _, c := range cases {
		if !errs.Is(c.err, c.kind) {
			t.Errorf("%s: err = %v, want %v", c.name, c.err, c.kind)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, "a"); !errs.Is(err, errs.Unavailable) {
		t.Fatalf("Get after Close = %v, want Unavailable", err)
	}
}

func TestReopenPersistence(t *testing.T) {
	f := newFixture(t)
	s := f.format(t, 8<<20, "disk-1")
	ctx := context.Background()
	want := map[string][]byte{}
	for i := range 5 {
		id := fmt.Sprintf("c%d", i)
		want[id] = randBytes(10000*(i+1), uint64(i))
		if err := s.Put(ctx, id, want[id]); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Delete(ctx, "c2"); err != nil {
		t.Fatal(err)
	}
	delete(want, "c2")
	_, usedBefore := s.Usage()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = f.mustOpen(t)
	if st := s.Status(); st.IndexReset || st.SuperblockRepaired || st.DiskID != "disk-1" {
		t.Fatalf("Status after a clean reopen = %+v", st)
	}
	if _, used := s.Usage(); used != usedBefore {
		t.Fatalf("used = %d after reopen, want %d", used, usedBefore)
	}
	for id, data := range want {
		got, err := s.Get(ctx, id)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("Get(%s) after reopen: %v", id, err)
		}
	}
	if _, err := s.Get(ctx, "c2"); !errs.Is(err, errs.NotFound) {
		t.Fatalf("deleted chunk after reopen: %v", err)
	}
	list, err := s.List(ctx, "c", "", 0)
	if err != nil || len(list) != len(want) {
		t.Fatalf("List = %d entries, %v; want %d", len(list), err, len(want))
	}
}

func TestList(t *testing.T) {
	f := newFixture(t)
	s := f.format(t, 1<<20, "disk-1")
	ctx := context.Background()
	for _, id := range []string{"a.0", "a.1", "a.2", "b.0", "b.1"} {
		if err := s.Put(ctx, id, []byte(id)); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		prefix, after string
		limit         int
		want          []string
	}{
		{"", "", 0, []string{"a.0", "a.1", "a.2", "b.0", "b.1"}},
		{"a.", "", 0, []string{"a.0", "a.1", "a.2"}},
		{"a.", "a.0", 0, []string{"a.1", "a.2"}},
		{"", "a.2", 2, []string{"b.0", "b.1"}},
		{"b.", "", 1, []string{"b.0"}},
		{"c", "", 0, nil},
		{"", "b.1", 0, nil},
	}
	for _, c := range cases {
		got, err := s.List(ctx, c.prefix, c.after, c.limit)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, i := range got {
			ids = append(ids, i.ID)
		}
		if fmt.Sprint(ids) != fmt.Sprint(c.want) {
			t.Errorf("List(%q, %q, %d) = %v, want %v", c.prefix, c.after, c.limit, ids, c.want)
		}
	}
}

func TestCorruptBlockDetected(t *testing.T) {
	f := newFixture(t)
	s := f.format(t, 4<<20, "disk-1")
	ctx := context.Background()
	data := randBytes(3*disk.BlockSize, 9)
	if err := s.Put(ctx, "victim", data); err != nil {
		t.Fatal(err)
	}
	rec, err := s.lookup("victim")
	if err != nil {
		t.Fatal(err)
	}
	// Flip one byte of the second block through the raw file.
	raw, err := os.OpenFile(f.path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	at := rec.exts[0].off + disk.BlockSize + 100
	if _, err := raw.WriteAt([]byte{data[disk.BlockSize+100] ^ 0xff}, at); err != nil {
		t.Fatal(err)
	}
	if err := raw.Sync(); err != nil {
		t.Fatal(err)
	}
	_ = raw.Close()

	if _, err := s.Get(ctx, "victim"); !errs.Is(err, errs.Corrupt) {
		t.Fatalf("Get of a corrupted chunk = %v, want Corrupt", err)
	}
	if got := checksumErrors(t, f.reg, "disk-1"); got != 1 {
		t.Fatalf("checksum error counter = %v, want 1", got)
	}
	// A range that avoids the bad block still reads; one that touches it fails.
	if got, err := s.GetRange(ctx, "victim", 0, disk.BlockSize); err != nil || !bytes.Equal(got, data[:disk.BlockSize]) {
		t.Fatalf("GetRange of a healthy block: %v", err)
	}
	if _, err := s.GetRange(ctx, "victim", disk.BlockSize+50, 100); !errs.Is(err, errs.Corrupt) {
		t.Fatalf("GetRange over the bad block = %v, want Corrupt", err)
	}
}

func TestConcurrentPuts(t *testing.T) {
	f := newFixture(t)
	s := f.format(t, 32<<20, "disk-1")
	ctx := context.Background()
	const workers, each = 8, 6
	var wg sync.WaitGroup
	errc := make(chan error, workers*each)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				id := fmt.Sprintf("w%d.%d", w, i)
				if err := s.Put(ctx, id, randBytes(20000+w*1000+i, uint64(w*100+i))); err != nil {
					errc <- err
				}
			}
		}()
	}
	// Overwrites of one id race with the puts above.
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.Put(ctx, "shared", randBytes(9000, uint64(1000+i))); err != nil {
				errc <- err
			}
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	var want int64
	for w := range workers {
		for i := range each {
			n := 20000 + w*1000 + i
			got, err := s.Get(ctx, fmt.Sprintf("w%d.%d", w, i))
			if err != nil || !bytes.Equal(got, randBytes(n, uint64(w*100+i))) {
				t.Fatalf("chunk w%d.%d: %v", w, i, err)
			}
			want += blocksFor(int64(n)) * disk.BlockSize
		}
	}
	want += blocksFor(9000) * disk.BlockSize // one copy of "shared" survives
	if _, used := s.Usage(); used != want {
		t.Fatalf("used = %d, want %d (overwritten chunks must free their space)", used, want)
	}
}

// TestCorruptBlockInLargeChunk flips one byte in blocks that the piecewise
// read checks at different moments (first piece, a middle piece, the last
// block): every one is found, and the good neighbours still read.
func TestCorruptBlockInLargeChunk(t *testing.T) {
	const blocks = 3*verifyPiece + 7
	for _, bad := range []int64{0, verifyPiece + 5, 2*verifyPiece + 1, blocks - 1} {
		t.Run(fmt.Sprintf("block%d", bad), func(t *testing.T) {
			f := newFixture(t)
			s := f.format(t, 8<<20, "disk-1")
			ctx := context.Background()
			data := randBytes(blocks*disk.BlockSize, 11)
			if err := s.Put(ctx, "big", data); err != nil {
				t.Fatal(err)
			}
			rec, err := s.lookup("big")
			if err != nil {
				t.Fatal(err)
			}
			if len(rec.exts) != 1 {
				t.Fatalf("a fresh disk put the chunk in %d extents, the byte flip below assumes one", len(rec.exts))
			}
			raw, err := os.OpenFile(f.path, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			pos := bad*disk.BlockSize + 7
			if _, err := raw.WriteAt([]byte{data[pos] ^ 0x5a}, rec.exts[0].off+pos); err != nil {
				t.Fatal(err)
			}
			_ = raw.Close()
			if _, err := s.Get(ctx, "big"); !errs.Is(err, errs.Corrupt) {
				t.Fatalf("Get = %v, want Corrupt", err)
			}
			good := (bad + verifyPiece) % blocks
			if got, err := s.GetRange(ctx, "big", good*disk.BlockSize, disk.BlockSize); err != nil || !bytes.Equal(got, data[good*disk.BlockSize:(good+1)*disk.BlockSize]) {
				t.Fatalf("GetRange of good block %d: %v", good, err)
			}
		})
	}
}
