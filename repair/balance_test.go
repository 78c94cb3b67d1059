package repair

import (
	"context"
	"testing"

	"github.com/wolke-cloud/wolke/chunk/chunkclient"
	"github.com/wolke-cloud/wolke/meta/metapb"
)

func TestPickMove(t *testing.T) {
	active := metapb.DiskState_DISK_STATE_ACTIVE
	mk := func(id, server, zone string) *metapb.Disk {
		d := disk(id, server, zone, active)
		d.Capacity = 1000
		return d
	}
	disks := map[string]*metapb.Disk{
		"a": mk("a", "s1", "z1"), "b": mk("b", "s2", "z2"), "c": mk("c", "s3", "z3"),
		"d": mk("d", "s4", "z1"), "new": mk("new", "s5", "z1"), "same": mk("same", "s2", "z1"),
	}
	groups := map[uint64]*metapb.PlacementGroup{
		1: {Id: 1, Epoch: 3, Disks: []string{"a", "b", "c"}},
		2: {Id: 2, Epoch: 1, Disks: []string{"d", "b", "c"}},
		3: {Id: 3, Epoch: 1, Disks: []string{"a", "c", "d"}},
	}
	bytes := map[uint64]int64{1: 100, 2: 300, 3: 200}
	cand := []string{"a", "b", "c", "d", "new", "same"}
	tests := []struct {
		name string
		used map[string]int64
		want string // "group:from>to" or ""
	}{
		// b (z2) is fullest, but every disk that could take its place is
		// in z1, which b's groups use already while z2 only through b:
		// refused. a, the next fullest, gives its biggest group (3) to the
		// emptiest disk, new (z1 like a, a server group 3 does not use).
		{"zone rule", map[string]int64{"a": 500, "b": 600, "c": 300, "d": 300, "new": 0, "same": 0}, "3:a>new"},
		{"overshoot refused", map[string]int64{"a": 310, "b": 300, "c": 300, "d": 300, "new": 300, "same": 300}, ""},
		{"biggest group that closes the gap", map[string]int64{"a": 900, "b": 300, "c": 300, "d": 300, "new": 0, "same": 300}, "3:a>new"},
		// Group 3 (200) would make the emptiest fuller than a: group 1
		// (100) goes, to d, first of the equally empty disks it may use.
		{"small gap takes the small group", map[string]int64{"a": 250, "b": 100, "c": 100, "d": 100, "new": 100, "same": 100}, "1:a>d"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mv := pickMove(disks, groups, tc.used, cand, bytes)
			got := ""
			if mv != nil {
				got = formatMove(mv)
			}
			if got != tc.want {
				t.Fatalf("move %q, want %q", got, tc.want)
			}
		})
	}
}

func formatMove(mv *move) string {
	return string(rune('0'+mv.group.Id)) + ":" + mv.from + ">" + mv.to
}

// A shard missing in its new place is copied from the disk it was on
// when that copy has the manifest's length and CRC; the draining disk's
// progress counts it.
func TestPlanFindsCopies(t *testing.T) {
	active, draining := metapb.DiskState_DISK_STATE_ACTIVE, metapb.DiskState_DISK_STATE_DRAINING
	disks := map[string]*metapb.Disk{
		"d0": disk("d0", "s0", "z", active), "d1": disk("d1", "s1", "z", active),
		"new": disk("new", "s2", "z", active), "old": disk("old", "s3", "z", draining),
	}
	inv := map[string]*diskInv{}
	for id := range disks {
		inv[id] = &diskInv{chunks: map[string]chunkclient.ChunkInfo{}, refd: map[string]bool{}}
	}
	g := &metapb.PlacementGroup{Id: 1, EcData: 2, EcParity: 1, Disks: []string{"d0", "d1", "new"}}
	put := func(disk, id string, crc uint32) {
		inv[disk].chunks[id] = chunkclient.ChunkInfo{ID: id, Length: 10, CRC32C: crc}
	}
	var refs []*metapb.StripeRef
	for i, oldCRC := range []uint32{3, 99} { // stripe 0: a good copy on old; stripe 1: a damaged one
		st := &metapb.Stripe{Id: []byte{byte(i)}, PlacementGroup: 1, ShardSize: 10, ShardCrc32C: []uint32{1, 2, 3}}
		put("d0", chunkID(st.Id, 0), 1)
		put("d1", chunkID(st.Id, 1), 2)
		put("old", chunkID(st.Id, 2), oldCRC)
		refs = append(refs, &metapb.StripeRef{Stripe: st, Key: string(rune('a' + i))})
	}
	w, err := New(Config{}, Deps{Meta: &fakeMeta{}, Scanner: fakeScanner{refs}, Shards: nopShards{},
		Live: func(context.Context) (map[string]bool, error) { return nil, nil }})
	if err != nil {
		t.Fatal(err)
	}
	p, err := w.plan(context.Background(), map[uint64]*metapb.PlacementGroup{1: g}, disks, inv)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.tasks) != 2 {
		t.Fatalf("%d tasks, want 2", len(p.tasks))
	}
	for _, tk := range p.tasks {
		want := map[string]string{"a": "old", "b": ""}[tk.ref.Key]
		if got := tk.from[2]; got != want {
			t.Fatalf("stripe %s: copy from %q, want %q", tk.ref.Key, got, want)
		}
	}
	if ds := p.drains["old"]; ds == nil || ds.ShardsLeft != 1 || ds.BytesLeft != 10 {
		t.Fatalf("drain left %+v, want 1 shard of 10 bytes", ds)
	}
	if p.groupBytes[1] != 20 {
		t.Fatalf("group bytes %d, want 20", p.groupBytes[1])
	}
}
