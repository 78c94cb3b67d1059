package fsm

import (
	"slices"
	"strings"
	"testing"

	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/meta/metapb"
)

// replaceFixture: vol-a (attached by w1, then detached) with chunks c0 at
// extent 0 and c1 at extent 1, snapshot snap-1 sharing both, then vol-a
// rewrites extent 1 to c1b: c0 is shared by the volume and the snapshot,
// c1 is the snapshot's only, c1b the volume's only.
func replaceFixture(t *testing.T) *harness {
	h := newHarness(t)
	const mib = 1 << 20
	h.must(OpCreateVolume, &metapb.CreateVolumeRequest{Volume: &metapb.Volume{Id: "vol-a", Size: 4 * mib, ExtentSize: mib}})
	h.must(OpAttachVolume, &metapb.AttachVolumeRequest{Id: "vol-a", Holder: "w1", TtlNanos: 1 << 40})
	for i, c := range []string{"c0", "c1"} {
		h.must(OpCommitExtent, &metapb.CommitExtentRequest{VolumeId: "vol-a", Holder: "w1", Index: uint64(i),
			Extent: &metapb.Extent{ChunkId: c, Disks: []string{"d1", "d2", "d3"}}})
	}
	h.must(OpCreateSnapshot, &metapb.CreateSnapshotRequest{Snapshot: &metapb.Snapshot{Id: "snap-1", VolumeId: "vol-a"}})
	h.must(OpCommitExtent, &metapb.CommitExtentRequest{VolumeId: "vol-a", Holder: "w1", Index: 1, OldChunkId: "c1",
		Extent: &metapb.Extent{ChunkId: "c1b", Disks: []string{"d1", "d2", "d3"}}})
	h.must(OpDetachVolume, &metapb.DetachVolumeRequest{Id: "vol-a", Holder: "w1"})
	return h
}

func (h *harness) extentOf(vol, snap string, idx uint64) *metapb.Extent {
	h.t.Helper()
	resp, err := h.f.ListExtents(ctx, &metapb.ListExtentsRequest{VolumeId: vol, SnapshotId: snap, StartIndex: idx, Limit: 1})
	if err != nil || len(resp.Extents) == 0 || resp.Extents[0].Index != idx {
		h.t.Fatalf("extent %d of %s%s: %v %v", idx, vol, snap, resp, err)
	}
	return resp.Extents[0]
}

func (h *harness) refOf(chunk string) *metapb.ExtentRef {
	h.t.Helper()
	resp, err := h.f.ScanExtents(ctx, &metapb.ScanExtentsRequest{})
	if err != nil {
		h.t.Fatal(err)
	}
	for _, r := range resp.Extents {
		if r.ChunkId == chunk {
			return r
		}
	}
	return nil
}

func TestReplaceChunkSharedBySnapshot(t *testing.T) {
	h := replaceFixture(t)
	req := &metapb.ReplaceChunkRequest{ChunkId: "c0", Index: 0, Disks: []string{"d1", "d2", "d3"}, NewChunkId: "c0", NewDisks: []string{"d1", "d4", "d3"}}
	chk, err := h.f.CheckReplaceChunk(ctx, req)
	if err != nil || chk.Maps != 2 || chk.ReadIndex != h.idx || !slices.Equal(chk.Volumes, []string{"vol-a"}) || !slices.Equal(chk.Snapshots, []string{"snap-1"}) {
		t.Fatalf("check: %v %v, want vol-a and snap-1 at index %d", chk, err, h.idx)
	}
	if _, err := h.do(OpReplaceChunk, req); !errs.Is(err, errs.Invalid) {
		t.Fatalf("without read index: %v, want invalid", err)
	}
	req.ReadIndex = chk.ReadIndex
	req.Volumes = chk.Volumes
	if _, err := h.do(OpReplaceChunk, req); !errs.Is(err, errs.Precondition) {
		t.Fatalf("without the snapshot: %v, want precondition", err)
	}
	req.Snapshots = chk.Snapshots
	resp := h.must(OpReplaceChunk, req).(*metapb.ReplaceChunkResponse)
	if resp.Maps != 2 {
		t.Fatalf("maps %d, want 2", resp.Maps)
	}
	for _, e := range []*metapb.Extent{h.extentOf("vol-a", "", 0), h.extentOf("", "snap-1", 0)} {
		if e.ChunkId != "c0" || !slices.Equal(e.Disks, req.NewDisks) {
			t.Fatalf("extent after the swap: %v", e)
		}
	}
	if r := h.refOf("c0"); r == nil || r.Refs != 2 || !slices.Equal(r.Disks, req.NewDisks) {
		t.Fatalf("ref after the swap: %v", r)
	}
	// The same request again: the disks moved.
	if _, err := h.do(OpReplaceChunk, req); !errs.Is(err, errs.Precondition) {
		t.Fatalf("stale disks: %v, want precondition", err)
	}
	// Untouched: the other chunks.
	if e := h.extentOf("", "snap-1", 1); e.ChunkId != "c1" || !slices.Equal(e.Disks, []string{"d1", "d2", "d3"}) {
		t.Fatalf("snapshot extent 1: %v", e)
	}
}

