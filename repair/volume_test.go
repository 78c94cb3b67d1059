package repair

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/meta/metapb"
	"google.golang.org/grpc"
)

// genShards is an in-memory chunk store with generations.
type genShards struct {
	nopShards
	mu     sync.Mutex
	chunks map[string][]byte // disk/chunk
	gens   map[string]uint64
	writes []string
	full   map[string]bool // disks whose writes fail
}

func (s *genShards) put(disk, chunk string, b []byte, gen uint64) {
	s.chunks[disk+"/"+chunk], s.gens[disk+"/"+chunk] = b, gen
}

func (s *genShards) ReadShard(_ context.Context, disk, chunk string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.chunks[disk+"/"+chunk]
	if !ok {
		return nil, errs.E("fake", errs.NotFound, chunk)
	}
	return b, nil
}

func (s *genShards) ShardGen(_ context.Context, disk, chunk string) (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.chunks[disk+"/"+chunk]; !ok {
		return 0, errs.E("fake", errs.NotFound, chunk)
	}
	return s.gens[disk+"/"+chunk], nil
}

func (s *genShards) WriteShard(_ context.Context, disk, chunk string, b []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.full[disk] {
		return errs.E("fake", errs.NoSpace, disk)
	}
	s.put(disk, chunk, b, 0)
	s.writes = append(s.writes, disk+"/"+chunk)
	return nil
}

func (s *genShards) DeleteShard(_ context.Context, disk, chunk string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.chunks, disk+"/"+chunk)
	return nil
}

// fakeReplacer answers CheckReplaceChunk and records ReplaceChunk.
type fakeReplacer struct {
	checkErr, replaceErr error
	done                 []*metapb.ReplaceChunkRequest
}

func (f *fakeReplacer) ScanExtents(context.Context, *metapb.ScanExtentsRequest, ...grpc.CallOption) (*metapb.ScanExtentsResponse, error) {
	return &metapb.ScanExtentsResponse{}, nil
}

func (f *fakeReplacer) CheckReplaceChunk(context.Context, *metapb.ReplaceChunkRequest, ...grpc.CallOption) (*metapb.ReplaceChunkResponse, error) {
	if f.checkErr != nil {
		return nil, f.checkErr
	}
	return &metapb.ReplaceChunkResponse{ReadIndex: 42, Volumes: []string{"vol-1"}, Snapshots: []string{"snap-1"}}, nil
}

func (f *fakeReplacer) ReplaceChunk(_ context.Context, in *metapb.ReplaceChunkRequest, _ ...grpc.CallOption) (*metapb.ReplaceChunkResponse, error) {
	if f.replaceErr != nil {
		return nil, f.replaceErr
	}
	f.done = append(f.done, in)
	return &metapb.ReplaceChunkResponse{}, nil
}

func TestVolumeChunkIndex(t *testing.T) {
	idx, prefix, ok := volumeChunkIndex("vol-0123456789abcdef0.000000000000002a.00ff00ff00ff00ff")
	if !ok || idx != 42 || prefix != "vol-0123456789abcdef0.000000000000002a" {
		t.Fatalf("parse: %d %q %v", idx, prefix, ok)
	}
	for _, bad := range []string{"000102030405060708090a0b0c0d0e0f.1", "vol-1.2a.x", "vol-1.zzzzzzzzzzzzzzzz.x"} {
		if _, _, ok := volumeChunkIndex(bad); ok {
			t.Fatalf("%q parsed as a volume chunk", bad)
		}
	}
}

