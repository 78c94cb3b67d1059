package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/wolke-cloud/wolke/chunk/disk"
	"github.com/wolke-cloud/wolke/internal/errs"
)

// TestCrashBeforeCommit: a Put that wrote its data but never committed
// leaves no trace after a restart: its space is free, its chunk unknown.
func TestCrashBeforeCommit(t *testing.T) {
	f := newFixture(t)
	s := f.format(t, 1<<20, "disk-1")
	ctx := context.Background()
	if err := s.Put(ctx, "kept", []byte("kept data")); err != nil {
		t.Fatal(err)
	}
	_, usedCommitted := s.Usage()
	// Allocate and write, but crash before the commit.
	if err := s.enter("test"); err != nil {
		t.Fatal(err)
	}
	o, err := s.write(ctx, "lost", bytes.Repeat([]byte{0xab}, 200000), nil)
	s.closeMu.RUnlock()
	if err != nil {
		t.Fatal(err)
	}
	if _, used := s.Usage(); used <= usedCommitted {
		t.Fatalf("the uncommitted write reserved nothing (used %d)", used)
	}
	_ = o // never handed to the committer
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = f.mustOpen(t)
	if _, used := s.Usage(); used != usedCommitted {
		t.Fatalf("used after restart = %d, want %d: uncommitted space leaked", used, usedCommitted)
	}
	if _, err := s.Get(ctx, "lost"); !errs.Is(err, errs.NotFound) {
		t.Fatalf("uncommitted chunk after restart: %v, want NotFound", err)
	}
	// All the remaining space is allocatable again.
	capacity, used := s.Usage()
	if err := s.Put(ctx, "fill", make([]byte, capacity-used)); err != nil {
		t.Fatalf("filling the free space: %v", err)
	}
	if got, err := s.Get(ctx, "kept"); err != nil || string(got) != "kept data" {
		t.Fatalf("committed chunk after restart: %q, %v", got, err)
	}
}

// TestOldFreeMapDropped: a free map an earlier version stored in the index
// (here one that forgets a chunk) is neither trusted nor kept: the space
// in use after a reopen is what the records name, and the old keys are
// gone.
func TestOldFreeMapDropped(t *testing.T) {
	f := newFixture(t)
	s := f.format(t, 1<<20, "disk-1")
	ctx := context.Background()
	if err := s.Put(ctx, "a", make([]byte, 50000)); err != nil {
		t.Fatal(err)
	}
	_, want := s.Usage()
	b := s.db.NewBatch()
	start := s.sb.dataStart()
	_ = b.Set(binary.BigEndian.AppendUint64([]byte(freePrefix), uint64(start)), binary.BigEndian.AppendUint64(nil, uint64(s.sb.dataEnd()-start)), nil)
	if err := b.Commit(pebble.Sync); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = f.mustOpen(t)
	if _, used := s.Usage(); used != want {
		t.Fatalf("used = %d after reopen, want %d", used, want)
	}
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte(freePrefix), UpperBound: []byte(freeEnd)})
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	if it.First() {
		t.Fatalf("the old free map is still in the index: %q", it.Key())
	}
}

func TestSpaceReuse(t *testing.T) {
	f := newFixture(t)
	s := f.format(t, 1<<20, "disk-1")
	ctx := context.Background()
	capacity, _ := s.Usage()
	for round := range 3 {
		data := randBytes(int(capacity), uint64(round))
		if err := s.Put(ctx, "all", data); err != nil && round == 0 {
			t.Fatalf("round %d: %v", round, err)
		}
		if err := s.Put(ctx, "more", []byte("x")); !errs.Is(err, errs.NoSpace) {
			t.Fatalf("round %d: Put on a full disk = %v, want NoSpace", round, err)
		}
		if err := s.Delete(ctx, "all"); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		// Space freed by a delete is reusable at once.
		if err := s.Put(ctx, "all", data); err != nil {
			t.Fatalf("round %d: Put after Delete: %v", round, err)
		}
		if got, err := s.Get(ctx, "all"); err != nil || !bytes.Equal(got, data) {
			t.Fatalf("round %d: Get: %v", round, err)
		}
		if err := s.Delete(ctx, "all"); err != nil {
			t.Fatal(err)
		}
	}
}

