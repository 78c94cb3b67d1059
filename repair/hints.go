package repair

import (
	"context"

	"github.com/wolke-cloud/wolke/chunk/chunkclient"
	"github.com/wolke-cloud/wolke/core"
	"github.com/wolke-cloud/wolke/meta/metapb"
)

// hintsPerPass bounds the hints one pass handles; the rest wait for the
// next pass (and the full scan covers their stripes meanwhile).
const hintsPerPass = 10000

// listHints reads the repair hints (at most hintsPerPass). It runs before
// the inventory, so the shards of every hinted stripe were written before
// the disks were listed.
func (w *Worker) listHints(ctx context.Context) []*metapb.RepairHint {
	if w.deps.Hints == nil {
		return nil
	}
	var hints []*metapb.RepairHint
	after := ""
	for len(hints) < hintsPerPass {
		resp, err := w.deps.Hints.ListRepairHints(ctx, &metapb.ListRepairHintsRequest{After: after, Limit: 1000})
		if err != nil {
			w.log.Warn("repair hints not listed", "err", err)
			return hints
		}
		hints = append(hints, resp.Hints...)
		if resp.Next == "" {
			break
		}
		after = resp.Next
	}
	return hints
}

// doHints handles the repair hints before the full scan: a hinted stripe
// was committed with a placement group epoch older than its group's, so
// its writer may have put a shard on a member the group no longer has.
// Its shards are checked on the current members (in the inventory), the
// missing ones copied from where the stale writer put them or rebuilt,
// and the hint deleted. The shards written are added to the inventory so
// that the scan does not do them again. A stripe with an unreachable
// member keeps its hint for a later pass; one with fewer than k shards
// left (freed since, or unavailable) is left to the full scan, which
// judges it by its manifest.
func (w *Worker) doHints(ctx context.Context, hints []*metapb.RepairHint, groups map[uint64]*metapb.PlacementGroup, disks map[string]*metapb.Disk, inv map[string]*diskInv) {
	order := sortedKeys(inv)
	for _, h := range hints {
		if ctx.Err() != nil {
			return
		}
		if w.doHint(ctx, h, groups, disks, inv, order) {
			if _, err := w.deps.Hints.DeleteRepairHint(ctx, &metapb.DeleteRepairHintRequest{Id: h.Id}); err != nil {
				w.log.Warn("repair hint not deleted", "stripe", h.Id, "err", err)
				continue
			}
			w.m.hints.Inc()
		}
	}
}

// doHint checks and repairs one hinted stripe; it reports whether the
// hint is done with.
func (w *Worker) doHint(ctx context.Context, h *metapb.RepairHint, groups map[uint64]*metapb.PlacementGroup, disks map[string]*metapb.Disk, inv map[string]*diskInv, order []string) bool {
	st := h.GetRef().GetStripe()
	g := groups[st.GetPlacementGroup()]
	if g == nil || len(g.Disks) != int(g.EcData+g.EcParity) {
		return true // the full scan reports stripes of unknown groups
	}
	t := &task{ref: h.Ref, group: g}
	present := 0
	for i, disk := range g.Disks {
		di := inv[disk]
		if di == nil || !usable(disks[disk]) {
			t.unreach++
			continue
		}
		c, ok := di.chunks[core.ChunkID(st.Id, i)]
		if ok && c.Length == st.ShardSize && (len(st.ShardCrc32C) != len(g.Disks) || c.CRC32C == st.ShardCrc32C[i]) {
			present++
			continue
		}
		t.missing = append(t.missing, i)
		if src := findCopy(st, i, len(g.Disks), disk, order, inv); src != "" {
			if t.from == nil {
				t.from = map[int]string{}
			}
			t.from[i] = src
		}
	}
	switch {
	case t.unreach > 0:
		return false
	case len(t.missing) == 0:
		return true
	case present+len(t.from) < int(g.EcData):
		w.log.Warn("hinted stripe has fewer than k shards; left to the full scan", "stripe", h.Id, "present", present)
		return true
	}
	if err := w.rebuild(ctx, t); err != nil {
		w.log.Warn("hinted stripe not rebuilt", "stripe", h.Id, "bucket", h.Ref.GetBucket(), "key", h.Ref.GetKey(), "err", err)
		return false
	}
	for _, i := range t.missing {
		id := core.ChunkID(st.Id, i)
		var crc uint32
		if len(st.ShardCrc32C) == len(g.Disks) {
			crc = st.ShardCrc32C[i]
		}
		inv[g.Disks[i]].chunks[id] = chunkclient.ChunkInfo{ID: id, Length: st.ShardSize, CRC32C: crc, Created: w.now()}
	}
	w.log.Info("hinted stripe repaired", "stripe", h.Id, "bucket", h.Ref.GetBucket(), "key", h.Ref.GetKey(), "shards", t.missing)
	return true
}
