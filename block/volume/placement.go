package volume

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/internal/spread"
	"github.com/wolke-cloud/wolke/meta/metapb"
)

// placer chooses disks for new chunks and writes the replicas.
type placer struct {
	disks    Disks
	shards   Shards
	replicas int
	refresh  time.Duration

	mu      sync.Mutex
	cached  []*metapb.Disk
	fetched time.Time
}

func (p *placer) active(ctx context.Context) ([]*metapb.Disk, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cached != nil && time.Since(p.fetched) < p.refresh {
		return p.cached, nil
	}
	resp, err := p.disks.ListDisks(ctx, &metapb.ListDisksRequest{})
	if err != nil {
		if p.cached != nil {
			return p.cached, nil // meta hiccup: the old list is still good
		}
		return nil, errs.E("volume.disks", errs.Other, err)
	}
	var out []*metapb.Disk
	for _, d := range resp.Disks {
		if d.State == metapb.DiskState_DISK_STATE_ACTIVE {
			out = append(out, d)
		}
	}
	p.cached, p.fetched = out, time.Now()
	return out, nil
}

// order arranges disks so that any prefix spreads over as many servers,
// then zones, as possible: greedily, each next disk is on an unused
// server in the least used zone; ties are broken at random. The rule is
// internal/spread's, shared with the repair worker that re-replicates
// chunks.
func order(disks []*metapb.Disk, rnd func(n int) int) []*metapb.Disk {
	places := make([]spread.Place, len(disks))
	for i, d := range disks {
		places[i] = spread.Place{Server: d.Server, Zone: d.Zone}
	}
	out := make([]*metapb.Disk, 0, len(disks))
	for _, i := range spread.Order(places, nil, rnd) {
		out = append(out, disks[i])
	}
	return out
}

// write stores data as chunk on p.replicas disks of distinct servers and
// returns them.
func (p *placer) write(ctx context.Context, chunk string, data []byte) ([]string, error) {
	datas := make([][]byte, p.replicas)
	for i := range datas {
		datas[i] = data
	}
	return p.writeEach(ctx, chunk, datas)
}

// writeEach stores datas[i] as chunk on a disk of its own server for each
// i and returns the disks, in the order of datas. A disk that fails is
// replaced by the next candidate; the write fails only when no candidates
// are left. What was written before a failure is deleted.
func (p *placer) writeEach(ctx context.Context, chunk string, datas [][]byte) ([]string, error) {
	const op = "volume.place"
	all, err := p.active(ctx)
	if err != nil {
		return nil, err
	}
	cands := order(all, rand.IntN)
	var (
		mu      sync.Mutex
		next    int
		claimed = map[string]bool{} // servers holding or writing a replica
		got     = make([]string, len(datas))
		errList []error
	)
	take := func() *metapb.Disk {
		mu.Lock()
		defer mu.Unlock()
		for next < len(cands) {
			d := cands[next]
			next++
			if !claimed[d.Server] {
				claimed[d.Server] = true
				return d
			}
		}
		return nil
	}
	var wg sync.WaitGroup
	for i, data := range datas {
		wg.Go(func() {
			for {
				d := take()
				if d == nil {
					return
				}
				err := p.shards.WriteShard(ctx, d.Id, chunk, data)
				mu.Lock()
				if err == nil {
					got[i] = d.Id
					mu.Unlock()
					return
				}
				errList = append(errList, err)
				delete(claimed, d.Server)
				mu.Unlock()
				if ctx.Err() != nil {
					return
				}
			}
		})
	}
	wg.Wait()
	if !slices.Contains(got, "") {
		return got, nil
	}
	p.remove(context.WithoutCancel(ctx), chunk, got)
	if err := ctx.Err(); err != nil {
		return nil, errs.E(op, errs.Canceled, err)
	}
	return nil, errs.E(op, errs.Unavailable, "not enough disks took the extent", errors.Join(errList...))
}

// remove deletes chunk from disks, best effort.
func (p *placer) remove(ctx context.Context, chunk string, disks []string) {
	for _, d := range disks {
		if d != "" {
			_ = p.shards.DeleteShard(ctx, d, chunk)
		}
	}
}
