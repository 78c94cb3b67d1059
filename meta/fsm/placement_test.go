package fsm

import (
	"fmt"
	"slices"
	"testing"

	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/meta/metaerr"
	"github.com/wolke-cloud/wolke/meta/metapb"
	"google.golang.org/protobuf/proto"
)

// disks makes n disks on servers round-robin over nServers, servers
// round-robin over zones.
func disks(n, nServers, nZones int) []*metapb.Disk {
	var out []*metapb.Disk
	for i := range n {
		s := i % nServers
		out = append(out, &metapb.Disk{
			Id: fmt.Sprintf("d%02d", i), Server: fmt.Sprintf("s%02d", s),
			Zone: fmt.Sprintf("z%d", s%nZones), State: metapb.DiskState_DISK_STATE_ACTIVE,
		})
	}
	return out
}

func TestPlacementGroups(t *testing.T) {
	tests := []struct {
		name       string
		disks      []*metapb.Disk
		k, m       int32
		maxPerZone int
		wantErr    bool
	}{
		{name: "6 disks 6 servers 3 zones", disks: disks(6, 6, 3), k: 4, m: 2, maxPerZone: 2},
		{name: "12 disks 12 servers 3 zones", disks: disks(12, 12, 3), k: 4, m: 2, maxPerZone: 2},
		{name: "12 disks 6 servers 3 zones", disks: disks(12, 6, 3), k: 4, m: 2, maxPerZone: 2},
		{name: "9 disks 9 servers 3 zones 2+1", disks: disks(9, 9, 3), k: 2, m: 1, maxPerZone: 1},
		{name: "one zone", disks: disks(8, 8, 1), k: 3, m: 1, maxPerZone: 4},
		{name: "too few servers", disks: disks(12, 5, 3), k: 4, m: 2, wantErr: true},
		{name: "lost disks don't count", disks: func() []*metapb.Disk {
			d := disks(6, 6, 3)
			d[0].State = metapb.DiskState_DISK_STATE_LOST
			return d
		}(), k: 4, m: 2, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			byID := map[string]*metapb.Disk{}
			for _, d := range tc.disks {
				byID[d.Id] = d
				h.must(OpRegisterDisk, &metapb.RegisterDiskRequest{Disk: d})
			}
			resp, err := h.do(OpEnsurePlacementGroups, &metapb.EnsurePlacementGroupsRequest{EcData: tc.k, EcParity: tc.m})
			if tc.wantErr {
				checkErr(t, err, errs.Precondition, metaerr.ErrNotEnoughDisks)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			groups := resp.(*metapb.EnsurePlacementGroupsResponse).Groups
			if len(groups) != len(tc.disks) {
				t.Fatalf("%d groups for %d disks", len(groups), len(tc.disks))
			}
			usage := map[string]int{}
			for _, g := range groups {
				if len(g.Disks) != int(tc.k+tc.m) || g.EcData != tc.k || g.EcParity != tc.m || g.Epoch != 1 {
					t.Fatalf("group %v", g)
				}
				servers, zones := map[string]bool{}, map[string]int{}
				for _, id := range g.Disks {
					d := byID[id]
					if servers[d.Server] {
						t.Fatalf("group %d: two disks on server %s", g.Id, d.Server)
					}
					servers[d.Server] = true
					zones[d.Zone]++
					usage[id]++
				}
				for z, n := range zones {
					if n > tc.maxPerZone {
						t.Fatalf("group %d: %d disks in zone %s, want <= %d", g.Id, n, z, tc.maxPerZone)
					}
				}
			}
			lo, hi := len(groups), 0
			for _, d := range tc.disks {
				lo, hi = min(lo, usage[d.Id]), max(hi, usage[d.Id])
			}
			if hi-lo > 1 {
				t.Fatalf("unbalanced: disks are in %d..%d groups (%v)", lo, hi, usage)
			}
			// Ensure again: the same groups, nothing new.
			again := h.must(OpEnsurePlacementGroups, &metapb.EnsurePlacementGroupsRequest{EcData: tc.k, EcParity: tc.m}).(*metapb.EnsurePlacementGroupsResponse)
			if len(again.Groups) != len(groups) || again.Groups[0].Id != groups[0].Id {
				t.Fatalf("second ensure made new groups")
			}
			// Same input, same plan: Apply is deterministic.
			p1, _ := PlanGroups(tc.disks, int(tc.k+tc.m), len(tc.disks))
			p2, _ := PlanGroups(slices.Clone(tc.disks), int(tc.k+tc.m), len(tc.disks))
			if fmt.Sprint(p1) != fmt.Sprint(p2) || fmt.Sprint(p1[0]) != fmt.Sprint(groups[0].Disks) {
				t.Fatalf("plans differ")
			}
		})
	}
}

