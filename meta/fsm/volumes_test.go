package fsm

import (
	"slices"
	"testing"

	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/meta/metapb"
	"google.golang.org/protobuf/proto"
)

func TestVolumeCopyOnWrite(t *testing.T) {
	h := newHarness(t)
	const mib = 1 << 20
	ext := func(chunk string) *metapb.Extent {
		return &metapb.Extent{ChunkId: chunk, Disks: []string{"d1", "d2", "d3"}}
	}
	commit := func(vol, holder string, idx uint64, old, chunk string) *metapb.CommitExtentRequest {
		r := &metapb.CommitExtentRequest{VolumeId: vol, Holder: holder, Index: idx, OldChunkId: old}
		if chunk != "" {
			r.Extent = ext(chunk)
		}
		return r
	}
	newVol := func(id, snap string, size int64) *metapb.CreateVolumeRequest {
		return &metapb.CreateVolumeRequest{Volume: &metapb.Volume{Id: id, Size: size, ExtentSize: mib, SnapshotId: snap}}
	}
	attach := func(vol, holder string) *metapb.AttachVolumeRequest {
		return &metapb.AttachVolumeRequest{Id: vol, Holder: holder, TtlNanos: 1000}
	}
	steps := []struct {
		name    string
		op      Op
		req     proto.Message
		kind    errs.Kind // Other: success
		garbage []string  // the garbage list afterwards
	}{
		{"create", OpCreateVolume, newVol("vol-a", "", 4*mib), errs.Other, nil},
		{"create again", OpCreateVolume, newVol("vol-a", "", 4*mib), errs.Exists, nil},
		{"bad size", OpCreateVolume, newVol("vol-b", "", mib+1), errs.Invalid, nil},
		{"commit unattached", OpCommitExtent, commit("vol-a", "w1", 0, "", "c0"), errs.Precondition, nil},
		{"attach w1", OpAttachVolume, attach("vol-a", "w1"), errs.Other, nil},
		{"attach w2 refused", OpAttachVolume, attach("vol-a", "w2"), errs.Precondition, nil},
		{"commit by w2 refused", OpCommitExtent, commit("vol-a", "w2", 0, "", "c0"), errs.Precondition, nil},
		{"commit 0", OpCommitExtent, commit("vol-a", "w1", 0, "", "c0"), errs.Other, nil},
		{"commit 1", OpCommitExtent, commit("vol-a", "w1", 1, "", "c1"), errs.Other, nil},
		{"commit stale old", OpCommitExtent, commit("vol-a", "w1", 0, "", "cx"), errs.Precondition, nil},
		{"commit past end", OpCommitExtent, commit("vol-a", "w1", 4, "", "cx"), errs.Invalid, nil},
		{"overwrite 1 frees c1", OpCommitExtent, commit("vol-a", "w1", 1, "c1", "c1b"), errs.Other, []string{"c1"}},
		{"snapshot", OpCreateSnapshot, &metapb.CreateSnapshotRequest{Snapshot: &metapb.Snapshot{Id: "snap-1", VolumeId: "vol-a"}}, errs.Other, []string{"c1"}},
		{"overwrite shared 0 keeps c0", OpCommitExtent, commit("vol-a", "w1", 0, "c0", "c0b"), errs.Other, []string{"c1"}},
		{"trim shared 1 keeps c1b", OpCommitExtent, commit("vol-a", "w1", 1, "c1b", ""), errs.Other, []string{"c1"}},
		{"volume from snapshot", OpCreateVolume, newVol("vol-c", "snap-1", 0), errs.Other, []string{"c1"}},
		{"delete snapshot: c0 still in vol-c", OpDeleteSnapshot, &metapb.DeleteSnapshotRequest{Id: "snap-1"}, errs.Other, []string{"c1"}},
		{"delete attached refused", OpDeleteVolume, &metapb.DeleteVolumeRequest{Id: "vol-a"}, errs.Precondition, []string{"c1"}},
		{"detach", OpDetachVolume, &metapb.DetachVolumeRequest{Id: "vol-a", Holder: "w1"}, errs.Other, []string{"c1"}},
		{"delete vol-a frees c0b", OpDeleteVolume, &metapb.DeleteVolumeRequest{Id: "vol-a"}, errs.Other, []string{"c0b", "c1"}},
		{"delete vol-c frees the rest", OpDeleteVolume, &metapb.DeleteVolumeRequest{Id: "vol-c"}, errs.Other, []string{"c0", "c0b", "c1", "c1b"}},
		{"collect", OpDeleteGarbage, &metapb.DeleteGarbageRequest{ChunkIds: []string{"c0", "c1"}}, errs.Other, []string{"c0b", "c1b"}},
	}
	for _, s := range steps {
		_, err := h.do(s.op, s.req)
		if s.kind == errs.Other && err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if s.kind != errs.Other && !errs.Is(err, s.kind) {
			t.Fatalf("%s: err %v, want kind %v", s.name, err, s.kind)
		}
		g, err := h.f.ListGarbage(ctx, &metapb.ListGarbageRequest{})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, c := range g.Chunks {
			got = append(got, c.ChunkId)
		}
		if !slices.Equal(got, s.garbage) {
			t.Fatalf("%s: garbage %v, want %v", s.name, got, s.garbage)
		}
	}
}