func TestRefusedDisks(t *testing.T) {
	t.Run("other cluster", func(t *testing.T) {
		f := newFixture(t)
		s := f.format(t, 1<<20, "disk-1")
		_ = s.Close()
		if _, err := f.open(t, "cluster-b"); !errs.Is(err, errs.Precondition) {
			t.Fatalf("Open by another cluster = %v, want Precondition", err)
		}
	})
	t.Run("not a wolke disk", func(t *testing.T) {
		f := newFixture(t)
		if err := os.WriteFile(f.path, bytes.Repeat([]byte("not a disk "), 100000), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := f.open(t, testCluster); !errs.Is(err, errs.Invalid) {
			t.Fatalf("Open of a random file = %v, want Invalid", err)
		}
	})
	t.Run("both superblocks damaged", func(t *testing.T) {
		f := newFixture(t)
		s := f.format(t, 1<<20, "disk-1")
		_ = s.Close()
		smash(t, f.path, 20)
		smash(t, f.path, 1<<20-disk.BlockSize+20)
		if _, err := f.open(t, testCluster); !errs.Is(err, errs.Corrupt) {
			t.Fatalf("Open with both superblocks damaged = %v, want Corrupt", err)
		}
	})
}

// smash flips a byte of the file at off.
func smash(t *testing.T, path string, off int64) {
	t.Helper()
	raw, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	b := make([]byte, 1)
	if _, err := raw.ReadAt(b, off); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0x5a
	if _, err := raw.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
	if err := raw.Sync(); err != nil {
		t.Fatal(err)
	}
}

func TestSuperblockRepair(t *testing.T) {
	cases := []struct {
		name string
		off  int64
	}{
		{"primary", 30},
		{"backup", 1<<20 - disk.BlockSize + 30},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t)
			s := f.format(t, 1<<20, "disk-1")
			if err := s.Put(context.Background(), "x", []byte("survives")); err != nil {
				t.Fatal(err)
			}
			_ = s.Close()
			smash(t, f.path, c.off)
			s = f.mustOpen(t)
			if st := s.Status(); !st.SuperblockRepaired || st.DiskID != "disk-1" {
				t.Fatalf("Status = %+v, want a repaired superblock of disk-1", st)
			}
			if got, err := s.Get(context.Background(), "x"); err != nil || string(got) != "survives" {
				t.Fatalf("Get after repair: %q, %v", got, err)
			}
			_ = s.Close()
			// Both copies are good again.
			s = f.mustOpen(t)
			if st := s.Status(); st.SuperblockRepaired {
				t.Fatal("superblock repaired a second time")
			}
		})
	}
}

// TestReplacedDisk: a new disk file formatted over the index directory of a
// lost disk names the lost disk; an old index beside a different disk is
// detected and reset.
func TestReplacedDisk(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	s := f.format(t, 1<<20, "disk-old")
	if err := s.Put(ctx, "x", []byte("old data")); err != nil {
		t.Fatal(err)
	}
	_ = s.Close()

	// The disk file dies and is replaced by a fresh one formatted over the index.
	if err := os.Remove(f.path); err != nil {
		t.Fatal(err)
	}
	s = f.format(t, 1<<20, "disk-new")
	if got := s.Status().Replaced; got != "disk-old" {
		t.Fatalf("Replaced = %q, want disk-old", got)
	}
	if _, err := s.Get(ctx, "x"); !errs.Is(err, errs.NotFound) {
		t.Fatalf("chunk of the lost disk: %v, want NotFound", err)
	}
	_ = s.Close()
	s = f.mustOpen(t)
	if got := s.Status().Replaced; got != "disk-old" {
		t.Fatalf("Replaced after reopen = %q, want disk-old", got)
	}
	_ = s.Close()

	// Someone copies another formatted disk over the file: the index is reset.
	other := newFixture(t)
	s2 := other.format(t, 1<<20, "disk-other")
	if err := s2.Put(ctx, "y", []byte("other")); err != nil {
		t.Fatal(err)
	}
	_ = s2.Close()
	img, err := os.ReadFile(other.path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f.path, img, 0o600); err != nil {
		t.Fatal(err)
	}
	s = f.mustOpen(t)
	st := s.Status()
	if !st.IndexReset || st.DiskID != "disk-other" || st.Replaced != "disk-new" {
		t.Fatalf("Status = %+v, want an index reset of disk-other replacing disk-new", st)
	}
	if _, used := s.Usage(); used != 0 {
		t.Fatalf("used = %d after an index reset, want 0", used)
	}
}

// syncGate is a disk whose first Sync waits until released, so a test can
// queue Puts behind it.
type syncGate struct {
	disk.Disk
	armed   atomic.Bool
	syncs   atomic.Int32
	release chan struct{}
	once    sync.Once
	entered chan struct{}
}

func (g *syncGate) Sync(ctx context.Context) error {
	if !g.armed.Load() {
		return g.Disk.Sync(ctx)
	}
	if g.syncs.Add(1) == 1 {
		g.once.Do(func() { close(g.entered) })
		<-g.release
	}
	return g.Disk.Sync(ctx)
}

// TestGroupCommit: Puts that queue while a commit is in progress share the
// next disk sync.
func TestGroupCommit(t *testing.T) {
	mem, err := disk.NewMemory(4 << 20)
	if err != nil {
		t.Fatal(err)
	}
	g := &syncGate{Disk: mem, release: make(chan struct{}), entered: make(chan struct{})}
	s, err := Format(context.Background(), g, t.TempDir(), testCluster, "disk-1", Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	g.armed.Store(true)
	ctx := context.Background()
	const queued = 8
	var wg sync.WaitGroup
	errc := make(chan error, queued+1)
	put := func(id string) {
		defer wg.Done()
		if err := s.Put(ctx, id, []byte(id)); err != nil {
			errc <- err
		}
	}
	wg.Add(1)
	go put("first")
	<-g.entered
	for i := range queued {
		wg.Add(1)
		go put(string(rune('a' + i)))
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(s.ops) < queued {
		if time.Now().After(deadline) {
			t.Fatalf("only %d puts queued", len(s.ops))
		}
		time.Sleep(time.Millisecond)
	}
	close(g.release)
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	if n := g.syncs.Load(); n != 2 {
		t.Fatalf("%d disk syncs for %d puts, want 2 (one per group)", n, queued+1)
	}
}
