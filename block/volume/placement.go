package volume

import (
	"context"
	"errors"
	"hash/crc32"
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
// returns them. sums, if not nil, are data's block CRC32Cs, known already.
func (p *placer) write(ctx context.Context, chunk string, data []byte, sums []uint32) ([]string, error) {
	datas := make([][]byte, p.replicas)
	known := make([][]uint32, p.replicas)
	for i := range datas {
		datas[i], known[i] = data, sums
	}
	return p.writeEach(ctx, chunk, datas, known)
}

// writeEach stores datas[i] as chunk on a disk of its own server for each
// i and returns the disks, in the order of datas. A disk that fails is
// replaced by the next candidate; the write fails only when no candidates
// are left. What was written before a failure is deleted. known[i], if
// known is not nil, may hold datas[i]'s block CRC32Cs.
func (p *placer) writeEach(ctx context.Context, chunk string, datas [][]byte, known [][]uint32) ([]string, error) {
	const op = "volume.place"
	all, err := p.active(ctx)
	if err != nil {
		return nil, err
	}
	cands := order(all, rand.IntN)
	sums := p.sums(ctx, cands, datas, known)
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
				err := p.put(ctx, d.Id, chunk, data, sums[i])
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

// summedWriter is a shard store that takes a new chunk's block CRC32Cs
// from the caller, computed once for every replica (chunkclient.Client,
// which hands them to chunk servers in this process).
type summedWriter interface {
	WriteShardSummed(ctx context.Context, diskID, chunkID string, data []byte, sums []uint32) error
	// Local reports whether the disk's server takes the sums (runs in
	// this process); remote servers compute their own.
	Local(ctx context.Context, diskID string) bool
}

// sums returns, for each of datas, the CRC32C of each 4 KiB block (one
// slice for datas that are the same slice, as replicas are; known[i]
// where given) when the shard store takes them for at least one of
// disks; a nil slice where it does not (and for data of part of a block).
func (p *placer) sums(ctx context.Context, disks []*metapb.Disk, datas [][]byte, known [][]uint32) [][]uint32 {
	out := make([][]uint32, len(datas))
	sw, ok := p.shards.(summedWriter)
	if !ok || !slices.ContainsFunc(disks, func(d *metapb.Disk) bool { return sw.Local(ctx, d.Id) }) {
		return out
	}
	for i, data := range datas {
		switch {
		case len(data) == 0 || len(data)%blockSize != 0:
		case known != nil && known[i] != nil:
			out[i] = known[i]
		case i > 0 && len(data) == len(datas[i-1]) && &data[0] == &datas[i-1][0]:
			out[i] = out[i-1]
		default:
			out[i] = crcBlocks(data)
		}
	}
	return out
}

// put stores data as chunk on disk, handing the store sums if it takes
// them (see placer.sums).
func (p *placer) put(ctx context.Context, disk, chunk string, data []byte, sums []uint32) error {
	if sw, ok := p.shards.(summedWriter); ok && sums != nil {
		return sw.WriteShardSummed(ctx, disk, chunk, data, sums)
	}
	return p.shards.WriteShard(ctx, disk, chunk, data)
}

// crcBlocks returns the CRC32C of each 4 KiB block of data, a whole
// number of blocks.
func crcBlocks(data []byte) []uint32 {
	table := crc32.MakeTable(crc32.Castagnoli) // the standard library's, made once
	sums := make([]uint32, len(data)/blockSize)
	for b := range sums {
		sums[b] = crc32.Checksum(data[b*blockSize:(b+1)*blockSize], table)
	}
	return sums
}

// remove deletes chunk from disks, best effort.
func (p *placer) remove(ctx context.Context, chunk string, disks []string) {
	for _, d := range disks {
		if d != "" {
			_ = p.shards.DeleteShard(ctx, d, chunk)
		}
	}
}
