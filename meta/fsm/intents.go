package fsm

import (
	"bytes"
	"context"
	"slices"

	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/meta/internal/kv"
	"github.com/wolke-cloud/wolke/meta/metapb"
	"google.golang.org/protobuf/proto"
)

// Durability ops (repair and garbage collection range, 96–127).
const (
	OpPutIntent        Op = 96
	OpDeleteIntent     Op = 97
	OpDeleteRepairHint Op = 98
)

var durabilityOpNames = map[Op]string{
	OpPutIntent: "PutIntent", OpDeleteIntent: "DeleteIntent", OpDeleteRepairHint: "DeleteRepairHint",
}

// Write intents live outside the buckets' range:
//
//	wi/<id>\x00                 WriteIntent header (id, expiry; no stripe ids)
//	wi/<id>\x00<stripe id>      one stripe of the intent (empty value)
//
// A stripe per key keeps refreshing a long write's intent cheap (only new
// stripe ids are written) and lets a listing page stop anywhere.
const prefixIntents = "wi/"

// Intent listing bounds, in stripe ids per page.
const (
	intentsDefaultLimit = 10000
	intentsMaxLimit     = 64 << 10
)

func intentPrefix(id string) []byte { return []byte(prefixIntents + id + "\x00") }

// durabilityRequest returns an empty request message for a durability op.
func durabilityRequest(op Op) (proto.Message, bool) {
	switch op {
	case OpPutIntent:
		return &metapb.PutIntentRequest{}, true
	case OpDeleteIntent:
		return &metapb.DeleteIntentRequest{}, true
	case OpDeleteRepairHint:
		return &metapb.DeleteRepairHintRequest{}, true
	}
	return nil, false
}

// execDurability runs a durability command; ok is false for other ops.
func (t *tx) execDurability(c *Command) (resp proto.Message, ok bool, err error) {
	switch c.Op {
	case OpPutIntent:
		resp, err = t.putIntent(c.Req.(*metapb.PutIntentRequest))
	case OpDeleteIntent:
		resp, err = t.deleteIntent(c.Req.(*metapb.DeleteIntentRequest))
	case OpDeleteRepairHint:
		resp, err = t.deleteRepairHint(c.Req.(*metapb.DeleteRepairHintRequest))
	default:
		return nil, false, nil
	}
	return resp, true, err
}

func getIntent(r reader, id string) (*metapb.WriteIntent, error) {
	wi := &metapb.WriteIntent{}
	found, err := getProto(r, intentPrefix(id), wi)
	if err != nil || !found {
		return nil, err
	}
	return wi, nil
}

// putIntent creates or extends an intent: the stripe ids are added and
// the expiry becomes now + ttl.
func (t *tx) putIntent(req *metapb.PutIntentRequest) (proto.Message, error) {
	const op = "meta.PutIntent"
	if err := checkID(op, "intent id", req.Id); err != nil {
		return nil, err
	}
	if req.TtlMillis <= 0 {
		return nil, errs.E(op, errs.Invalid, "ttl must be positive")
	}
	wi := &metapb.WriteIntent{Id: req.Id, ExpiresUnixNano: t.now + req.TtlMillis*1e6}
	if err := t.set(op, intentPrefix(req.Id), wi); err != nil {
		return nil, err
	}
	for _, s := range req.StripeIds {
		if len(s) == 0 {
			return nil, errs.E(op, errs.Invalid, "empty stripe id")
		}
		if err := t.w.Set(append(intentPrefix(req.Id), s...), nil, nil); err != nil {
			return nil, errs.E(op, errs.Internal, err)
		}
	}
	return &metapb.PutIntentResponse{Intent: wi}, nil
}

func (t *tx) deleteIntent(req *metapb.DeleteIntentRequest) (proto.Message, error) {
	const op = "meta.DeleteIntent"
	if err := checkID(op, "intent id", req.Id); err != nil {
		return nil, err
	}
	wi, err := getIntent(t.r, req.Id)
	if err != nil || wi == nil {
		return &metapb.DeleteIntentResponse{}, err
	}
	if req.ExpiredOnly && wi.ExpiresUnixNano >= t.now {
		return &metapb.DeleteIntentResponse{}, nil
	}
	return &metapb.DeleteIntentResponse{}, t.dropIntent(op, req.Id)
}

// dropIntent deletes the intent's header and stripe keys.
func (t *tx) dropIntent(op, id string) error {
	p := intentPrefix(id)
	it, err := newIter(t.r, p, kv.PrefixEnd(p))
	if err != nil {
		return err
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		if err := t.del(op, slices.Clone(it.Key())); err != nil {
			return err
		}
	}
	return iterErr(it)
}

// consumeIntent ends the intent a commit names, in the commit's own
// command. An intent that is gone or expired may have let garbage
// collection delete the commit's shards: the commit fails Unavailable
// (the writer deletes its shards and the client retries).
func (t *tx) consumeIntent(op, id string) error {
	if id == "" {
		return nil
	}
	wi, err := getIntent(t.r, id)
	if err != nil {
		return err
	}
	if wi == nil {
		return errs.Errorf(op, errs.Unavailable, "write intent %s is gone", id)
	}
	if wi.ExpiresUnixNano < t.now {
		return errs.Errorf(op, errs.Unavailable, "write intent %s expired", id)
	}
	return t.dropIntent(op, id)
}

// ListIntents pages through the write intents, expired ones included, at
// most req.Limit stripe ids per page. An intent with more stripes than fit
// continues on the next page under the same id.
func (f *FSM) ListIntents(_ context.Context, req *metapb.ListIntentsRequest) (*metapb.ListIntentsResponse, error) {
	const op = "meta.ListIntents"
	limit := int(req.Limit)
	if limit <= 0 {
		limit = intentsDefaultLimit
	}
	limit = min(limit, intentsMaxLimit)
	lo := []byte(prefixIntents)
	if req.After != "" {
		if !bytes.HasPrefix([]byte(req.After), lo) {
			return nil, errs.E(op, errs.Invalid, "bad intent cursor")
		}
		lo = append([]byte(req.After), 0)
	}
	resp := &metapb.ListIntentsResponse{}
	err := f.view(func(r reader) error {
		it, err := newIter(r, lo, kv.PrefixEnd([]byte(prefixIntents)))
		if err != nil {
			return err
		}
		defer it.Close()
		var cur *metapb.WriteIntent
		n := 0
		for ok := it.First(); ok; ok = it.Next() {
			k := it.Key()
			id, stripe, found := bytes.Cut(k[len(prefixIntents):], []byte{0})
			if !found {
				return errs.E(op, errs.Corrupt, "bad intent key")
			}
			if cur == nil || cur.Id != string(id) {
				if cur, err = getIntent(r, string(id)); err != nil {
					return err
				}
				if cur == nil {
					return errs.E(op, errs.Corrupt, "intent stripe without header")
				}
				resp.Intents = append(resp.Intents, cur)
			}
			if len(stripe) > 0 {
				cur.StripeIds = append(cur.StripeIds, slices.Clone(stripe))
				n++
			}
			if n >= limit {
				resp.Next = string(k)
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
