package volume_test

import (
	"bytes"
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wolke-cloud/wolke/block/nbd"
	"github.com/wolke-cloud/wolke/block/nbd/nbdtest"
	"github.com/wolke-cloud/wolke/cluster"
	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/meta/metapb"
)

// env is one cluster shared by the subtests of TestVolumes.
type env struct {
	c   *cluster.Cluster
	ctx context.Context
}

func (e *env) create(t testing.TB, size int64, snap string) string {
	t.Helper()
	resp, err := e.c.Meta().Volumes().CreateVolume(e.ctx, &metapb.CreateVolumeRequest{Volume: &metapb.Volume{
		Size: size, ExtentSize: 1 << 20, SnapshotId: snap, Zone: "z1",
	}})
	if err != nil {
		t.Fatalf("CreateVolume: %v", err)
	}
	return resp.Volume.Id
}

func (e *env) open(t *testing.T, name string, readOnly bool) nbd.Export {
	t.Helper()
	x, info, err := e.c.Volumes().Open(e.ctx, name, readOnly)
	if err != nil {
		t.Fatalf("Open(%s): %v", name, err)
	}
	if info.Size != x.Size() || info.Name != name {
		t.Fatalf("Open(%s): info %+v, size %d", name, info, x.Size())
	}
	return x
}

func (e *env) read(t *testing.T, x nbd.Export, off, n int64) []byte {
	t.Helper()
	p := make([]byte, n)
	if err := x.ReadAt(e.ctx, p, off); err != nil {
		t.Fatalf("ReadAt(%d, %d): %v", off, n, err)
	}
	return p
}

func fill(n int, b byte) []byte { return bytes.Repeat([]byte{b}, n) }

func TestVolumes(t *testing.T) {
	e := &env{c: cluster.Start(t, cluster.Options{}), ctx: context.Background()}

	t.Run("Export", func(t *testing.T) {
		nbdtest.TestExport(t, func(t *testing.T, size int64) nbd.Export {
			return e.open(t, e.create(t, size, ""), false)
		})
	})
	t.Run("Snapshot", func(t *testing.T) { testSnapshot(t, e) })
	t.Run("SingleWriter", func(t *testing.T) { testSingleWriter(t, e) })
	t.Run("ChunkServerDown", func(t *testing.T) { testChunkServerDown(t, e) })
	t.Run("Garbage", func(t *testing.T) { testGarbage(t, e) })
	t.Run("MultiAttach", func(t *testing.T) { testMultiAttach(t, e) })
}

