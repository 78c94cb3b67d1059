package store

import (
	"context"
	"slices"
	"time"

	"github.com/wolke-cloud/wolke/chunk/disk"
	"github.com/wolke-cloud/wolke/internal/errs"
)

// Compaction on read. Patches leave a chunk in many disk extents (a block
// volume's extent that took random writes ends up in hundreds), and a read
// of the whole chunk is then as many small disk reads. When a read brings
// the whole of such a chunk into memory anyway, checked against its
// CRC32Cs, the store writes those bytes out contiguously in the background
// and moves the chunk there: the same bytes, checksums and generation, so
// readers and writers see no change but the next read is one disk read,
// or none: the move writes through the page cache, as the scattered
// blocks were read, so that a volume read twice is not read from the disk
// twice.
// Like an unsynced Patch, the move reaches the index with the next sync,
// and the blocks it leaves are reused only after that sync: a crash before
// it leaves the chunk where it was, intact.
//
// Rewriting scattered chunks in the background on their own was tried
// before (round 4, patch.go) and made reads slower; here only chunks read
// whole are moved, once, with bytes already in memory.

const (
	// compactAt is how many disk extents a chunk read whole must be in
	// to be moved.
	compactAt = 16
	// maxCompactions bounds the moves running at once per store; a read
	// that finds them all busy moves nothing.
	maxCompactions = 2
	// compactTimeout bounds one move.
	compactTimeout = 10 * time.Second
)

// maybeCompact moves chunk id, as rec describes it, to contiguous space in
// the background when it is in compactAt extents or more; data is the
// whole chunk, just read and checked. It copies data and returns at once.
func (s *Store) maybeCompact(id string, rec *record, data []byte) {
	if len(rec.exts) < compactAt || int64(len(data)) != rec.length || rec.length%disk.BlockSize != 0 {
		return
	}
	select {
	case s.compacting <- struct{}{}:
	default:
		return
	}
	buf := s.bufs.get(len(data))
	copy(buf, data)
	go func() {
		defer func() {
			s.bufs.put(buf)
			<-s.compacting
		}()
		ctx, cancel := context.WithTimeout(context.Background(), compactTimeout)
		defer cancel()
		if err := s.compact(ctx, id, rec, buf); err != nil {
			s.log.Debug("chunk not compacted", "disk", s.sb.diskID, "chunk", id, "err", err)
		}
	}()
}

// compact writes buf, the bytes of chunk id as rec describes it, to fresh
// space and moves the chunk there, unless the chunk changed since rec.
func (s *Store) compact(ctx context.Context, id string, rec *record, buf []byte) error {
	const op = "store.compact"
	if err := s.enterChunk(ctx, op, id); err != nil {
		return err
	}
	defer s.closeMu.RUnlock()
	mu := &s.patchMu[stripeOf(id)] // Patches of the chunk wait: theirs would not commit over the move
	mu.Lock()
	defer mu.Unlock()
	cur, err := s.lookupCached(id)
	if err != nil {
		return err
	}
	if cur.gen != rec.gen || !slices.Equal(cur.exts, rec.exts) {
		return nil // patched or moved since the read
	}
	fresh, err := s.reserve(int64(len(buf))) // no sync to make room: a full disk is left alone
	if err != nil {
		return err
	}
	if err := s.writeCached(ctx, fresh, buf); err != nil {
		return err
	}
	moved := &record{length: cur.length, crc: cur.crc, created: cur.created, gen: cur.gen, exts: fresh, blocks: slices.Clone(cur.blocks)}
	if _, err := s.commitPatch(ctx, &change{kind: opPatch, id: id, rec: moved, base: cur, fresh: fresh, drop: slices.Clone(cur.exts), nosync: true, done: make(chan error, 1)}); err != nil {
		return errs.E(op, errs.KindOf(err), err)
	}
	s.compacted.Inc()
	return nil
}

// writeCached writes buf to fresh through the page cache (when the disk
// can), so that the moved chunk is read from memory next time, as it was
// before the move.
func (s *Store) writeCached(ctx context.Context, fresh []extent, buf []byte) error {
	for _, e := range fresh {
		if err := disk.WriteCached(ctx, s.d, buf[:e.n], e.off); err != nil {
			s.release(fresh)
			return errs.E("store.compact", errs.KindOf(err), err)
		}
		buf = buf[e.n:]
	}
	return nil
}
