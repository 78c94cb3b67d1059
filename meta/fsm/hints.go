package fsm

import (
	"context"
	"encoding/hex"

	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/meta/internal/kv"
	"github.com/wolke-cloud/wolke/meta/metapb"
	"google.golang.org/protobuf/proto"
)

// Repair hints live outside the buckets' range:
//
//	rh/<hex stripe id>     RepairHint
//
// A commit whose stripe was written with an older placement group epoch
// than the group's current one records a hint in the same command: the
// writer may have put a shard on a member the group no longer has.
const prefixHints = "rh/"

// hintsMaxLimit bounds a ListRepairHints page.
const hintsMaxLimit = 10000

func hintKey(id string) []byte { return []byte(prefixHints + id) }

// hintStale records a repair hint for every stripe of ref whose group
// epoch is older than its group's. Stripes of writers that do not send
// an epoch (0) are left to the full scan.
func (t *tx) hintStale(op string, stripes []*metapb.Stripe, ref *metapb.StripeRef) error {
	var epochs map[uint64]uint64
	for _, st := range stripes {
		if st.GetGroupEpoch() == 0 {
			continue
		}
		if epochs == nil {
			epochs = map[uint64]uint64{}
		}
		cur, ok := epochs[st.PlacementGroup]
		if !ok {
			g := &metapb.PlacementGroup{}
			found, err := getProto(t.r, groupKey(st.PlacementGroup), g)
			if err != nil {
				return err
			}
			if found {
				cur = g.Epoch
			}
			epochs[st.PlacementGroup] = cur
		}
		if st.GroupEpoch >= cur {
			continue
		}
		r := proto.CloneOf(ref)
		r.Stripe = st
		id := hex.EncodeToString(st.Id)
		if err := t.set(op, hintKey(id), &metapb.RepairHint{Id: id, Ref: r, GroupEpoch: cur}); err != nil {
			return err
		}
	}
	return nil
}

func (t *tx) deleteRepairHint(req *metapb.DeleteRepairHintRequest) (proto.Message, error) {
	const op = "meta.DeleteRepairHint"
	if err := checkID(op, "hint id", req.Id); err != nil {
		return nil, err
	}
	return &metapb.DeleteRepairHintResponse{}, t.del(op, hintKey(req.Id))
}

// ListRepairHints pages through the repair hints in stripe id order.
func (f *FSM) ListRepairHints(_ context.Context, req *metapb.ListRepairHintsRequest) (*metapb.ListRepairHintsResponse, error) {
	const op = "meta.ListRepairHints"
	limit := int(req.Limit)
	if limit <= 0 || limit > hintsMaxLimit {
		limit = hintsMaxLimit
	}
	lo := []byte(prefixHints)
	if req.After != "" {
		lo = append(hintKey(req.After), 0)
	}
	resp := &metapb.ListRepairHintsResponse{}
	err := f.view(func(r reader) error {
		it, err := newIter(r, lo, kv.PrefixEnd([]byte(prefixHints)))
		if err != nil {
			return err
		}
		defer it.Close()
		for ok := it.First(); ok; ok = it.Next() {
			h := &metapb.RepairHint{}
			if err := proto.Unmarshal(it.Value(), h); err != nil {
				return errs.E(op, errs.Corrupt, err)
			}
			resp.Hints = append(resp.Hints, h)
			if len(resp.Hints) >= limit {
				resp.Next = h.Id
				break
			}
		}
		return iterErr(it)
	})
	if err != nil {
		return nil, err
	}
	return resp, nil
}