func TestVolumeExtentsShared(t *testing.T) {
	h := newHarness(t)
	h.must(OpCreateVolume, &metapb.CreateVolumeRequest{Volume: &metapb.Volume{Id: "vol-a", Size: 2 << 20, ExtentSize: 1 << 20}})
	h.must(OpAttachVolume, &metapb.AttachVolumeRequest{Id: "vol-a", Holder: "w", TtlNanos: 1000})
	for i, c := range []string{"c0", "c1"} {
		h.must(OpCommitExtent, &metapb.CommitExtentRequest{VolumeId: "vol-a", Holder: "w", Index: uint64(i),
			Extent: &metapb.Extent{ChunkId: c, Disks: []string{"d"}}})
	}
	h.must(OpCreateSnapshot, &metapb.CreateSnapshotRequest{Snapshot: &metapb.Snapshot{Id: "snap-x", VolumeId: "vol-a"}})
	h.must(OpCommitExtent, &metapb.CommitExtentRequest{VolumeId: "vol-a", Holder: "w", Index: 1, OldChunkId: "c1",
		Extent: &metapb.Extent{ChunkId: "c2", Disks: []string{"d"}}})
	cases := []struct {
		req    *metapb.ListExtentsRequest
		chunks []string
		shared []uint64
	}{
		{&metapb.ListExtentsRequest{VolumeId: "vol-a"}, []string{"c0", "c2"}, []uint64{0}},
		{&metapb.ListExtentsRequest{SnapshotId: "snap-x"}, []string{"c0", "c1"}, []uint64{0}},
	}
	for _, c := range cases {
		resp, err := h.f.ListExtents(ctx, c.req)
		if err != nil {
			t.Fatal(err)
		}
		var chunks []string
		for _, e := range resp.Extents {
			chunks = append(chunks, e.ChunkId)
		}
		if !slices.Equal(chunks, c.chunks) || !slices.Equal(resp.Shared, c.shared) {
			t.Errorf("%v: chunks %v shared %v, want %v %v", c.req, chunks, resp.Shared, c.chunks, c.shared)
		}
	}
	if _, err := h.f.ListExtents(ctx, &metapb.ListExtentsRequest{VolumeId: "vol-zz"}); !errs.Is(err, errs.NotFound) {
		t.Errorf("missing volume: %v", err)
	}
	// Every snapshot bumps the volume's snapshot sequence (in-place
	// writers watch it), and the writer keeps its lease.
	h.must(OpCreateSnapshot, &metapb.CreateSnapshotRequest{Snapshot: &metapb.Snapshot{Id: "snap-y", VolumeId: "vol-a"}})
	vol, err := h.f.GetVolume(ctx, &metapb.GetVolumeRequest{Id: "vol-a"})
	if err != nil {
		t.Fatal(err)
	}
	if vol.Volume.SnapshotSeq != 2 || vol.Volume.AttachHolder != "w" {
		t.Errorf("after two snapshots: seq %d holder %q, want 2 and w", vol.Volume.SnapshotSeq, vol.Volume.AttachHolder)
	}
}

