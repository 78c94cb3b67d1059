package volume

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/klauspost/reedsolomon"
	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/meta/metapb"
)

// Erasure coded extents. Volumes of the throughput and cold HDD types
// (st1, sc1: large sequential I/O, as on AWS) store an extent written
// whole (a write, or a write-back of cached blocks, that covers all of
// it; or the copy of an extent that is coded already) as k data shards,
// the extent's bytes in order, and m Reed-Solomon parity shards, one per
// disk of distinct servers, when Config.DataShards and ParityShards are
// set and that many servers have an active disk. With 4+2 that is 1.5
// bytes written per byte against 3 for three replicas, and any two
// shards may be lost, as any two replicas may. Coded chunks are never
// patched in place: a later write of part of such an extent copies it on
// write to three replicas (read 1, write 3 bytes per byte of the extent
// once), which take in-place writes from then on. Other volume types
// (gp2, gp3, io1, io2, standard) keep every extent on three replicas.

// CodedType reports whether volumes of the EC2 volume type t have their
// extents written whole erasure coded.
func CodedType(t string) bool { return t == "st1" || t == "sc1" }

// ecCode is the erasure code of the service's new coded extents.
type ecCode struct {
	k, m int
	enc  reedsolomon.Encoder
	// until is when (unix nanoseconds) coding may be tried again after
	// a coded write found too few disks (a server down but not yet
	// declared lost): meanwhile extents are replicated at once.
	until atomic.Int64
	// parity holds buffers for the parity shards of an extent (*[]byte),
	// reused from one coded write to the next: an extent's parity is half
	// a MiB of garbage per coded MiB otherwise.
	parity sync.Pool
}

// codedFailBackoff is how long extents are not coded after a coded write
// found too few disks.
const codedFailBackoff = 10 * time.Second

func newECCode(k, m int) (*ecCode, error) {
	if k == 0 && m == 0 {
		return nil, nil
	}
	if k < 1 || m < 1 || k+m > 256 {
		return nil, errs.Errorf("volume.Config", errs.Invalid, "erasure code %d+%d out of range", k, m)
	}
	enc, err := reedsolomon.New(k, m)
	if err != nil {
		return nil, errs.E("volume.Config", errs.Internal, err)
	}
	return &ecCode{k: k, m: m, enc: enc}, nil
}

// fits reports whether extents of x bytes split into whole 4 KiB blocks
// per shard.
func (c *ecCode) fits(x int64) bool {
	return c != nil && x%(int64(c.k)*4096) == 0
}

// encode splits buf (one extent) into the k data shards (slices of buf)
// and m parity shards. The caller calls release once nothing uses the
// parity shards any more.
func (c *ecCode) encode(buf []byte) (shards [][]byte, release func(), err error) {
	n := len(buf) / c.k
	shards = make([][]byte, c.k+c.m)
	for i := range c.k {
		shards[i] = buf[i*n : (i+1)*n]
	}
	p, _ := c.parity.Get().(*[]byte)
	if p == nil || len(*p) != c.m*n {
		b := make([]byte, c.m*n)
		p = &b
	}
	for i := range c.m {
		shards[c.k+i] = (*p)[i*n : (i+1)*n]
	}
	release = func() { c.parity.Put(p) }
	if err := c.enc.Encode(shards); err != nil {
		release()
		return nil, nil, errs.E("volume.encode", errs.Internal, err)
	}
	return shards, release, nil
}

// codesWhole reports whether edits (which never overlap) cover the whole
// extent and the service codes such writes: copied on write, they take
// half the disk writes of a patch of three replicas.
func (v *Volume) codesWhole(edits []edit) bool {
	if !v.spec.coded || !v.s.ec.fits(v.spec.extent) {
		return false
	}
	n := int64(0)
	for _, e := range edits {
		n += e.l
	}
	return n == v.spec.extent
}

// servers counts the distinct servers of disks.
func servers(disks []*metapb.Disk) int {
	seen := map[string]bool{}
	for _, d := range disks {
		seen[d.Server] = true
	}
	return len(seen)
}

