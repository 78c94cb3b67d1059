package fsm

import (
	"fmt"
	"slices"
	"testing"

	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/meta/metapb"
)

func TestScanExtents(t *testing.T) {
	h := newHarness(t)
	h.must(OpCreateVolume, &metapb.CreateVolumeRequest{Volume: &metapb.Volume{Id: "vol-a", Size: 8 << 20, ExtentSize: 1 << 20}})
	h.must(OpAttachVolume, &metapb.AttachVolumeRequest{Id: "vol-a", Holder: "w", TtlNanos: 1 << 40})
	// Extent i on disks d<i>, d<i+1>, d<i+2>.
	for i := range 6 {
		h.must(OpCommitExtent, &metapb.CommitExtentRequest{VolumeId: "vol-a", Holder: "w", Index: uint64(i), Extent: &metapb.Extent{
			ChunkId: fmt.Sprintf("c%d", i), Disks: []string{fmt.Sprintf("d%d", i), fmt.Sprintf("d%d", i+1), fmt.Sprintf("d%d", i+2)}}})
	}
	// A snapshot shares the chunks: each is visited once, with 2 refs.
	h.must(OpCreateSnapshot, &metapb.CreateSnapshotRequest{Snapshot: &metapb.Snapshot{Id: "snap-a", VolumeId: "vol-a"}})
	// Extent 5 rewritten: c5 stays for the snapshot, c6 is new.
	h.must(OpCommitExtent, &metapb.CommitExtentRequest{VolumeId: "vol-a", Holder: "w", Index: 5, OldChunkId: "c5",
		Extent: &metapb.Extent{ChunkId: "c6", Disks: []string{"d9", "d8", "d7"}}})
	scan := func(limit int32, disks ...string) (ids []string, refs []uint64, pages int) {
		var after []byte
		for {
			resp, err := h.f.ScanExtents(ctx, &metapb.ScanExtentsRequest{After: after, Limit: limit, Disks: disks})
			if err != nil {
				t.Fatal(err)
			}
			pages++
			for _, e := range resp.Extents {
				ids = append(ids, e.ChunkId)
				refs = append(refs, e.Refs)
			}
			if len(resp.Next) == 0 {
				return ids, refs, pages
			}
			after = resp.Next
			if pages > 20 {
				t.Fatal("scan does not end")
			}
		}
	}
	ids, refs, pages := scan(2)
	if !slices.Equal(ids, []string{"c0", "c1", "c2", "c3", "c4", "c5", "c6"}) || !slices.Equal(refs, []uint64{2, 2, 2, 2, 2, 1, 1}) || pages != 4 {
		t.Fatalf("scan: %v refs %v in %d pages", ids, refs, pages)
	}
	if ids, _, _ := scan(0, "d2", "d8"); !slices.Equal(ids, []string{"c0", "c1", "c2", "c6"}) {
		t.Fatalf("scan of d2, d8: %v", ids)
	}
	if ids, _, _ := scan(1, "nope"); len(ids) != 0 {
		t.Fatalf("scan of an unused disk: %v", ids)
	}
	if _, err := h.f.ScanExtents(ctx, &metapb.ScanExtentsRequest{After: []byte("b/x")}); !errs.Is(err, errs.Invalid) {
		t.Fatalf("foreign cursor: %v, want Invalid", err)
	}
}
