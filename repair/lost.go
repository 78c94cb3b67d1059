package repair

import (
	"context"
	"slices"

	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/meta/metapb"
)

// declareLost marks active disks lost whose server has been gone from
// etcd for RepairAfter. disks is updated in place.
func (w *Worker) declareLost(ctx context.Context, disks map[string]*metapb.Disk, live map[string]bool) error {
	now := w.now()
	for id := range w.missingSince {
		if live[id] || disks[id] == nil {
			delete(w.missingSince, id)
		}
	}
	for _, id := range sortedKeys(disks) {
		d := disks[id]
		if live[id] || d.State != metapb.DiskState_DISK_STATE_ACTIVE {
			continue
		}
		since, ok := w.missingSince[id]
		if !ok {
			since = now
			w.missingSince[id] = now
		}
		if now.Sub(since) < w.cfg.RepairAfter {
			continue
		}
		w.log.Warn("disk declared lost: its server is gone", "disk", id, "server", d.Server, "gone_for", now.Sub(since))
		if _, err := w.deps.Meta.SetDiskState(ctx, &metapb.SetDiskStateRequest{Id: id, State: metapb.DiskState_DISK_STATE_LOST}); err != nil {
			return err
		}
		d.State = metapb.DiskState_DISK_STATE_LOST
		delete(w.missingSince, id)
		w.m.declared.Inc()
	}
	return nil
}

// replaceLost gives the places of lost, draining and removed disks in
// placement groups to healthy live disks on servers the group does not
// use yet, zones it uses least first. It returns the groups by id and the
// disks that could not be replaced.
func (w *Worker) replaceLost(ctx context.Context, disks map[string]*metapb.Disk, groups []*metapb.PlacementGroup, live map[string]bool) (map[uint64]*metapb.PlacementGroup, []string, error) {
	uses := map[string]int{} // disk → groups it is in
	for _, g := range groups {
		for _, d := range g.Disks {
			uses[d]++
		}
	}
	byID := make(map[uint64]*metapb.PlacementGroup, len(groups))
	left := map[string]bool{}
	for _, g := range groups {
		byID[g.Id] = g
		for _, old := range slices.Clone(g.Disks) {
			d := disks[old]
			if d != nil && d.State == metapb.DiskState_DISK_STATE_ACTIVE {
				continue
			}
			nd := pickReplacement(g, old, disks, live, uses)
			if nd == "" {
				left[old] = true
				continue
			}
			resp, err := w.deps.Meta.ReplaceDisk(ctx, &metapb.ReplaceDiskRequest{PlacementGroup: g.Id, OldDisk: old, NewDisk: nd, Epoch: g.Epoch})
			if err != nil {
				if errs.Is(err, errs.Precondition) || errs.Is(err, errs.Invalid) {
					// Raced with another change: the next pass sees the new group.
					w.log.Warn("placement group replacement refused", "group", g.Id, "old", old, "new", nd, "err", err)
					left[old] = true
					continue
				}
				return nil, nil, err
			}
			w.log.Info("placement group member replaced", "group", g.Id, "old", old, "new", nd)
			w.m.replaced.Inc()
			uses[old]--
			uses[nd]++
			g = resp.Group
			byID[g.Id] = g
		}
	}
	lost := make([]string, 0, len(left))
	for d := range left {
		lost = append(lost, d)
	}
	slices.Sort(lost)
	return byID, lost, nil
}

// pickReplacement chooses the disk to take old's place in g, "" if none.
func pickReplacement(g *metapb.PlacementGroup, old string, disks map[string]*metapb.Disk, live map[string]bool, uses map[string]int) string {
	servers, zones := map[string]bool{}, map[string]int{}
	for _, id := range g.Disks {
		if id == old {
			continue
		}
		if d := disks[id]; d != nil {
			servers[d.Server] = true
			zones[d.Zone]++
		}
	}
	best, bestKey := "", [2]int{}
	for _, id := range sortedKeys(disks) {
		d := disks[id]
		if d.State != metapb.DiskState_DISK_STATE_ACTIVE || !live[id] || servers[d.Server] || slices.Contains(g.Disks, id) {
			continue
		}
		key := [2]int{zones[d.Zone], uses[id]}
		if best == "" || key[0] < bestKey[0] || key[0] == bestKey[0] && key[1] < bestKey[1] {
			best, bestKey = id, key
		}
	}
	return best
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
