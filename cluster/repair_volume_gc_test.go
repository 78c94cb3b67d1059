package cluster

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/meta/metapb"
)

// Volume chunks that no map holds where they are (a writer that crashed
// between storing a chunk and committing it; a replica left on a disk the
// chunk is not mapped on) are deleted once older than VolumeGCGrace. Every
// replica a volume or snapshot maps, and chunks of other services, stay.
func TestVolumeGarbageChunks(t *testing.T) {
	opts := durabilityOpts(t.TempDir())
	opts.Durability.VolumeGCGrace = -1 // at once
	c := Start(t, opts)
	vid, sid, vol, snap := volumeImage(t, c)
	ctx := context.Background()
	sh := c.Volumes().Shards()
	exts := extentMap(t, c, vid, "")
	dresp, err := c.Meta().ListDisks(ctx, &metapb.ListDisksRequest{})
	if err != nil {
		t.Fatal(err)
	}
	put := func(disk, chunk string, b []byte) {
		t.Helper()
		if err := sh.WriteShard(ctx, disk, chunk, b); err != nil {
			t.Fatalf("put %s on %s: %v", chunk, disk, err)
		}
	}
	// A new chunk of extent 3, stored on three disks and never committed.
	orphan := fmt.Sprintf("%s.%016x.%s", vid, 3, "00c0ffee00c0ffee")
	for _, d := range exts[3].Disks {
		put(d, orphan, payload(20, volTestExtent))
	}
	// A replica of extent 0's chunk on a disk the map does not name.
	stray := ""
	for _, d := range dresp.Disks {
		if !slices.Contains(exts[0].Disks, d.Id) {
			stray = d.Id
			break
		}
	}
	put(stray, exts[0].ChunkId, vol[:volTestExtent])
	// Another service's chunk.
	put(stray, "kept-by-another-service", []byte("keep"))

	pass(t, c)

	gone := func(disk, chunk string) bool {
		_, err := sh.ReadShardRange(ctx, disk, chunk, 0, 1)
		if err != nil && !errs.Is(err, errs.NotFound) {
			t.Fatalf("read %s on %s: %v", chunk, disk, err)
		}
		return err != nil
	}
	for _, d := range exts[3].Disks {
		if !gone(d, orphan) {
			t.Errorf("uncommitted chunk %s still on %s", orphan, d)
		}
	}
	if !gone(stray, exts[0].ChunkId) {
		t.Errorf("replica of %s on %s, a disk its map does not name, still there", exts[0].ChunkId, stray)
	}
	if gone(stray, "kept-by-another-service") {
		t.Error("another service's chunk was deleted")
	}
	if st := c.Repair().Status(); st.GCDeleted < 4 || st.LastError != "" {
		t.Errorf("status after the pass: %+v", st)
	}
	checkReplicas(t, c, vid, extentMap(t, c, vid, ""), vol, nil)
	checkReplicas(t, c, sid, extentMap(t, c, "", sid), snap, nil)
	readExport(t, c, vid, vol)
	readExport(t, c, sid, snap)
}
