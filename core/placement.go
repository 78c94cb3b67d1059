package core

import (
	"context"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/meta/metapb"
)

// minRelist is the least time between two forced placement refreshes, so a
// down disk does not turn every degraded read into a meta round trip.
const minRelist = time.Second

// placement caches placement groups from meta: per erasure code for choosing
// where new stripes go, and by id for finding the disks of stored stripes.
type placement struct {
	meta    metapb.MetaClient
	ttl     time.Duration
	now     func() time.Time
	refresh func() // counts refreshes

	mu       sync.Mutex
	byShape  map[shape]shapeGroups
	byID     map[uint64]*metapb.PlacementGroup
	listedAt time.Time // last full ListPlacementGroups
}

type shapeGroups struct {
	groups []*metapb.PlacementGroup
	at     time.Time
}

func newPlacement(meta metapb.MetaClient, ttl time.Duration, now func() time.Time) *placement {
	return &placement{
		meta:    meta,
		ttl:     ttl,
		now:     now,
		refresh: func() {},
		byShape: make(map[shape]shapeGroups),
		byID:    make(map[uint64]*metapb.PlacementGroup),
	}
}

// pick chooses a group for a new stripe of shape k+m uniformly at random,
// avoiding the group avoid when there is another one.
func (p *placement) pick(ctx context.Context, k, m int, avoid uint64) (*metapb.PlacementGroup, error) {
	const op = "core.placement"
	p.mu.Lock()
	defer p.mu.Unlock()
	sh := shape{k, m}
	cur, ok := p.byShape[sh]
	if !ok || p.now().Sub(cur.at) >= p.ttl {
		p.refresh()
		resp, err := p.meta.EnsurePlacementGroups(ctx, &metapb.EnsurePlacementGroupsRequest{EcData: int32(k), EcParity: int32(m)})
		switch {
		case err != nil && len(cur.groups) == 0:
			return nil, errs.E(op, errs.Unavailable, "no placement groups", err)
		case err == nil:
			cur = shapeGroups{at: p.now()}
			for _, g := range resp.GetGroups() {
				if int(g.GetEcData()) != k || int(g.GetEcParity()) != m || len(g.GetDisks()) != k+m {
					continue
				}
				cur.groups = append(cur.groups, g)
				p.byID[g.GetId()] = g
			}
			p.byShape[sh] = cur
		}
	}
	n := len(cur.groups)
	if n == 0 {
		return nil, errs.Errorf(op, errs.Unavailable, "no placement groups for %d+%d", k, m)
	}
	i := rand.IntN(n)
	if cur.groups[i].GetId() == avoid && n > 1 {
		i = (i + 1 + rand.IntN(n-1)) % n
	}
	return cur.groups[i], nil
}

// invalidate makes the next pick for shape k+m ask meta again.
func (p *placement) invalidate(k, m int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if cur, ok := p.byShape[shape{k, m}]; ok {
		cur.at = time.Time{}
		p.byShape[shape{k, m}] = cur
	}
}

// group returns the placement group with the given id.
func (p *placement) group(ctx context.Context, id uint64) (*metapb.PlacementGroup, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if g, ok := p.byID[id]; ok && p.now().Sub(p.listedAt) < p.ttl {
		return g, nil
	}
	if err := p.relistLocked(ctx); err != nil {
		if g, ok := p.byID[id]; ok {
			return g, nil // stale beats nothing
		}
		return nil, err
	}
	if g, ok := p.byID[id]; ok {
		return g, nil
	}
	return nil, errs.Errorf("core.placement", errs.Internal, "placement group %d does not exist", id)
}

// suspect reloads the groups after a read found a shard missing, so a disk
// replaced by repair is seen; it returns the group with the given id as now
// known and whether its members changed.
func (p *placement) suspect(ctx context.Context, old *metapb.PlacementGroup) (*metapb.PlacementGroup, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.now().Sub(p.listedAt) >= minRelist {
		_ = p.relistLocked(ctx) // best effort: the caller goes on with what it has
	}
	g, ok := p.byID[old.GetId()]
	if !ok || g.GetEpoch() == old.GetEpoch() {
		return old, false
	}
	return g, true
}

func (p *placement) relistLocked(ctx context.Context) error {
	p.refresh()
	resp, err := p.meta.ListPlacementGroups(ctx, &metapb.ListPlacementGroupsRequest{})
	if err != nil {
		return errs.E("core.placement", errs.Unavailable, "listing placement groups", err)
	}
	p.listedAt = p.now()
	for _, g := range resp.GetGroups() {
		p.byID[g.GetId()] = g
	}
	for _, cur := range p.byShape {
		for i, g := range cur.groups {
			if ng, ok := p.byID[g.GetId()]; ok && len(ng.GetDisks()) == len(g.GetDisks()) {
				cur.groups[i] = ng
			}
		}
	}
	return nil
}