// testMultiAttach: two writers of a multi-attach volume write halves of
// the same extent; each write reloads and retries when the other moved
// the extent first, so neither loses the other's data.
func testMultiAttach(t *testing.T, e *env) {
	resp, err := e.c.Meta().Volumes().CreateVolume(e.ctx, &metapb.CreateVolumeRequest{Volume: &metapb.Volume{
		Size: 1 << 20, ExtentSize: 1 << 20, MultiAttach: true,
	}})
	if err != nil {
		t.Fatal(err)
	}
	vid := resp.Volume.Id
	a, info, err := e.c.Volumes().Open(e.ctx, vid, false)
	if err != nil || !info.MultiConn {
		t.Fatalf("open: %v, multi-conn %v", err, info.MultiConn)
	}
	defer a.Close()
	b := e.open(t, vid, false)
	defer b.Close()
	half := int64(512 << 10)
	for i := range 4 {
		x, off := a, int64(0)
		if i%2 == 1 {
			x, off = b, half
		}
		if err := x.WriteAt(e.ctx, fill(int(half), byte(i+1)), off, false); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
	}
	want := append(fill(int(half), 3), fill(int(half), 4)...)
	for name, x := range map[string]nbd.Export{"a": a, "b": b} {
		deadline := time.Now().Add(5 * time.Second)
		for !bytes.Equal(e.read(t, x, 0, 1<<20), want) {
			if time.Now().After(deadline) {
				t.Fatalf("writer %s does not read both writers' data", name)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
}

func testSnapshot(t *testing.T, e *env) {
	vid := e.create(t, 4<<20, "")
	x := e.open(t, vid, false)
	defer x.Close()
	if err := x.WriteAt(e.ctx, fill(3<<20, 'a'), 0, true); err != nil {
		t.Fatal(err)
	}
	snap, err := e.c.Meta().Volumes().CreateSnapshot(e.ctx, &metapb.CreateSnapshotRequest{Snapshot: &metapb.Snapshot{VolumeId: vid}})
	if err != nil {
		t.Fatal(err)
	}
	sid := snap.Snapshot.Id
	// Overwrite part of one extent and all of another after the snapshot.
	if err := x.WriteAt(e.ctx, fill(4096, 'b'), 4096, false); err != nil {
		t.Fatal(err)
	}
	if err := x.WriteAt(e.ctx, fill(1<<20, 'c'), 1<<20, false); err != nil {
		t.Fatal(err)
	}
	if err := x.Trim(e.ctx, 2<<20, 1<<20); err != nil {
		t.Fatal(err)
	}
	want := fill(3<<20, 'a')
	copy(want[4096:], fill(4096, 'b'))
	copy(want[1<<20:], fill(1<<20, 'c'))
	copy(want[2<<20:], make([]byte, 1<<20))
	if !bytes.Equal(e.read(t, x, 0, 3<<20), want) {
		t.Error("volume does not read its own writes after the snapshot")
	}
	clone := e.open(t, e.create(t, 8<<20, sid), false)
	defer clone.Close()
	sx := e.open(t, sid, true)
	defer sx.Close()
	for name, y := range map[string]nbd.Export{"clone": clone, "snapshot": sx} {
		if !bytes.Equal(e.read(t, y, 0, 3<<20), fill(3<<20, 'a')) {
			t.Errorf("%s: does not read the data of the snapshot time", name)
		}
	}
	if clone.Size() != 8<<20 {
		t.Errorf("clone size %d", clone.Size())
	}
	if err := sx.WriteAt(e.ctx, fill(512, 1), 0, false); !errs.Is(err, errs.Permission) {
		t.Errorf("write to a snapshot: %v", err)
	}
	// The clone's own writes do not reach the snapshot.
	if err := clone.WriteAt(e.ctx, fill(512, 'z'), 0, false); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(e.read(t, sx, 0, 512), fill(512, 'a')) {
		t.Error("a clone's write changed its snapshot")
	}
}

func testSingleWriter(t *testing.T, e *env) {
	vid := e.create(t, 1<<20, "")
	x := e.open(t, vid, false)
	if _, _, err := e.c.Volumes().Open(e.ctx, vid, false); !errs.Is(err, errs.Precondition) {
		t.Fatalf("second writer: %v, want Precondition", err)
	}
	r := e.open(t, vid, true)
	if err := x.WriteAt(e.ctx, fill(512, 9), 0, false); err != nil {
		t.Fatal(err)
	}
	// A reader follows the writer's commits within ReaderRefresh (1s).
	deadline := time.Now().Add(5 * time.Second)
	for !bytes.Equal(e.read(t, r, 0, 512), fill(512, 9)) {
		if time.Now().After(deadline) {
			t.Fatal("reader does not see the writer's data")
		}
		time.Sleep(200 * time.Millisecond)
	}
	r.Close()
	x.Close()
	y := e.open(t, vid, false)
	y.Close()
	if _, _, err := e.c.Volumes().Open(e.ctx, "vol-00000000000000000", true); !errs.Is(err, errs.NotFound) {
		t.Errorf("missing volume: %v", err)
	}
}

func testChunkServerDown(t *testing.T, e *env) {
	vid := e.create(t, 4<<20, "")
	x := e.open(t, vid, false)
	defer x.Close()
	if err := x.WriteAt(e.ctx, fill(2<<20, 5), 0, true); err != nil {
		t.Fatal(err)
	}
	ext, err := e.c.Meta().Volumes().ListExtents(e.ctx, &metapb.ListExtentsRequest{VolumeId: vid})
	if err != nil || len(ext.Extents) != 2 {
		t.Fatalf("extents %v: %v", ext, err)
	}
	// Stop the server of the replica a reader of extent 0 tries first.
	disks, err := e.c.Meta().ListDisks(e.ctx, &metapb.ListDisksRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var server string
	for _, d := range disks.Disks {
		if d.Id == ext.Extents[0].Disks[0] {
			server = d.Server
		}
	}
	i, err := strconv.Atoi(strings.TrimPrefix(server, "c"))
	if err != nil {
		t.Fatalf("server %q", server)
	}
	if err := e.c.StopChunk(i); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := e.c.StartChunk(e.ctx, i); err != nil {
			t.Error(err)
		}
	}()
	if !bytes.Equal(e.read(t, x, 0, 2<<20), fill(2<<20, 5)) {
		t.Error("read with a chunk server down")
	}
	// Partial (read-modify-write) and whole-extent writes still land on 3 disks.
	if err := x.WriteAt(e.ctx, fill(4096, 6), 8192, true); err != nil {
		t.Fatalf("write with a chunk server down: %v", err)
	}
	if err := x.WriteAt(e.ctx, fill(1<<20, 7), 3<<20, false); err != nil {
		t.Fatalf("write with a chunk server down: %v", err)
	}
	want := fill(2<<20, 5)
	copy(want[8192:], fill(4096, 6))
	if !bytes.Equal(e.read(t, x, 0, 2<<20), want) || !bytes.Equal(e.read(t, x, 3<<20, 1<<20), fill(1<<20, 7)) {
		t.Error("data differs after writes with a chunk server down")
	}
	ext, err = e.c.Meta().Volumes().ListExtents(e.ctx, &metapb.ListExtentsRequest{VolumeId: vid})
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range ext.Extents {
		if len(x.Disks) != 3 {
			t.Errorf("extent %d on %d disks", x.Index, len(x.Disks))
		}
	}
}

func testGarbage(t *testing.T, e *env) {
	vid := e.create(t, 2<<20, "")
	x := e.open(t, vid, false)
	for b := range byte(3) {
		if err := x.WriteAt(e.ctx, fill(1<<20, b+1), 0, false); err != nil {
			t.Fatal(err)
		}
	}
	x.Close()
	if _, err := e.c.Meta().Volumes().DeleteVolume(e.ctx, &metapb.DeleteVolumeRequest{Id: vid}); err != nil {
		t.Fatal(err)
	}
	total := 0
	for range 10 {
		n, err := e.c.Volumes().CollectGarbage(e.ctx)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		total += n
	}
	g, err := e.c.Meta().Volumes().ListGarbage(e.ctx, &metapb.ListGarbageRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if total < 3 || len(g.Chunks) != 0 {
		t.Errorf("collected %d chunks, %d left", total, len(g.Chunks))
	}
}
