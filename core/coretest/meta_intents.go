package coretest

import (
	"context"
	"encoding/hex"
	"sort"

	"google.golang.org/grpc"

	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/meta/metapb"
)

// Intents returns the write intents recorded and not yet consumed: intent
// id → hex stripe ids.
func (m *Meta) Intents() map[string][]string {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string][]string{}
	for id, wi := range m.intents {
		var ids []string
		for _, s := range wi.GetStripeIds() {
			ids = append(ids, hex.EncodeToString(s))
		}
		out[id] = ids
	}
	return out
}

func (m *Meta) PutIntent(_ context.Context, in *metapb.PutIntentRequest, _ ...grpc.CallOption) (*metapb.PutIntentResponse, error) {
	if err := m.enter("PutIntent"); err != nil {
		return nil, err
	}
	defer m.mu.Unlock()
	if in.GetId() == "" || in.GetTtlMillis() <= 0 {
		return nil, errs.E("fakemeta.PutIntent", errs.Invalid, "id and ttl are required")
	}
	if m.intents == nil {
		m.intents = map[string]*metapb.WriteIntent{}
	}
	wi := m.intents[in.GetId()]
	if wi == nil {
		wi = &metapb.WriteIntent{Id: in.GetId()}
		m.intents[in.GetId()] = wi
	}
	wi.StripeIds = append(wi.StripeIds, in.GetStripeIds()...)
	return &metapb.PutIntentResponse{Intent: clone(wi)}, nil
}

func (m *Meta) DeleteIntent(_ context.Context, in *metapb.DeleteIntentRequest, _ ...grpc.CallOption) (*metapb.DeleteIntentResponse, error) {
	if err := m.enter("DeleteIntent"); err != nil {
		return nil, err
	}
	defer m.mu.Unlock()
	delete(m.intents, in.GetId())
	return &metapb.DeleteIntentResponse{}, nil
}

func (m *Meta) ListIntents(_ context.Context, _ *metapb.ListIntentsRequest, _ ...grpc.CallOption) (*metapb.ListIntentsResponse, error) {
	if err := m.enter("ListIntents"); err != nil {
		return nil, err
	}
	defer m.mu.Unlock()
	resp := &metapb.ListIntentsResponse{}
	for _, wi := range m.intents {
		resp.Intents = append(resp.Intents, clone(wi))
	}
	sort.Slice(resp.Intents, func(i, j int) bool { return resp.Intents[i].Id < resp.Intents[j].Id })
	return resp, nil
}

// consumeIntentLocked ends the intent a commit names, as meta does in the
// commit's raft command.
func (m *Meta) consumeIntentLocked(op, id string) error {
	if id == "" {
		return nil
	}
	if _, ok := m.intents[id]; !ok {
		return errs.Errorf(op, errs.Unavailable, "write intent %s is gone", id)
	}
	delete(m.intents, id)
	return nil
}
