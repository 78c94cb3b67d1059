package ebsapi

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/wolke-cloud/wolke/meta/metapb"
)

// fakeMaps is extent maps by snapshot, served in pages of page extents.
type fakeMaps struct {
	maps  map[string]map[uint64]string // snapshot -> extent index -> chunk
	page  int
	calls int
}

func (f *fakeMaps) listExtents(_ context.Context, snap string, start uint64, limit int32) (*metapb.ListExtentsResponse, error) {
	f.calls++
	m := f.maps[snap]
	var idx []uint64
	for i := range m {
		if i >= start {
			idx = append(idx, i)
		}
	}
	slices.Sort(idx)
	n := f.page
	if limit > 0 {
		n = min(n, int(limit))
	}
	resp := &metapb.ListExtentsResponse{}
	for _, i := range idx {
		if len(resp.Extents) == n {
			resp.Truncated, resp.NextIndex = true, resp.Extents[n-1].Index+1
			break
		}
		resp.Extents = append(resp.Extents, &metapb.Extent{Index: i, ChunkId: m[i], Disks: []string{"d"}})
	}
	return resp, nil
}

func indexes(bs []block) []int64 {
	var out []int64
	for _, b := range bs {
		out = append(out, b.index)
	}
	return out
}

func TestBlocksOfExtents(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		extent int64
		chunks map[uint64]string
		from   int64
		want   []int64
	}{
		// 1 MiB extents: two blocks each.
		{"1MiB", 1 << 20, map[uint64]string{0: "a", 3: "b", 4: "c"}, 0, []int64{0, 1, 6, 7, 8, 9}},
		{"1MiB from inside an extent", 1 << 20, map[uint64]string{0: "a", 3: "b"}, 1, []int64{1, 6, 7}},
		// 128 KiB extents: four to a block.
		{"128KiB", 128 << 10, map[uint64]string{1: "a", 2: "b", 9: "c", 40: "d"}, 0, []int64{0, 2, 10}},
		{"128KiB from", 128 << 10, map[uint64]string{1: "a", 9: "c", 40: "d"}, 3, []int64{10}},
		{"empty", 1 << 20, map[uint64]string{}, 0, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, page := range []int{1, 2, 1000} {
				f := &fakeMaps{maps: map[string]map[uint64]string{"s": tc.chunks}, page: page}
				got, next, err := listBlocks(ctx, newBlockIter(f, "s", tc.extent, tc.from), 10000)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(indexes(got), tc.want) || next != -1 {
					t.Fatalf("page %d: blocks %v next %d, want %v", page, indexes(got), next, tc.want)
				}
				seen := map[string]bool{}
				for _, b := range got {
					if seen[b.token] {
						t.Fatalf("token %s twice", b.token)
					}
					seen[b.token] = true
				}
			}
		})
	}
}

func TestListBlocksPages(t *testing.T) {
	ctx := context.Background()
	m := map[uint64]string{}
	for i := range uint64(150) {
		m[i*2] = fmt.Sprint("c", i) // 300 blocks: 0,1, 4,5, 8,9, ...
	}
	f := &fakeMaps{maps: map[string]map[uint64]string{"s": m}, page: 7}
	var all []int64
	from := int64(0)
	for pages := 0; ; pages++ {
		got, next, err := listBlocks(ctx, newBlockIter(f, "s", 1<<20, from), 100)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, indexes(got)...)
		if next < 0 {
			if pages != 2 {
				t.Fatalf("%d pages, want 3", pages+1)
			}
			break
		}
		from = next
	}
	if len(all) != 300 || all[299] != 597 || !slices.IsSorted(all) {
		t.Fatalf("%d blocks, last %d", len(all), all[len(all)-1])
	}
}

func TestListChanged(t *testing.T) {
	ctx := context.Background()
	f := &fakeMaps{page: 3, maps: map[string]map[uint64]string{
		// first: extents 0,1,2,5; second: 0 kept, 1 rewritten, 2 trimmed, 5 kept, 7 new.
		"a": {0: "x0", 1: "x1", 2: "x2", 5: "x5"},
		"b": {0: "x0", 1: "y1", 5: "x5", 7: "y7"},
	}}
	got, next, err := listChanged(ctx, newBlockIter(f, "a", 1<<20, 0), newBlockIter(f, "b", 1<<20, 0), 10000)
	if err != nil {
		t.Fatal(err)
	}
	var summary []string
	for _, c := range got {
		summary = append(summary, fmt.Sprintf("%d:%v%v", c.index, c.first != "", c.second != ""))
	}
	want := []string{"2:truetrue", "3:truetrue", "4:truefalse", "5:truefalse", "14:falsetrue", "15:falsetrue"}
	if !slices.Equal(summary, want) || next != -1 {
		t.Fatalf("changed %v next %d, want %v", summary, next, want)
	}
	// Page of 3: the rest follows from the next block.
	got, next, err = listChanged(ctx, newBlockIter(f, "a", 1<<20, 0), newBlockIter(f, "b", 1<<20, 0), 3)
	if err != nil || len(got) != 3 || next != 5 {
		t.Fatalf("page: %d blocks, next %d, %v", len(got), next, err)
	}
	got, next, err = listChanged(ctx, newBlockIter(f, "a", 1<<20, next), newBlockIter(f, "b", 1<<20, next), 3)
	if err != nil || len(got) != 3 || got[0].index != 5 || next != -1 {
		t.Fatalf("second page: %v next %d, %v", got, next, err)
	}
	// No first snapshot: every block of the second.
	got, _, err = listChanged(ctx, nil, newBlockIter(f, "b", 1<<20, 0), 10000)
	if err != nil || len(got) != 8 {
		t.Fatalf("without a first snapshot: %d blocks, %v", len(got), err)
	}
	// The same snapshot: nothing.
	got, _, err = listChanged(ctx, newBlockIter(f, "b", 1<<20, 0), newBlockIter(f, "b", 1<<20, 0), 10000)
	if err != nil || len(got) != 0 {
		t.Fatalf("a snapshot against itself: %v, %v", got, err)
	}
}

func TestPageToken(t *testing.T) {
	for _, n := range []int64{0, 1, 1 << 40} {
		if got, ok := parsePageToken(pageToken(n)); !ok || got != n {
			t.Fatalf("%d came back %d %v", n, got, ok)
		}
	}
	for _, bad := range []string{"", "!!", "d29sa2U=", pageToken(-1)} {
		if _, ok := parsePageToken(bad); ok {
			t.Fatalf("%q parsed", bad)
		}
	}
}