func TestReplaceDisk(t *testing.T) {
	h := newHarness(t)
	all := disks(8, 8, 2)
	for _, d := range all[:6] {
		h.must(OpRegisterDisk, &metapb.RegisterDiskRequest{Disk: d})
	}
	g := h.must(OpEnsurePlacementGroups, &metapb.EnsurePlacementGroupsRequest{EcData: 4, EcParity: 2}).(*metapb.EnsurePlacementGroupsResponse).Groups[0]
	h.must(OpRegisterDisk, &metapb.RegisterDiskRequest{Disk: all[6]})
	// Same server as a member (server s01 holds d01): must be refused.
	h.must(OpRegisterDisk, &metapb.RegisterDiskRequest{Disk: &metapb.Disk{Id: "dx", Server: "s01", Zone: "z1"}})
	h.must(OpRegisterDisk, &metapb.RegisterDiskRequest{Disk: &metapb.Disk{Id: "dlost", Server: "s99", State: metapb.DiskState_DISK_STATE_LOST}})
	old := g.Disks[0]
	if old == "d01" {
		old = g.Disks[1]
	}
	tests := []struct {
		name   string
		req    *metapb.ReplaceDiskRequest
		kind   errs.Kind
		reason error
	}{
		{"no such group", &metapb.ReplaceDiskRequest{PlacementGroup: 999, OldDisk: old, NewDisk: "d06", Epoch: 1}, errs.NotFound, nil},
		{"stale epoch", &metapb.ReplaceDiskRequest{PlacementGroup: g.Id, OldDisk: old, NewDisk: "d06", Epoch: 0}, errs.Precondition, metaerr.ErrEpochMismatch},
		{"not a member", &metapb.ReplaceDiskRequest{PlacementGroup: g.Id, OldDisk: "d07", NewDisk: "d06", Epoch: 1}, errs.Invalid, nil},
		{"unknown new disk", &metapb.ReplaceDiskRequest{PlacementGroup: g.Id, OldDisk: old, NewDisk: "d07", Epoch: 1}, errs.NotFound, nil},
		{"lost new disk", &metapb.ReplaceDiskRequest{PlacementGroup: g.Id, OldDisk: old, NewDisk: "dlost", Epoch: 1}, errs.Precondition, nil},
		{"server taken", &metapb.ReplaceDiskRequest{PlacementGroup: g.Id, OldDisk: old, NewDisk: "dx", Epoch: 1}, errs.Precondition, nil},
		{"ok", &metapb.ReplaceDiskRequest{PlacementGroup: g.Id, OldDisk: old, NewDisk: "d06", Epoch: 1}, errs.Other, nil},
		{"replay with old epoch", &metapb.ReplaceDiskRequest{PlacementGroup: g.Id, OldDisk: "d06", NewDisk: old, Epoch: 1}, errs.Precondition, metaerr.ErrEpochMismatch},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := h.do(OpReplaceDisk, tc.req)
			checkErr(t, err, tc.kind, tc.reason)
			if err == nil {
				ng := resp.(*metapb.ReplaceDiskResponse).Group
				if ng.Epoch != 2 || ng.Disks[slices.Index(g.Disks, old)] != "d06" {
					t.Fatalf("group after replace: %v", ng)
				}
			}
		})
	}
	list, err := h.f.ListPlacementGroups(ctx, &metapb.ListPlacementGroupsRequest{})
	if err != nil || list.Groups[0].Epoch != 2 {
		t.Fatalf("list: %v %v", list, err)
	}
}