func TestHealChunk(t *testing.T) {
	active, lost := metapb.DiskState_DISK_STATE_ACTIVE, metapb.DiskState_DISK_STATE_LOST
	disks := map[string]*metapb.Disk{
		"a": disk("a", "s1", "z1", active), "b": disk("b", "s2", "z2", active), "x": disk("x", "s3", "z3", lost),
		"a2": disk("a2", "s1", "z1", active), "d": disk("d", "s4", "z3", active),
	}
	live := map[string]bool{"a": true, "b": true, "a2": true, "d": true}
	const chunk = "vol-1.0000000000000007.0123456789abcdef"
	data := bytes.Repeat([]byte("v"), 4096)
	ref := &metapb.ExtentRef{ChunkId: chunk, Disks: []string{"a", "x", "b"}, Refs: 2}
	setup := func(genA, genB uint64) (*Worker, *genShards, *fakeReplacer) {
		sh := &genShards{chunks: map[string][]byte{}, gens: map[string]uint64{}}
		sh.put("a", chunk, data, genA)
		sh.put("b", chunk, data, genB)
		rep := &fakeReplacer{}
		w, err := New(Config{}, Deps{Meta: &fakeMeta{}, Scanner: fakeScanner{}, Shards: sh, Extents: rep, Live: func(context.Context) (map[string]bool, error) { return live, nil }})
		if err != nil {
			t.Fatal(err)
		}
		return w, sh, rep
	}
	ctx := context.Background()

	t.Run("generation 0: same id, one copy", func(t *testing.T) {
		w, sh, rep := setup(0, 0)
		out, err := w.healChunk(ctx, rep, ref, disks, live, nil)
		if out != volHealed || err != nil || len(rep.done) != 1 {
			t.Fatalf("heal: %v %v %v", out, err, rep.done)
		}
		r := rep.done[0]
		// The replacement is on s4 (d): a2 shares s1 with a.
		if r.NewChunkId != chunk || !slices.Equal(r.NewDisks, []string{"a", "d", "b"}) || r.ReadIndex != 42 || r.Index != 7 ||
			!slices.Equal(r.Volumes, []string{"vol-1"}) || !slices.Equal(r.Snapshots, []string{"snap-1"}) {
			t.Fatalf("request %v", r)
		}
		if !slices.Equal(sh.writes, []string{"d/" + chunk}) {
			t.Fatalf("writes %v, want one copy to d", sh.writes)
		}
	})
	t.Run("patched chunk: new id on every disk", func(t *testing.T) {
		w, sh, rep := setup(3, 3)
		if out, err := w.healChunk(ctx, rep, ref, disks, live, nil); out != volHealed || err != nil {
			t.Fatalf("heal: %v %v", out, err)
		}
		r := rep.done[0]
		if r.NewChunkId == chunk || !strings.HasPrefix(r.NewChunkId, "vol-1.0000000000000007.") || !slices.Equal(r.NewDisks, []string{"a", "d", "b"}) {
			t.Fatalf("request %v", r)
		}
		if len(sh.writes) != 3 {
			t.Fatalf("writes %v, want the new chunk on 3 disks", sh.writes)
		}
	})
	t.Run("replicas disagree: copied from the newest", func(t *testing.T) {
		w, sh, rep := setup(2, 3)
		newer := bytes.Repeat([]byte("n"), 4096)
		sh.put("b", chunk, newer, 3)
		if out, err := w.healChunk(ctx, rep, ref, disks, live, nil); out != volHealed || err != nil {
			t.Fatalf("heal: %v %v", out, err)
		}
		r := rep.done[0]
		if r.NewChunkId == chunk {
			t.Fatal("kept the id of replicas that disagree")
		}
		for _, d := range r.NewDisks {
			if b, _ := sh.ReadShard(ctx, d, r.NewChunkId); !bytes.Equal(b, newer) {
				t.Fatalf("copy on %s is not the newest generation's", d)
			}
		}
	})
	t.Run("attached volume: left to its writer", func(t *testing.T) {
		w, sh, rep := setup(0, 0)
		rep.checkErr = errs.E("meta", errs.Precondition, "attached")
		if out, err := w.healChunk(ctx, rep, ref, disks, live, nil); out != volAttached || err != nil || len(sh.writes) != 0 {
			t.Fatalf("heal: %v %v, writes %v", out, err, sh.writes)
		}
	})
	t.Run("attached during the copy: copies removed", func(t *testing.T) {
		w, sh, rep := setup(0, 0)
		rep.replaceErr = errs.E("meta", errs.Precondition, "attached since")
		if out, _ := w.healChunk(ctx, rep, ref, disks, live, nil); out != volAttached {
			t.Fatalf("heal: %v", out)
		}
		if _, err := sh.ReadShard(ctx, "d", chunk); !errs.Is(err, errs.NotFound) {
			t.Fatalf("copy on d left behind: %v", err)
		}
	})
	t.Run("full disk passed over", func(t *testing.T) {
		w, sh, rep := setup(0, 0)
		more := map[string]*metapb.Disk{"e": disk("e", "s5", "z2", active)}
		for k, v := range disks {
			more[k] = v
		}
		l := map[string]bool{"e": true}
		for k, v := range live {
			l[k] = v
		}
		sh.full = map[string]bool{"d": true}
		if out, err := w.healChunk(ctx, rep, ref, more, l, nil); out != volHealed || err != nil {
			t.Fatalf("heal: %v %v", out, err)
		}
		if r := rep.done[0]; !slices.Equal(r.NewDisks, []string{"a", "e", "b"}) {
			t.Fatalf("new disks %v, want the copy on e", r.NewDisks)
		}
	})
	t.Run("no server free", func(t *testing.T) {
		w, sh, rep := setup(0, 0)
		few := map[string]bool{"a": true, "b": true, "a2": true}
		if out, _ := w.healChunk(ctx, rep, ref, disks, few, nil); out != volNoPlace || len(sh.writes) != 0 {
			t.Fatalf("heal: %v, writes %v", out, sh.writes)
		}
	})
}