func TestReplaceChunkNewID(t *testing.T) {
	h := replaceFixture(t)
	req := &metapb.ReplaceChunkRequest{ChunkId: "c0", Index: 0, Disks: []string{"d1", "d2", "d3"}, NewChunkId: "c0n", NewDisks: []string{"d1", "d3", "d4"}}
	chk, err := h.f.CheckReplaceChunk(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	req.ReadIndex, req.Volumes, req.Snapshots = chk.ReadIndex, chk.Volumes, chk.Snapshots
	h.must(OpReplaceChunk, req)
	for _, e := range []*metapb.Extent{h.extentOf("vol-a", "", 0), h.extentOf("", "snap-1", 0)} {
		if e.ChunkId != "c0n" || !slices.Equal(e.Disks, req.NewDisks) {
			t.Fatalf("extent after the move: %v", e)
		}
	}
	if r := h.refOf("c0n"); r == nil || r.Refs != 2 {
		t.Fatalf("new ref: %v", r)
	}
	if r := h.refOf("c0"); r != nil {
		t.Fatalf("old ref left: %v", r)
	}
	g, err := h.f.ListGarbage(ctx, &metapb.ListGarbageRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Chunks) != 1 || g.Chunks[0].ChunkId != "c0" || !slices.Equal(g.Chunks[0].Disks, []string{"d1", "d3"}) {
		t.Fatalf("garbage %v, want c0 on the kept disks d1 d3", g.Chunks)
	}
	// Moving onto a chunk id already mapped is refused.
	bad := &metapb.ReplaceChunkRequest{ChunkId: "c1", Index: 1, Disks: []string{"d1", "d2", "d3"}, NewChunkId: "c0n", NewDisks: []string{"d4"}, ReadIndex: h.idx, Snapshots: []string{"snap-1"}}
	if _, err := h.do(OpReplaceChunk, bad); !errs.Is(err, errs.Exists) {
		t.Fatalf("onto a mapped id: %v, want exists", err)
	}
}

func TestReplaceChunkConflicts(t *testing.T) {
	h := replaceFixture(t)
	base := func() *metapb.ReplaceChunkRequest {
		return &metapb.ReplaceChunkRequest{ChunkId: "c1b", Index: 1, Disks: []string{"d1", "d2", "d3"}, NewChunkId: "c1b", NewDisks: []string{"d4", "d2", "d3"}, ReadIndex: h.idx, Volumes: []string{"vol-a"}}
	}
	cases := []struct {
		name  string
		edit  func(r *metapb.ReplaceChunkRequest)
		kind  errs.Kind
		ckind errs.Kind // CheckReplaceChunk's, when not kind (it searches the maps itself)
	}{
		{"disks changed", func(r *metapb.ReplaceChunkRequest) { r.Disks = []string{"d1", "d2", "d9"} }, errs.Precondition, errs.Other},
		{"disks reordered", func(r *metapb.ReplaceChunkRequest) { r.Disks = []string{"d2", "d1", "d3"} }, errs.Precondition, errs.Other},
		{"wrong index", func(r *metapb.ReplaceChunkRequest) { r.Index = 2 }, errs.Precondition, errs.Internal},
		{"a map not named", func(r *metapb.ReplaceChunkRequest) { r.Volumes = nil }, errs.Precondition, errs.Other},
		{"a map named twice", func(r *metapb.ReplaceChunkRequest) { r.Volumes = []string{"vol-a", "vol-a"} }, errs.Precondition, errs.Other},
		{"a map that does not hold it", func(r *metapb.ReplaceChunkRequest) { r.Snapshots = []string{"snap-1"} }, errs.Precondition, errs.Other},
		{"unknown chunk", func(r *metapb.ReplaceChunkRequest) { r.ChunkId, r.NewChunkId = "cx", "cx" }, errs.Precondition, errs.Other},
		{"repeated disks", func(r *metapb.ReplaceChunkRequest) { r.NewDisks = []string{"d2", "d2", "d3"} }, errs.Invalid, errs.Other},
	}
	for _, c := range cases {
		r := base()
		c.edit(r)
		if _, err := h.do(OpReplaceChunk, r); !errs.Is(err, c.kind) {
			t.Fatalf("%s: %v, want %v", c.name, err, c.kind)
		}
		ck := c.kind
		if c.ckind != errs.Other {
			ck = c.ckind
		}
		if _, err := h.f.CheckReplaceChunk(ctx, r); strings.HasPrefix(c.name, "a map") {
			if err != nil {
				t.Fatalf("check %s: %v (it ignores the names)", c.name, err)
			}
		} else if !errs.Is(err, ck) {
			t.Fatalf("check %s: %v, want %v", c.name, err, ck)
		}
	}
	// A volume attached after the caller's read refuses the swap even once
	// detached again: its writer may have patched the chunk in place.
	chk, err := h.f.CheckReplaceChunk(ctx, base())
	if err != nil {
		t.Fatal(err)
	}
	h.must(OpAttachVolume, &metapb.AttachVolumeRequest{Id: "vol-a", Holder: "w2", TtlNanos: 1 << 62})
	r := base()
	r.ReadIndex = chk.ReadIndex
	if _, err := h.do(OpReplaceChunk, r); !errs.Is(err, errs.Precondition) {
		t.Fatalf("while attached: %v, want precondition", err)
	}
	if _, err := h.f.CheckReplaceChunk(ctx, r); !errs.Is(err, errs.Precondition) {
		t.Fatalf("check while attached: %v, want precondition", err)
	}
	h.must(OpDetachVolume, &metapb.DetachVolumeRequest{Id: "vol-a", Holder: "w2"})
	if _, err := h.do(OpReplaceChunk, r); !errs.Is(err, errs.Precondition) {
		t.Fatalf("attached since the read: %v, want precondition", err)
	}
	// A fresh check and the swap goes through; the snapshot's own chunk
	// is swapped whatever the volume does.
	chk, err = h.f.CheckReplaceChunk(ctx, base())
	if err != nil {
		t.Fatal(err)
	}
	r.ReadIndex = chk.ReadIndex
	h.must(OpReplaceChunk, r)
	if e := h.extentOf("vol-a", "", 1); !slices.Equal(e.Disks, r.NewDisks) {
		t.Fatalf("volume extent 1: %v", e)
	}
	h.must(OpAttachVolume, &metapb.AttachVolumeRequest{Id: "vol-a", Holder: "w3", TtlNanos: 1 << 40})
	snapOnly := &metapb.ReplaceChunkRequest{ChunkId: "c1", Index: 1, Disks: []string{"d1", "d2", "d3"}, NewChunkId: "c1", NewDisks: []string{"d1", "d2", "d5"}, ReadIndex: h.idx, Snapshots: []string{"snap-1"}}
	h.must(OpReplaceChunk, snapOnly)
	if e := h.extentOf("", "snap-1", 1); !slices.Equal(e.Disks, snapOnly.NewDisks) {
		t.Fatalf("snapshot extent 1: %v", e)
	}
}

// A coded chunk (data_shards 2 of 3 disks) keeps its shard count when its
// disks are swapped, and moves to replicas only under a new id with
// replicate; replicate is refused for a replicated chunk. Its reference
// record carries data_shards, and the maps lose it with replicate.
func TestReplaceChunkCoded(t *testing.T) {
	h := replaceFixture(t)
	h.must(OpAttachVolume, &metapb.AttachVolumeRequest{Id: "vol-a", Holder: "w2", TtlNanos: 1 << 40})
	h.must(OpCommitExtent, &metapb.CommitExtentRequest{VolumeId: "vol-a", Holder: "w2", Index: 2,
		Extent: &metapb.Extent{ChunkId: "k2", Disks: []string{"d1", "d2", "d3"}, DataShards: 2}})
	if _, err := h.do(OpCommitExtent, &metapb.CommitExtentRequest{VolumeId: "vol-a", Holder: "w2", Index: 3,
		Extent: &metapb.Extent{ChunkId: "k3", Disks: []string{"d1", "d2"}, DataShards: 2}}); !errs.Is(err, errs.Invalid) {
		t.Fatalf("coded extent without parity: %v, want invalid", err)
	}
	h.must(OpDetachVolume, &metapb.DetachVolumeRequest{Id: "vol-a", Holder: "w2"})
	if r := h.refOf("k2"); r == nil || r.DataShards != 2 {
		t.Fatalf("reference of the coded chunk: %v", r)
	}
	try := func(req *metapb.ReplaceChunkRequest) error {
		chk, err := h.f.CheckReplaceChunk(ctx, req)
		if err != nil {
			return err
		}
		req.ReadIndex, req.Volumes, req.Snapshots = chk.ReadIndex, chk.Volumes, chk.Snapshots
		_, err = h.do(OpReplaceChunk, req)
		return err
	}
	old := []string{"d1", "d2", "d3"}
	for name, req := range map[string]*metapb.ReplaceChunkRequest{
		"shards dropped":     {ChunkId: "k2", Index: 2, Disks: old, NewChunkId: "k2", NewDisks: []string{"d1", "d4"}},
		"replicate in place": {ChunkId: "k2", Index: 2, Disks: old, NewChunkId: "k2", NewDisks: []string{"d4", "d5", "d6"}, Replicate: true},
		"replicate replicas": {ChunkId: "c0", Index: 0, Disks: old, NewChunkId: "c0x", NewDisks: []string{"d4", "d5", "d6"}, Replicate: true},
	} {
		if err := try(req); !errs.Is(err, errs.Invalid) {
			t.Errorf("%s: %v, want invalid", name, err)
		}
	}
	if err := try(&metapb.ReplaceChunkRequest{ChunkId: "k2", Index: 2, Disks: old, NewChunkId: "k2", NewDisks: []string{"d1", "d4", "d3"}}); err != nil {
		t.Fatalf("shard swapped in place: %v", err)
	}
	if e := h.extentOf("vol-a", "", 2); e.DataShards != 2 || !slices.Equal(e.Disks, []string{"d1", "d4", "d3"}) {
		t.Fatalf("after the shard swap: %v", e)
	}
	if err := try(&metapb.ReplaceChunkRequest{ChunkId: "k2", Index: 2, Disks: []string{"d1", "d4", "d3"}, NewChunkId: "k2r", NewDisks: []string{"d5", "d6", "d7"}, Replicate: true}); err != nil {
		t.Fatalf("replicate: %v", err)
	}
	if e := h.extentOf("vol-a", "", 2); e.DataShards != 0 || e.ChunkId != "k2r" {
		t.Fatalf("after replicate: %v", e)
	}
	if r := h.refOf("k2r"); r == nil || r.DataShards != 0 || r.Refs != 1 {
		t.Fatalf("reference after replicate: %v", r)
	}
}