func TestDisks(t *testing.T) {
	h := newHarness(t)
	d := h.must(OpRegisterDisk, &metapb.RegisterDiskRequest{Disk: &metapb.Disk{Id: "d1", Server: "s1", Zone: "z", Capacity: 100}}).(*metapb.RegisterDiskResponse).Disk
	if d.State != metapb.DiskState_DISK_STATE_ACTIVE || d.RegisteredUnixNano == 0 {
		t.Fatalf("registered %v", d)
	}
	h.must(OpSetDiskState, &metapb.SetDiskStateRequest{Id: "d1", State: metapb.DiskState_DISK_STATE_DRAINING})
	// Re-registering (a restart) keeps the state, refreshes capacity.
	d2 := h.must(OpRegisterDisk, &metapb.RegisterDiskRequest{Disk: &metapb.Disk{Id: "d1", Server: "s1", Zone: "z", Capacity: 200}}).(*metapb.RegisterDiskResponse).Disk
	if d2.State != metapb.DiskState_DISK_STATE_DRAINING || d2.Capacity != 200 || d2.RegisteredUnixNano != d.RegisteredUnixNano {
		t.Fatalf("re-registered %v", d2)
	}
	tests := []struct {
		name string
		op   Op
		req  proto.Message
		kind errs.Kind
	}{
		{"state of missing disk", OpSetDiskState, &metapb.SetDiskStateRequest{Id: "nope", State: metapb.DiskState_DISK_STATE_LOST}, errs.NotFound},
		{"unspecified state", OpSetDiskState, &metapb.SetDiskStateRequest{Id: "d1"}, errs.Invalid},
		{"no server", OpRegisterDisk, &metapb.RegisterDiskRequest{Disk: &metapb.Disk{Id: "d2"}}, errs.Invalid},
		{"no id", OpRegisterDisk, &metapb.RegisterDiskRequest{Disk: &metapb.Disk{Server: "s"}}, errs.Invalid},
	}
	for _, tc := range tests {
		_, err := h.do(tc.op, tc.req)
		if !errs.Is(err, tc.kind) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.kind)
		}
	}
	list, err := h.f.ListDisks(ctx, &metapb.ListDisksRequest{})
	if err != nil || len(list.Disks) != 1 {
		t.Fatalf("list %v %v", list, err)
	}
}

// A disk on a new server joins: the next ensure adds a group that holds
// it, keeps the old ones, and a lost disk replaced by a fresh one adds none.
func TestPlacementGroupsGrowWithDisks(t *testing.T) {
	h := newHarness(t)
	all := disks(8, 8, 3)
	for _, d := range all[:6] {
		h.must(OpRegisterDisk, &metapb.RegisterDiskRequest{Disk: d})
	}
	ensure := func() []*metapb.PlacementGroup {
		t.Helper()
		return h.must(OpEnsurePlacementGroups, &metapb.EnsurePlacementGroupsRequest{EcData: 4, EcParity: 2}).(*metapb.EnsurePlacementGroupsResponse).Groups
	}
	before := ensure()
	if len(before) != 6 {
		t.Fatalf("%d groups for 6 disks", len(before))
	}
	h.must(OpRegisterDisk, &metapb.RegisterDiskRequest{Disk: all[6]})
	after := ensure()
	if len(after) != 7 {
		t.Fatalf("%d groups after a 7th disk joined, want 7", len(after))
	}
	for i, g := range before {
		if !proto.Equal(g, after[i]) {
			t.Fatalf("group %d changed: %v → %v", g.Id, g, after[i])
		}
	}
	added := after[6]
	if !slices.Contains(added.Disks, all[6].Id) || added.Epoch != 1 || added.Id != before[5].Id+1 {
		t.Fatalf("new group %v does not hold the new disk %s", added, all[6].Id)
	}
	servers := map[string]bool{}
	for _, id := range added.Disks {
		s := all[slices.IndexFunc(all, func(d *metapb.Disk) bool { return d.Id == id })].Server
		if servers[s] {
			t.Fatalf("new group %v uses server %s twice", added, s)
		}
		servers[s] = true
	}
	if again := ensure(); len(again) != 7 {
		t.Fatalf("ensure again made %d groups", len(again))
	}
	// A lost disk and a fresh one in its place: as many active disks as before.
	h.must(OpSetDiskState, &metapb.SetDiskStateRequest{Id: all[0].Id, State: metapb.DiskState_DISK_STATE_LOST})
	h.must(OpRegisterDisk, &metapb.RegisterDiskRequest{Disk: all[7]})
	if again := ensure(); len(again) != 7 {
		t.Fatalf("a replaced disk made %d groups, want 7", len(again))
	}
}
