package store

import (
	"cmp"
	"context"
	"slices"
	"sync"

	"github.com/wolke-cloud/wolke/chunk/disk"
	"github.com/wolke-cloud/wolke/internal/errs"
)

// readParallel bounds the disk reads one readInto of a fragmented chunk
// (a volume extent patched in place) has in flight.
const readParallel = 8

// maxSpan bounds one read that gathers several pieces of a chunk.
const maxSpan = 1 << 20

// maxGap: pieces of a chunk at most this far apart on the disk are read
// in one read, gap and all, when the disk can read past the page cache
// (disk.DirectReader). A chunk that took random writes has its live blocks
// scattered through the runs its patches wrote (the blocks between them
// replaced since): on the bench host's disk one read of 64 KiB cost about
// as much as one of 4 KiB, and the first read of such a volume was bound
// by the number of reads.
const maxGap = 64 << 10

// piece is a part of a read: dst is filled from the disk at off.
type piece struct {
	dst []byte
	off int64
}

// span is one disk read of [off, off+n) that fills the pieces in it.
type span struct {
	off, n int64
	parts  []piece
	gaps   bool // it covers blocks no part wants: read it directly
}

// readInto reads count logical blocks of rec from block first into buf.
// The pieces of a fragmented chunk are read concurrently, and pieces that
// lie next to each other on the disk in one read: a patch writes all its
// blocks in one run, so an extent patched by multi-range write-backs is
// in about as many runs as it had write-backs, however its blocks
// interleave. Pieces up to maxGap apart are read together, gap and all,
// past the page cache (disk.DirectReader), when the disk can; else only blocks
// of the chunk are read, never the space between them, which a concurrent
// write may be filling.
func (s *Store) readInto(ctx context.Context, rec *record, buf []byte, first, count int64) error {
	want := extent{first * disk.BlockSize, count * disk.BlockSize} // logical
	var pieces []piece
	logical := int64(0)
	for _, e := range rec.exts {
		lo, hi := max(logical, want.off), min(logical+e.n, want.end())
		if lo < hi {
			pieces = append(pieces, piece{buf[lo-want.off : hi-want.off], e.off + (lo - logical)})
		}
		logical += e.n
		if logical >= want.end() {
			break
		}
	}
	if len(pieces) <= 2 {
		for _, p := range pieces {
			if err := s.d.ReadAt(ctx, p.dst, p.off); err != nil {
				return err
			}
		}
		return nil
	}
	gap := int64(0)
	dr, direct := s.d.(disk.DirectReader)
	if direct {
		gap = maxGap
	}
	spans := gather(pieces, gap)
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		ferr error
		next = make(chan span)
	)
	for range min(readParallel, len(spans)) {
		wg.Go(func() {
			for sp := range next {
				if err := s.readSpan(ctx, dr, sp); err != nil {
					mu.Lock()
					if ferr == nil {
						ferr = err
					}
					mu.Unlock()
				}
			}
		})
	}
	for _, sp := range spans {
		next <- sp
	}
	close(next)
	wg.Wait()
	return ferr
}

// gather sorts pieces by disk offset and groups those that follow each
// other on the disk, or lie at most gap bytes apart, into spans of at
// most maxSpan bytes.
func gather(pieces []piece, gap int64) []span {
	slices.SortFunc(pieces, func(a, b piece) int { return cmp.Compare(a.off, b.off) })
	var out []span
	for _, p := range pieces {
		n := int64(len(p.dst))
		if k := len(out) - 1; k >= 0 {
			sp := &out[k]
			end := sp.off + sp.n
			if p.off-end <= gap && p.off+n-sp.off <= maxSpan {
				sp.gaps = sp.gaps || p.off > end
				sp.n = p.off + n - sp.off
				sp.parts = append(sp.parts, p)
				continue
			}
		}
		out = append(out, span{off: p.off, n: n, parts: []piece{p}})
	}
	return out
}

// readSpan reads sp in one request and hands each part its bytes. A span
// with gaps is read by dr; if that fails (the gap may hold a bad sector
// that is none of the chunk's business), its parts are read one by one.
func (s *Store) readSpan(ctx context.Context, dr disk.DirectReader, sp span) error {
	if len(sp.parts) == 1 {
		return s.d.ReadAt(ctx, sp.parts[0].dst, sp.off)
	}
	tmp := s.bufs.get(int(sp.n))
	defer s.bufs.put(tmp)
	if sp.gaps {
		if err := dr.ReadDirectAt(ctx, tmp, sp.off); err != nil {
			for _, p := range sp.parts {
				if err := s.d.ReadAt(ctx, p.dst, p.off); err != nil {
					return err
				}
			}
			return nil
		}
	} else if err := s.d.ReadAt(ctx, tmp, sp.off); err != nil {
		return err
	}
	for _, p := range sp.parts {
		copy(p.dst, tmp[p.off-sp.off:])
	}
	return nil
}

// ReadInto fills p with the bytes of chunk id at off, checking every block
// it reads against its CRC32C, and returns the chunk's generation: GetRange
// into the caller's buffer, without a buffer of its own and a copy. off
// and len(p) must be multiples of disk.BlockSize (else errs.Invalid). A
// failed read leaves p undefined.
func (s *Store) ReadInto(ctx context.Context, id string, off int64, p []byte) (uint64, error) {
	const op = "store.GetRange"
	n := int64(len(p))
	if off < 0 || off%disk.BlockSize != 0 || n%disk.BlockSize != 0 {
		return 0, errs.Errorf(op, errs.Invalid, "range %d+%d is not whole blocks", off, n)
	}
	if err := s.enterChunk(ctx, op, id); err != nil {
		return 0, err
	}
	defer s.closeMu.RUnlock()
	s.gate.RLock()
	defer s.gate.RUnlock()
	rec, err := s.lookupCached(id)
	if err != nil {
		return 0, err
	}
	if off > rec.length || n > rec.length-off {
		return 0, errs.Errorf(op, errs.Invalid, "range %d+%d outside chunk %s of %d bytes", off, n, id, rec.length)
	}
	if n == 0 {
		return rec.gen, nil
	}
	bad, err := s.readVerifiedInto(ctx, rec, p, off/disk.BlockSize, n/disk.BlockSize)
	if err != nil {
		return 0, errs.E(op, errs.KindOf(err), err)
	}
	if bad >= 0 {
		return 0, s.corrupt(op, id, bad)
	}
	if off == 0 {
		s.maybeCompact(id, rec, p)
	}
	return rec.gen, nil
}