// store writes the new extent buf as chunk: coded when code asks for it,
// the service has a code and enough servers are there, else replicated.
// sums, if not nil, are buf's block CRC32Cs, known already. It returns
// the extent record (index unset).
func (s *Service) store(ctx context.Context, chunk string, buf []byte, sums []uint32, code bool) (*metapb.Extent, error) {
	c := s.ec
	if code && c.fits(int64(len(buf))) && time.Now().UnixNano() >= c.until.Load() {
		if all, err := s.place.active(ctx); err == nil && servers(all) >= c.k+c.m {
			shards, release, err := c.encode(buf)
			if err != nil {
				return nil, err
			}
			disks, err := s.place.writeEach(ctx, chunk, shards, nil) // returns once no write uses them
			release()
			if err == nil {
				return &metapb.Extent{ChunkId: chunk, Disks: disks, DataShards: uint32(c.k)}, nil
			}
			if ctx.Err() != nil {
				return nil, err
			}
			// Too few disks took a shard: three replicas need fewer.
			c.until.Store(time.Now().Add(codedFailBackoff).UnixNano())
			s.log.Warn("volume coded write failed, writing replicas for a while", "chunk", chunk, "for", codedFailBackoff, "err", err)
			// A new id: a shard whose delete failed never passes for a replica.
			chunk = chunk[:strings.LastIndexByte(chunk, '.')+1] + newChunkSuffix()
		}
	}
	disks, err := s.place.write(ctx, chunk, buf, sums)
	if err != nil {
		return nil, err
	}
	return &metapb.Extent{ChunkId: chunk, Disks: disks}, nil
}

// readCoded reads p from the coded extent e (x bytes) at in: each piece
// from the data shard that holds it; a piece whose shard fails is
// rebuilt from the same range of k other shards.
func (s *Service) readCoded(ctx context.Context, name string, e *metapb.Extent, x, in int64, p []byte) error {
	k := int64(e.DataShards)
	n := x / k
	if x%k != 0 || int64(len(e.Disks)) <= k || in < 0 || in+int64(len(p)) > x {
		return errs.Errorf("volume.read", errs.Corrupt, "coded extent %d of %s: %d shards of %d bytes, read [%d, +%d)", e.Index, name, len(e.Disks), n, in, len(p))
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	for at := int64(0); at < int64(len(p)); {
		pos := in + at
		i, off := pos/n, pos%n
		l := min(n-off, int64(len(p))-at)
		q := p[at : at+l]
		wg.Go(func() {
			_, err := s.shards.ReadShardRangeInto(ctx, e.Disks[i], e.ChunkId, off, q)
			if err != nil && ctx.Err() == nil {
				s.log.Warn("volume shard read failed, rebuilding", "volume", name, "chunk", e.ChunkId, "disk", e.Disks[i], "err", err)
				err = s.rebuildRange(ctx, e, int(i), off, q)
			}
			if err != nil {
				mu.Lock()
				if first == nil {
					first = err
				}
				mu.Unlock()
			}
		})
		at += l
	}
	wg.Wait()
	if first != nil && ctx.Err() != nil {
		return errs.E("volume.read", errs.Canceled, ctx.Err())
	}
	return first
}

// rebuildRange fills q with bytes [off, off+len(q)) of shard want of the
// coded extent e, decoding them from the same range of the other shards.
func (s *Service) rebuildRange(ctx context.Context, e *metapb.Extent, want int, off int64, q []byte) error {
	shards, err := s.readShardRanges(ctx, e, off, int64(len(q)), want)
	if err != nil {
		return err
	}
	enc, err := s.codeFor(e)
	if err != nil {
		return err
	}
	if err := enc.ReconstructData(shards); err != nil {
		return errs.E("volume.read", errs.Unavailable, err)
	}
	copy(q, shards[want])
	return nil
}

// readShardRanges reads [off, off+l) of every shard of e but skip, in
// parallel; a shard that fails is left nil. It fails unless k were read.
func (s *Service) readShardRanges(ctx context.Context, e *metapb.Extent, off, l int64, skip int) ([][]byte, error) {
	shards := make([][]byte, len(e.Disks))
	errl := make([]error, len(e.Disks))
	var wg sync.WaitGroup
	for i, d := range e.Disks {
		if i == skip {
			continue
		}
		wg.Go(func() {
			b := make([]byte, l)
			if _, err := s.shards.ReadShardRangeInto(ctx, d, e.ChunkId, off, b); err != nil {
				errl[i] = err
				return
			}
			shards[i] = b
		})
	}
	wg.Wait()
	got := 0
	for _, b := range shards {
		if b != nil {
			got++
		}
	}
	if got < int(e.DataShards) {
		return nil, errs.E("volume.read", errs.Unavailable, fmt.Sprintf("chunk %s: %d of %d shards readable, %d needed", e.ChunkId, got, len(e.Disks), e.DataShards), errors.Join(errl...))
	}
	return shards, nil
}

// codeFor returns the code of e's shards: the service's when it matches,
// else one made for e (a volume written under another configuration).
func (s *Service) codeFor(e *metapb.Extent) (reedsolomon.Encoder, error) {
	k, m := int(e.DataShards), len(e.Disks)-int(e.DataShards)
	if s.ec != nil && s.ec.k == k && s.ec.m == m {
		return s.ec.enc, nil
	}
	c, err := newECCode(k, m)
	if err != nil {
		return nil, err
	}
	return c.enc, nil
}
