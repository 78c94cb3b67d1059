package repair

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/wolke-cloud/wolke/chunk/chunkclient"
	"github.com/wolke-cloud/wolke/meta/metapb"
	"google.golang.org/grpc"
)

func TestIsShardChunk(t *testing.T) {
	tests := []struct {
		id   string
		want bool
	}{
		{"000102030405060708090a0b0c0d0e0f.0", true},
		{"000102030405060708090a0b0c0d0e0f.17", true},
		{"000102030405060708090a0b0c0d0e0f", false},
		{"000102030405060708090a0b0c0d0e0f.x", false},
		{"000102030405060708090a0b0c0d0e0f.300", false},
		{"zz0102030405060708090a0b0c0d0e0f.1", false},
		{"0102.1", false},
		{"volume-extent-1", false},
	}
	for _, tc := range tests {
		if got := isShardChunk(tc.id); got != tc.want {
			t.Errorf("isShardChunk(%q) = %v, want %v", tc.id, got, tc.want)
		}
	}
}

func disk(id, server, zone string, state metapb.DiskState) *metapb.Disk {
	return &metapb.Disk{Id: id, Server: server, Zone: zone, State: state}
}

func TestPickReplacement(t *testing.T) {
	active, lost := metapb.DiskState_DISK_STATE_ACTIVE, metapb.DiskState_DISK_STATE_LOST
	disks := map[string]*metapb.Disk{
		"a": disk("a", "s1", "z1", active), "b": disk("b", "s2", "z2", active), "x": disk("x", "s3", "z3", lost),
		"c": disk("c", "s4", "z1", active), "d": disk("d", "s5", "z3", active), "e": disk("e", "s5", "z3", active),
		"f": disk("f", "s2", "z3", active), "g": disk("g", "s6", "z3", active),
	}
	g := &metapb.PlacementGroup{Id: 1, Disks: []string{"a", "b", "x"}}
	all := map[string]bool{"a": true, "b": true, "c": true, "d": true, "e": true, "f": true, "g": true}
	tests := []struct {
		name string
		live map[string]bool
		uses map[string]int
		want string
	}{
		{"zone not in the group, least used", all, map[string]int{"d": 3, "e": 1, "g": 2}, "e"},
		{"ties go to the smallest id", all, nil, "d"},
		{"only down disks in the free zone", map[string]bool{"c": true, "f": true}, nil, "c"},
		{"server already in the group is refused", map[string]bool{"f": true}, nil, ""},
		{"nothing live", map[string]bool{}, nil, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			uses := tc.uses
			if uses == nil {
				uses = map[string]int{}
			}
			if got := pickReplacement(g, "x", disks, tc.live, uses); got != tc.want {
				t.Fatalf("replacement = %q, want %q", got, tc.want)
			}
		})
	}
}

// fakeMeta records SetDiskState calls.
type fakeMeta struct {
	Meta
	lost []string
}

func (f *fakeMeta) SetDiskState(_ context.Context, in *metapb.SetDiskStateRequest, _ ...grpc.CallOption) (*metapb.SetDiskStateResponse, error) {
	f.lost = append(f.lost, in.Id)
	return &metapb.SetDiskStateResponse{}, nil
}

type nopShards struct{ Shards }

func (nopShards) ListChunks(context.Context, string, string, string, int) ([]chunkclient.ChunkInfo, error) {
	return nil, nil
}

type nopScanner struct{ Scanner }

func TestDeclareLostAfterRepairAfter(t *testing.T) {
	now := time.Unix(1000, 0)
	fm := &fakeMeta{}
	w, err := New(Config{RepairAfter: 10 * time.Minute}, Deps{
		Meta: fm, Scanner: nopScanner{}, Shards: nopShards{},
		Live: func(context.Context) (map[string]bool, error) { return nil, nil },
		Now:  func() time.Time { return now },
	})
	if err != nil {
		t.Fatal(err)
	}
	active := metapb.DiskState_DISK_STATE_ACTIVE
	steps := []struct {
		after time.Duration
		live  map[string]bool
		want  []string
	}{
		{0, map[string]bool{"a": true}, nil},                           // b first seen gone
		{9 * time.Minute, map[string]bool{"a": true}, nil},             // not yet
		{30 * time.Second, map[string]bool{"a": true, "b": true}, nil}, // b back: the clock restarts
		{time.Minute, map[string]bool{"a": true}, nil},
		{9*time.Minute + 59*time.Second, map[string]bool{"a": true}, nil},
		{time.Second, map[string]bool{"a": true}, []string{"b"}}, // 10 minutes gone
	}
	disks := map[string]*metapb.Disk{"a": disk("a", "s1", "z1", active), "b": disk("b", "s2", "z2", active)}
	for i, s := range steps {
		now = now.Add(s.after)
		fm.lost = nil
		if err := w.declareLost(context.Background(), disks, s.live); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(fm.lost, s.want) {
			t.Fatalf("step %d: declared %v lost, want %v", i, fm.lost, s.want)
		}
	}
	if disks["b"].State != metapb.DiskState_DISK_STATE_LOST {
		t.Fatalf("disk b is %v after being declared lost", disks["b"].State)
	}
}

