package repair

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/wolke-cloud/wolke/chunk/chunkclient"
	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/meta/metapb"
	"google.golang.org/grpc"
)

// pagedExtents answers ScanExtents one ref per page, failing at page fail
// (negative: never).
type pagedExtents struct {
	refs []*metapb.ExtentRef
	fail int
}

func (p *pagedExtents) ScanExtents(_ context.Context, in *metapb.ScanExtentsRequest, _ ...grpc.CallOption) (*metapb.ScanExtentsResponse, error) {
	i := len(in.After)
	if i == p.fail {
		return nil, errs.E("meta.ScanExtents", errs.Unavailable, "no leader")
	}
	resp := &metapb.ScanExtentsResponse{}
	if i < len(p.refs) {
		resp.Extents = p.refs[i : i+1]
	}
	if i+1 < len(p.refs) {
		resp.Next = make([]byte, i+1)
	}
	return resp, nil
}

// diskDeletes records the chunks deleted as "disk/chunk".
type diskDeletes struct {
	Shards
	deleted []string
}

func (d *diskDeletes) DeleteShard(_ context.Context, disk, id string) error {
	d.deleted = append(d.deleted, disk+"/"+id)
	return nil
}

// Volume chunks are collected by age and by where the maps put them, and
// only after a scan of every map went through: a scan cut short collects
// no volume chunk.
func TestCollectVolumeChunks(t *testing.T) {
	now := time.Unix(100000, 0)
	old, young := now.Add(-2*time.Hour), now.Add(-time.Minute)
	mapped := "vol-1.0000000000000001.aaaa"
	orphan := "vol-1.0000000000000002.bbbb"
	fresh := "vol-1.0000000000000003.cccc" // stored a minute ago: its commit may be coming
	snapOnly := "vol-2.0000000000000000.dddd"
	refs := []*metapb.ExtentRef{
		{ChunkId: mapped, Disks: []string{"d1", "d2"}},
		{ChunkId: snapOnly, Disks: []string{"d1"}},
	}
	for _, tc := range []struct {
		name string
		fail int
		want []string
	}{
		{"whole scan", -1, []string{"d1/" + orphan, "d3/" + mapped}},
		{"scan fails at once", 0, nil},
		{"scan fails midway", 1, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sh := &diskDeletes{}
			w, err := New(Config{GCGrace: time.Hour, VolumeGCGrace: time.Hour}, Deps{Meta: &intentMeta{}, Scanner: nopScanner{},
				Extents: &pagedExtents{refs: refs, fail: tc.fail}, Shards: sh,
				Live: func(context.Context) (map[string]bool, error) { return nil, nil },
				Now:  func() time.Time { return now }})
			if err != nil {
				t.Fatal(err)
			}
			inv := map[string]*diskInv{}
			add := func(disk, id string, created time.Time) {
				if inv[disk] == nil {
					inv[disk] = &diskInv{refd: map[string]bool{}, chunks: map[string]chunkclient.ChunkInfo{}}
				}
				inv[disk].chunks[id] = chunkclient.ChunkInfo{ID: id, Length: 1, Created: created}
			}
			add("d1", mapped, old)
			add("d1", snapOnly, old)
			add("d1", orphan, old)
			add("d1", fresh, young)
			add("d1", "other-service", old)
			add("d2", mapped, old)
			add("d3", mapped, old) // a disk the map does not name
			w.collect(context.Background(), inv, nil, w.markVolumeRefs(context.Background(), inv))
			slices.Sort(sh.deleted)
			if !slices.Equal(sh.deleted, tc.want) {
				t.Fatalf("deleted %v, want %v", sh.deleted, tc.want)
			}
		})
	}
}
