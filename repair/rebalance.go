package repair

import (
	"context"
	"slices"

	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/meta/metapb"
)

// move is one placement group member to give to another disk.
type move struct {
	group    *metapb.PlacementGroup
	from, to string
	bytes    int64
}

// rebalance evens out disk fill after a clean pass: while the fill of the
// fullest and the emptiest active disk differ by more than RebalanceSpread
// percentage points (and, once started, until they differ by less than
// half of it), it gives a placement group place of a full disk to an
// empty one, at most RebalanceMoves per pass. A move is a ReplaceDisk like
// a drain: the next pass copies the group's shards from the disk left
// (still listed and readable) to the new one, throttled like any rebuild,
// and garbage collection then frees them on the old disk.
func (w *Worker) rebalance(ctx context.Context, disks map[string]*metapb.Disk, groups map[uint64]*metapb.PlacementGroup,
	live map[string]bool, inv map[string]*diskInv, p *plan) error {
	if w.cfg.RebalanceSpread < 0 {
		return nil
	}
	used, cand := fillOf(disks, live, inv, p.diskBytes)
	pct := spreadPct(disks, used, cand)
	w.m.spread.Set(pct / 100)
	measured := pct
	defer func() {
		w.update(func(s *Status) { s.Rebalance.SpreadPct, s.Rebalance.Active = measured, w.balancing })
	}()
	if !w.balancing && pct <= w.cfg.RebalanceSpread {
		w.update(func(s *Status) { s.Rebalance.LastMoves = 0 })
		return nil
	}
	w.balancing = true
	moves := 0
	for moves < w.cfg.RebalanceMoves {
		if pct <= w.cfg.RebalanceSpread/2 {
			w.balancing = false
			break
		}
		mv := pickMove(disks, groups, used, cand, p.groupBytes)
		if mv == nil {
			w.balancing = false // nothing helps: wait for the spread to grow again
			break
		}
		resp, err := w.deps.Meta.ReplaceDisk(ctx, &metapb.ReplaceDiskRequest{PlacementGroup: mv.group.Id, OldDisk: mv.from, NewDisk: mv.to, Epoch: mv.group.Epoch})
		if err != nil {
			if errs.Is(err, errs.Precondition) || errs.Is(err, errs.Invalid) {
				w.log.Warn("rebalancing move refused", "group", mv.group.Id, "from", mv.from, "to", mv.to, "err", err)
				break
			}
			return err
		}
		w.log.Info("placement group member moved to even out fill", "group", mv.group.Id, "from", mv.from, "to", mv.to, "bytes", mv.bytes, "spread_pct", pct)
		groups[mv.group.Id] = resp.Group
		used[mv.from] -= mv.bytes
		used[mv.to] += mv.bytes
		moves++
		w.m.moves.Inc()
		pct = spreadPct(disks, used, cand)
	}
	w.update(func(s *Status) {
		s.Rebalance.LastMoves = moves
		s.Rebalance.Moves += int64(moves)
	})
	if moves > 0 {
		w.Kick() // copy the moved groups' shards now
	}
	return nil
}

// fillOf returns the bytes each active live listed disk holds once the
// pass is done: the shards the manifests expect there (after a clean pass
// all are there, rebuilt or copied ones included) and the chunks that are
// not shards (other services'); and those disks in id order. Garbage,
// about to be collected, does not count.
func fillOf(disks map[string]*metapb.Disk, live map[string]bool, inv map[string]*diskInv, expected map[string]int64) (map[string]int64, []string) {
	used := map[string]int64{}
	var cand []string
	for _, id := range sortedKeys(inv) {
		d := disks[id]
		if d == nil || d.State != metapb.DiskState_DISK_STATE_ACTIVE || !live[id] || d.Capacity <= 0 {
			continue
		}
		u := expected[id]
		for cid, c := range inv[id].chunks {
			if !isShardChunk(cid) {
				u += c.Length
			}
		}
		used[id] = u
		cand = append(cand, id)
	}
	return used, cand
}

func fillRatio(d *metapb.Disk, used int64) float64 { return float64(used) / float64(d.Capacity) }

// spreadPct is the fill of the fullest minus the emptiest disk of cand,
// in percentage points.
func spreadPct(disks map[string]*metapb.Disk, used map[string]int64, cand []string) float64 {
	if len(cand) < 2 {
		return 0
	}
	lo, hi := 2.0, -1.0
	for _, id := range cand {
		f := fillRatio(disks[id], used[id])
		lo, hi = min(lo, f), max(hi, f)
	}
	return 100 * (hi - lo)
}

// pickMove finds the move that helps most: from the fullest disk that has
// one, to the emptiest disk that can take a place in one of its groups
// (a server and zone the group may use), the group whose bytes bring the
// two closest without reversing their order.
func pickMove(disks map[string]*metapb.Disk, groups map[uint64]*metapb.PlacementGroup, used map[string]int64, cand []string, groupBytes map[uint64]int64) *move {
	byFill := slices.Clone(cand)
	slices.SortStableFunc(byFill, func(a, b string) int {
		fa, fb := fillRatio(disks[a], used[a]), fillRatio(disks[b], used[b])
		switch {
		case fa < fb:
			return -1
		case fa > fb:
			return 1
		}
		return 0
	})
	ids := make([]uint64, 0, len(groups))
	for id := range groups {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for h := len(byFill) - 1; h > 0; h-- {
		hi := byFill[h]
		for _, lo := range byFill[:h] {
			if mv := bestGroup(disks, groups, ids, used, groupBytes, hi, lo); mv != nil {
				return mv
			}
		}
	}
	return nil
}

// bestGroup returns the move of one of hi's groups to lo, nil if none fits.
func bestGroup(disks map[string]*metapb.Disk, groups map[uint64]*metapb.PlacementGroup, ids []uint64, used map[string]int64, groupBytes map[uint64]int64, hi, lo string) *move {
	dh, dl := disks[hi], disks[lo]
	gap := fillRatio(dh, used[hi]) - fillRatio(dl, used[lo])
	var best *move
	for _, id := range ids {
		g := groups[id]
		b := groupBytes[id]
		if b <= 0 || !slices.Contains(g.Disks, hi) || slices.Contains(g.Disks, lo) || !movable(disks, g, dh, dl) {
			continue
		}
		after := fillRatio(dh, used[hi]-b) - fillRatio(dl, used[lo]+b)
		if after < 0 && -after >= gap || after >= gap {
			continue // no closer, or the other way round by as much
		}
		if best == nil || b > best.bytes {
			best = &move{group: g, from: hi, to: lo, bytes: b}
		}
	}
	return best
}

// movable: every member of g is active, lo's server holds no other member
// and lo's zone is used no more than hi's by the other members, so the
// group keeps distinct servers and its zone spread.
func movable(disks map[string]*metapb.Disk, g *metapb.PlacementGroup, hi, lo *metapb.Disk) bool {
	zones := map[string]int{}
	for _, id := range g.Disks {
		d := disks[id]
		if d == nil || d.State != metapb.DiskState_DISK_STATE_ACTIVE {
			return false
		}
		if id == hi.Id {
			continue
		}
		if d.Server == lo.Server {
			return false
		}
		zones[d.Zone]++
	}
	return zones[lo.Zone] <= zones[hi.Zone]
}