// fakeScanner serves refs in pages of one.
type fakeScanner struct{ refs []*metapb.StripeRef }

func (f fakeScanner) ScanStripes(_ context.Context, in *metapb.ScanStripesRequest, _ ...grpc.CallOption) (*metapb.ScanStripesResponse, error) {
	i := 0
	if len(in.After) > 0 {
		i = int(in.After[0])
	}
	resp := &metapb.ScanStripesResponse{Stripes: f.refs[i : i+1]}
	if i+1 < len(f.refs) {
		resp.Next = []byte{byte(i + 1)}
	}
	return resp, nil
}

func TestPlanOrdersByLoss(t *testing.T) {
	active := metapb.DiskState_DISK_STATE_ACTIVE
	disks := map[string]*metapb.Disk{}
	inv := map[string]*diskInv{}
	for _, d := range []string{"d0", "d1", "d2"} {
		disks[d] = disk(d, "s-"+d, "z", active)
		inv[d] = &diskInv{chunks: map[string]chunkclient.ChunkInfo{}, refd: map[string]bool{}}
	}
	disks["down"] = disk("down", "s-down", "z", active) // not in inv: unreachable
	g := &metapb.PlacementGroup{Id: 7, EcData: 2, EcParity: 2, Disks: []string{"d0", "d1", "d2", "down"}}
	groups := map[uint64]*metapb.PlacementGroup{7: g}
	stripe := func(id byte, present ...int) *metapb.StripeRef {
		st := &metapb.Stripe{Id: []byte{id}, PlacementGroup: 7, ShardSize: 10, ShardCrc32C: []uint32{1, 2, 3, 4}}
		for _, i := range present {
			c := chunkID(st.Id, i)
			inv[g.Disks[i]].chunks[c] = chunkclient.ChunkInfo{ID: c, Length: 10, CRC32C: st.ShardCrc32C[i]}
		}
		return &metapb.StripeRef{Stripe: st, Key: string('a' + rune(id))}
	}
	refs := []*metapb.StripeRef{
		stripe(0, 0, 1, 2), // only the unreachable shard: not rebuildable now
		stripe(1, 0, 1),    // one missing
		stripe(2, 0),       // two missing
		stripe(3, 0, 1, 2),
	}
	// A shard with the wrong CRC counts as missing.
	bad := chunkID([]byte{3}, 2)
	inv["d2"].chunks[bad] = chunkclient.ChunkInfo{ID: bad, Length: 10, CRC32C: 99}

	w, err := New(Config{}, Deps{Meta: &fakeMeta{}, Scanner: fakeScanner{refs}, Shards: nopShards{},
		Live: func(context.Context) (map[string]bool, error) { return nil, nil }})
	if err != nil {
		t.Fatal(err)
	}
	p, err := w.plan(context.Background(), groups, disks, inv)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, tk := range p.tasks {
		got = append(got, fmt.Sprintf("%s%v", tk.ref.Key, tk.missing))
	}
	want := []string{"c[1 2]", "b[2]", "d[2]"}
	if !slices.Equal(got, want) || p.stripes != 4 || p.unavailable != 4 {
		t.Fatalf("plan = %v (stripes %d, unavailable %d), want %v, 4, 4", got, p.stripes, p.unavailable, want)
	}
	if !inv["d0"].refd[chunkID([]byte{2}, 0)] || inv["down"] != nil {
		t.Fatal("referenced chunks not marked")
	}
}

func chunkID(id []byte, i int) string { return fmt.Sprintf("%x.%d", id, i) }
