package fsm

import (
	"context"
	"fmt"
	"hash/fnv"
	"slices"

	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/meta/internal/kv"
	"github.com/wolke-cloud/wolke/meta/metaerr"
	"github.com/wolke-cloud/wolke/meta/metapb"
	"google.golang.org/protobuf/proto"
)

// maxGroups bounds how many placement groups one shape gets.
const maxGroups = 4096

// PlanGroups assigns disks to count placement groups of size n. Only
// active disks are used. Every group has n disks on distinct servers;
// within a group disks are spread over zones as evenly as the zones
// allow, and over all groups every disk is used about equally often. The
// result depends only on its inputs.
func PlanGroups(disks []*metapb.Disk, n, count int) ([][]string, error) {
	return planGroups(disks, n, count, 0, nil)
}

// planGroups plans count groups numbered from first (for rotation and tie
// breaks) counting usage, the groups each disk is in already, so that
// disks in few groups (new ones) are chosen first.
func planGroups(disks []*metapb.Disk, n, count, first int, usage map[string]int) ([][]string, error) {
	const op = "meta.PlanGroups"
	var active []*metapb.Disk
	servers := map[string]bool{}
	for _, d := range disks {
		if d.State == metapb.DiskState_DISK_STATE_ACTIVE {
			active = append(active, d)
			servers[d.Server] = true
		}
	}
	if n < 1 || len(servers) < n {
		return nil, errs.E(op, errs.Precondition,
			fmt.Sprintf("need active disks on %d distinct servers, have %d servers", n, len(servers)), metaerr.ErrNotEnoughDisks)
	}
	slices.SortFunc(active, func(a, b *metapb.Disk) int { return cmpString(a.Id, b.Id) })
	if usage == nil {
		usage = make(map[string]int, len(active))
	}
	out := make([][]string, 0, count)
	for g := first; g < first+count; g++ {
		var group []string
		usedServer := map[string]bool{}
		inZone := map[string]int{}
		for range n {
			var best *metapb.Disk
			var bestKey [4]uint64
			for _, d := range active {
				if usedServer[d.Server] {
					continue
				}
				key := [4]uint64{uint64(inZone[d.Zone]), uint64(usage[d.Id]), 0, tieBreak(g, d.Id)}
				if best == nil || less(key, bestKey) {
					best, bestKey = d, key
				}
			}
			group = append(group, best.Id)
			usedServer[best.Server] = true
			inZone[best.Zone]++
			usage[best.Id]++
		}
		// Rotate so that data and parity positions move around the disks.
		r := g % n
		out = append(out, append(group[r:], group[:r]...))
	}
	return out, nil
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func less(a, b [4]uint64) bool {
	for i := range a {
		if a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	return false
}

func tieBreak(g int, id string) uint64 {
	h := fnv.New64a()
	fmt.Fprintf(h, "%d/%s", g, id)
	return h.Sum64()
}

func listGroups(r reader) ([]*metapb.PlacementGroup, error) {
	lo := []byte(prefixGroups)
	it, err := newIter(r, lo, kv.PrefixEnd(lo))
	if err != nil {
		return nil, err
	}
	defer it.Close()
	var out []*metapb.PlacementGroup
	for ok := it.First(); ok; ok = it.Next() {
		g := &metapb.PlacementGroup{}
		if err := proto.Unmarshal(it.Value(), g); err != nil {
			return nil, errs.E("fsm.listGroups", errs.Corrupt, err)
		}
		out = append(out, g)
	}
	return out, iterErr(it)
}

func (t *tx) ensurePlacementGroups(req *metapb.EnsurePlacementGroupsRequest) (proto.Message, error) {
	const op = "meta.EnsurePlacementGroups"
	k, m := req.EcData, req.EcParity
	if k < 1 || m < 0 || k+m > 256 {
		return nil, errs.Errorf(op, errs.Invalid, "invalid erasure code shape %d+%d", k, m)
	}
	all, err := listGroups(t.r)
	if err != nil {
		return nil, err
	}
	resp := &metapb.EnsurePlacementGroupsResponse{}
	usage := map[string]int{}
	for _, g := range all {
		if g.EcData == k && g.EcParity == m {
			resp.Groups = append(resp.Groups, g)
			for _, d := range g.Disks {
				usage[d]++
			}
		}
	}
	disks, err := listDisks(t.r)
	if err != nil {
		return nil, err
	}
	active := 0
	for _, d := range disks {
		if d.State == metapb.DiskState_DISK_STATE_ACTIVE {
			active++
		}
	}
	// As many groups as active disks: each disk then sits in about k+m
	// groups. Disks that joined since the groups were made get new groups
	// (they are in the fewest, so each new group takes one of them), and
	// new stripes land on them; rebalancing (repair) moves older data.
	want := min(max(active, 1), maxGroups)
	have := len(resp.Groups)
	if have >= want {
		return resp, nil
	}
	plan, err := planGroups(disks, int(k+m), want-have, have, usage)
	if err != nil {
		if have > 0 {
			return resp, nil // the groups there are still serve
		}
		return nil, err
	}
	seqRaw, _, err := getRaw(t.r, keyPGSeq)
	if err != nil {
		return nil, err
	}
	var seq uint64
	if len(seqRaw) == 8 {
		seq = beUint64(seqRaw)
	}
	for _, members := range plan {
		seq++
		g := &metapb.PlacementGroup{Id: seq, EcData: k, EcParity: m, Disks: members, Epoch: 1}
		if err := t.set(op, groupKey(seq), g); err != nil {
			return nil, err
		}
		resp.Groups = append(resp.Groups, g)
	}
	if err := t.w.Set(keyPGSeq, be64(seq), nil); err != nil {
		return nil, errs.E(op, errs.Internal, err)
	}
	return resp, nil
}

func (t *tx) replaceDisk(req *metapb.ReplaceDiskRequest) (proto.Message, error) {
	const op = "meta.ReplaceDisk"
	g := &metapb.PlacementGroup{}
	found, err := getProto(t.r, groupKey(req.PlacementGroup), g)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, errs.Errorf(op, errs.NotFound, "placement group %d", req.PlacementGroup)
	}
	if g.Epoch != req.Epoch {
		return nil, errs.E(op, errs.Precondition,
			fmt.Sprintf("placement group %d is at epoch %d, not %d", g.Id, g.Epoch, req.Epoch), metaerr.ErrEpochMismatch)
	}
	pos := slices.Index(g.Disks, req.OldDisk)
	if pos < 0 {
		return nil, errs.Errorf(op, errs.Invalid, "disk %q is not in placement group %d", req.OldDisk, g.Id)
	}
	if slices.Contains(g.Disks, req.NewDisk) {
		return nil, errs.Errorf(op, errs.Invalid, "disk %q is already in placement group %d", req.NewDisk, g.Id)
	}
	nd := &metapb.Disk{}
	found, err = getProto(t.r, diskKey(req.NewDisk), nd)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, errs.Errorf(op, errs.NotFound, "disk %q", req.NewDisk)
	}
	if nd.State != metapb.DiskState_DISK_STATE_ACTIVE {
		return nil, errs.Errorf(op, errs.Precondition, "disk %q is %v", req.NewDisk, nd.State)
	}
	for i, id := range g.Disks {
		if i == pos {
			continue
		}
		d := &metapb.Disk{}
		if ok, err := getProto(t.r, diskKey(id), d); err != nil {
			return nil, err
		} else if ok && d.Server == nd.Server {
			return nil, errs.Errorf(op, errs.Precondition, "server %q already holds disk %q of placement group %d", nd.Server, id, g.Id)
		}
	}
	g.Disks[pos] = req.NewDisk
	g.Epoch++
	if err := t.set(op, groupKey(g.Id), g); err != nil {
		return nil, err
	}
	return &metapb.ReplaceDiskResponse{Group: g}, nil
}

// ListPlacementGroups returns every placement group in id order.
func (f *FSM) ListPlacementGroups(_ context.Context, _ *metapb.ListPlacementGroupsRequest) (*metapb.ListPlacementGroupsResponse, error) {
	resp := &metapb.ListPlacementGroupsResponse{}
	err := f.view(func(r reader) error {
		var err error
		resp.Groups, err = listGroups(r)
		return err
	})
	if err != nil {
		return nil, err
	}
	return resp, nil
}