func TestVolumeLeaseExpiry(t *testing.T) {
	h := newHarness(t)
	h.must(OpCreateVolume, &metapb.CreateVolumeRequest{Volume: &metapb.Volume{Id: "vol-a", Size: 1 << 20, ExtentSize: 1 << 20}})
	h.must(OpCreateVolume, &metapb.CreateVolumeRequest{Volume: &metapb.Volume{Id: "vol-m", Size: 1 << 20, ExtentSize: 1 << 20, MultiAttach: true}})
	attach := func(vol, holder string) error {
		_, err := h.do(OpAttachVolume, &metapb.AttachVolumeRequest{Id: vol, Holder: holder, TtlNanos: 3})
		return err
	}
	if err := attach("vol-a", "w1"); err != nil {
		t.Fatal(err)
	}
	if err := attach("vol-a", "w2"); !errs.Is(err, errs.Precondition) {
		t.Fatalf("second writer within the lease: %v", err)
	}
	// The harness clock moves one tick per command: w1's lease runs out.
	h.must(OpCreateVolume, &metapb.CreateVolumeRequest{Volume: &metapb.Volume{Id: "vol-b", Size: 1 << 20, ExtentSize: 1 << 20}})
	h.must(OpCreateVolume, &metapb.CreateVolumeRequest{Volume: &metapb.Volume{Id: "vol-c", Size: 1 << 20, ExtentSize: 1 << 20}})
	if err := attach("vol-a", "w2"); err != nil {
		t.Fatalf("writer after the lease ran out: %v", err)
	}
	// The old holder is fenced off.
	if _, err := h.do(OpCommitExtent, &metapb.CommitExtentRequest{VolumeId: "vol-a", Holder: "w1",
		Extent: &metapb.Extent{ChunkId: "c", Disks: []string{"d"}}}); !errs.Is(err, errs.Precondition) {
		t.Fatalf("commit by the old holder: %v", err)
	}
	// Multi-attach volumes take any number of writers.
	for _, w := range []string{"w1", "w2", "w3"} {
		if err := attach("vol-m", w); err != nil {
			t.Fatalf("multi-attach %s: %v", w, err)
		}
	}
}

func TestVolumeExtentPages(t *testing.T) {
	h := newHarness(t)
	h.must(OpCreateVolume, &metapb.CreateVolumeRequest{Volume: &metapb.Volume{Id: "vol-p", Size: 8 << 20, ExtentSize: 1 << 20}})
	h.must(OpAttachVolume, &metapb.AttachVolumeRequest{Id: "vol-p", Holder: "w", TtlNanos: 1 << 40})
	for _, i := range []uint64{0, 2, 3, 5, 7} {
		h.must(OpCommitExtent, &metapb.CommitExtentRequest{VolumeId: "vol-p", Holder: "w", Index: i,
			Extent: &metapb.Extent{ChunkId: "c" + string(rune('0'+i)), Disks: []string{"d"}}})
	}
	cases := []struct {
		start     uint64
		limit     int32
		indexes   []uint64
		truncated bool
		next      uint64
	}{
		{0, 0, []uint64{0, 2, 3, 5, 7}, false, 0},
		{0, 2, []uint64{0, 2}, true, 3},
		{3, 2, []uint64{3, 5}, true, 6},
		{6, 2, []uint64{7}, false, 0},
		{1, 5, []uint64{2, 3, 5, 7}, false, 0},
		{8, 5, nil, false, 0},
	}
	for _, c := range cases {
		resp, err := h.f.ListExtents(ctx, &metapb.ListExtentsRequest{VolumeId: "vol-p", StartIndex: c.start, Limit: c.limit})
		if err != nil {
			t.Fatal(err)
		}
		var got []uint64
		for _, e := range resp.Extents {
			got = append(got, e.Index)
		}
		if !slices.Equal(got, c.indexes) || resp.Truncated != c.truncated || resp.NextIndex != c.next {
			t.Errorf("start %d limit %d: %v truncated %v next %d; want %v %v %d",
				c.start, c.limit, got, resp.Truncated, resp.NextIndex, c.indexes, c.truncated, c.next)
		}
	}
}
