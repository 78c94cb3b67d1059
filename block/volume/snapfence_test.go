package volume_test

import (
	"bytes"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wolke-cloud/wolke/block/volume"
	"github.com/wolke-cloud/wolke/cluster"
	"github.com/wolke-cloud/wolke/meta/metapb"
)

// TestSnapshotBusyWriter: the writer trusts the snapshot sequence it
// last asked meta for a little while rather than asking before every
// in-place write. While it writes without pause (so that trust is renewed
// in the background), a snapshot keeps every write acknowledged before
// CreateSnapshot was called and none issued after it returned. With the
// write cache, acknowledged means made stable (FUA): a plain write may be
// cached past the snapshot, as with a disk's volatile cache.
func TestSnapshotBusyWriter(t *testing.T) {
	t.Run("WriteThrough", func(t *testing.T) { testSnapshotBusyWriter(t, -1, false) })
	t.Run("WriteCacheFUA", func(t *testing.T) { testSnapshotBusyWriter(t, 0, true) })
}

func testSnapshotBusyWriter(t *testing.T, cache int64, fua bool) {
	e := &env{c: cluster.Start(t, cluster.Options{Volume: volume.Config{WriteCache: cache}}), ctx: t.Context()}
	vid := e.create(t, 1<<20, "")
	x := e.open(t, vid, false)
	defer x.Close()
	if err := x.WriteAt(e.ctx, fill(1<<20, 1), 0, true); err != nil {
		t.Fatal(err)
	}
	for round := range 3 {
		var (
			stop  atomic.Bool
			wg    sync.WaitGroup
			acked atomic.Int64 // the last value the busy writer had acknowledged
			werr  atomic.Value
		)
		wg.Go(func() {
			for i := int64(1); !stop.Load(); i++ {
				if err := x.WriteAt(e.ctx, fill(4096, byte(i)), 0, fua); err != nil {
					werr.Store(err)
					return
				}
				acked.Store(i)
			}
		})
		for deadline := time.Now().Add(10 * time.Second); acked.Load() < 20 && werr.Load() == nil && time.Now().Before(deadline); {
			time.Sleep(time.Millisecond)
		}
		before := acked.Load()
		snap, err := e.c.Meta().Volumes().CreateSnapshot(e.ctx, &metapb.CreateSnapshotRequest{Snapshot: &metapb.Snapshot{VolumeId: vid}})
		if err != nil {
			t.Fatal(err)
		}
		marker := fill(4096, byte(100+round))
		if err := x.WriteAt(e.ctx, marker, 8192, fua); err != nil {
			t.Fatal(err)
		}
		stop.Store(true)
		wg.Wait()
		if err, _ := werr.Load().(error); err != nil {
			t.Fatal(err)
		}
		sx := e.open(t, snap.Snapshot.Id, true)
		got := e.read(t, sx, 0, 3*4096)
		sx.Close()
		if bytes.Equal(got[8192:], marker) {
			t.Errorf("round %d: a write issued after CreateSnapshot returned is in the snapshot", round)
		}
		// Block 0 holds a value written at or after the one acknowledged
		// before the snapshot (writes wrap at 256; none ran that far).
		if v := int64(got[0]); before < 256 && v < before%256 {
			t.Errorf("round %d: snapshot block 0 holds write %d, but %d was acknowledged before the snapshot", round, v, before)
		}
	}
}
