package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"math/rand/v2"
	"testing"

	"github.com/cockroachdb/pebble/v2"

	"github.com/wolke-cloud/wolke/chunk/disk"
	"github.com/wolke-cloud/wolke/internal/errs"
)

// TestPatchNoSync: unsynced patches read back at once; the blocks they
// replace stay intact (not reused, even by a Put that takes all the free
// space) until Sync, so an index that a crash rolled back to before them
// still reads correct blocks; Sync frees them; Close syncs, and a reopened
// store has a new epoch.
func TestPatchNoSync(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	s := f.format(t, 16<<20, "d1")
	orig := randBytes(1<<20, 7)
	if err := s.Put(ctx, "c", orig); err != nil {
		t.Fatal(err)
	}
	rec0, err := s.lookup("c")
	if err != nil {
		t.Fatal(err)
	}
	_, used0 := s.Usage()
	want := bytes.Clone(orig)
	r := rand.New(rand.NewPCG(3, 4))
	gen := uint64(0)
	for i := range 40 {
		off := int64(r.IntN(256)) * disk.BlockSize
		p := randBytes(disk.BlockSize, uint64(i)+100)
		g, err := s.PatchNoSync(ctx, "c", off, p, gen)
		if err != nil || g != gen+1 {
			t.Fatalf("PatchNoSync %d: gen %d, %v", i, g, err)
		}
		gen = g
		copy(want[off:], p)
	}
	if got, g, err := s.GetRangeGen(ctx, "c", 0, -1); err != nil || g != gen || !bytes.Equal(got, want) {
		t.Fatalf("read after unsynced patches: gen %d want %d, equal %v, %v", g, gen, bytes.Equal(got, want), err)
	}
	s.allocMu.Lock()
	avail := s.avail.free
	s.allocMu.Unlock()
	if capacity, used := s.Usage(); avail >= capacity-used {
		t.Fatalf("%d bytes available, %d free: the blocks unsynced patches replaced are reusable before a sync", avail, capacity-used)
	}
	// Take every byte that is free: the replaced blocks are not among
	// them, so they still hold what the chunk's record before the patches
	// (the one a crash could bring back) says.
	if err := s.Put(ctx, "filler", randBytes(int(avail), 9)); err != nil {
		t.Fatal(err)
	}
	buf, bad, err := s.readVerified(ctx, rec0, 0, int64(len(rec0.blocks)))
	if err != nil || bad >= 0 || !bytes.Equal(buf, orig) {
		t.Fatalf("blocks of the chunk before unsynced patches: bad block %d, equal %v, %v", bad, bytes.Equal(buf, orig), err)
	}
	if err := s.Delete(ctx, "filler"); err != nil {
		t.Fatal(err)
	}
	if err := s.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if _, used := s.Usage(); used != used0 {
		t.Fatalf("used %d after Sync, want %d", used, used0)
	}
	epoch := s.Epoch()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = f.mustOpen(t)
	if s.Epoch() == epoch {
		t.Fatal("reopened store kept its epoch")
	}
	if got, g, err := s.GetRangeGen(ctx, "c", 0, -1); err != nil || g != gen || !bytes.Equal(got, want) {
		t.Fatalf("after reopen: gen %d want %d, equal %v, %v", g, gen, bytes.Equal(got, want), err)
	}
}

// TestPatchNoSyncFullDisk: unsynced patches on a nearly full disk sync
// to get the space their predecessors replaced, rather than fail.
func TestPatchNoSyncFullDisk(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	s := f.format(t, 8<<20, "d1")
	capacity, used := s.Usage()
	n := (capacity - used) / 3 / disk.BlockSize * disk.BlockSize
	if err := s.Put(ctx, "c", randBytes(int(n), 1)); err != nil {
		t.Fatal(err)
	}
	gen := uint64(0)
	for i := range 8 {
		p := randBytes(int(n), uint64(i)+2)
		g, err := s.PatchNoSync(ctx, "c", 0, p, gen)
		if err != nil {
			t.Fatalf("whole-chunk PatchNoSync %d: %v", i, err)
		}
		gen = g
		if got, err := s.Get(ctx, "c"); err != nil || !bytes.Equal(got, p) {
			t.Fatalf("read after patch %d: %v", i, err)
		}
	}
}

// journalKey is where stores before 2026-11 journaled the blocks at off.
func journalKey(off int64) []byte {
	return binary.BigEndian.AppendUint64([]byte(journalPrefix), uint64(off))
}

// TestLegacyJournalReplay: stores before 2026-11 journaled the blocks of
// unsynced patches in the index. Open writes such a journal to its places
// on the disk (they may never have reached it) and drops it.
func TestLegacyJournalReplay(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	s := f.format(t, 8<<20, "d1")
	data := randBytes(64<<10, 1)
	if err := s.Put(ctx, "c", data); err != nil {
		t.Fatal(err)
	}
	rec, err := s.lookupIndex("c")
	if err != nil {
		t.Fatal(err)
	}
	// The crash: blocks 1 and 2 never reached the disk, the journal has them.
	off := physBlocks(rec)[1]
	if physBlocks(rec)[2] != off+disk.BlockSize {
		t.Fatal("the test wants blocks 1 and 2 next to each other")
	}
	if err := s.d.WriteAt(ctx, disk.AlignedBuffer(2*disk.BlockSize), off); err != nil {
		t.Fatal(err)
	}
	if err := s.db.Set(journalKey(off), data[disk.BlockSize:3*disk.BlockSize], pebble.Sync); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetRange(ctx, "c", disk.BlockSize, disk.BlockSize); !errs.Is(err, errs.Corrupt) {
		t.Fatalf("smashed block read: %v, want Corrupt (the test smashed the wrong place)", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = f.mustOpen(t)
	if got, err := s.Get(ctx, "c"); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("after replay: equal %v, %v", bytes.Equal(got, data), err)
	}
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte(journalPrefix), UpperBound: journalEnd})
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	if it.First() {
		t.Fatalf("journal entry %x left after Open", it.Key())
	}
}

// TestGetRangeCRC: the CRC GetRangeCRC returns (combined from block CRCs
// for whole blocks) is the CRC32C of the bytes, for any range.
func TestGetRangeCRC(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	s := f.format(t, 8<<20, "d1")
	data := randBytes(300000, 3) // a partial last block
	if err := s.Put(ctx, "c", data); err != nil {
		t.Fatal(err)
	}
	for _, r := range [][2]int64{{0, 4096}, {4096, 65536}, {8192, 300000 - 8192}, {100, 5000}, {0, 300000}, {299999, 1}} {
		got, _, crc, err := s.GetRangeCRC(ctx, "c", r[0], r[1])
		if err != nil || !bytes.Equal(got, data[r[0]:r[0]+r[1]]) || crc != crc32c(got) {
			t.Errorf("range %v: crc %08x want %08x: %v", r, crc, crc32c(data[r[0]:r[0]+r[1]]), err)
		}
	}
}
