package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/wolke-cloud/wolke/chunk/disk"
	"github.com/wolke-cloud/wolke/internal/errs"
)

// Put stores data as chunk id, replacing any chunk of that id. It returns
// once the data is synced and the index committed.
func (s *Store) Put(ctx context.Context, id string, data []byte) error {
	return s.put(ctx, "store.Put", id, data, nil, 0, false)
}

// PutSummed is Put for an in-process caller that stores the same data in
// several stores and computed the CRC32C of each block once: sums holds
// them, one per disk.BlockSize of data (the last block zero-padded), and
// the store records them instead of computing them (see Range.Sums).
// Sums of the wrong count are ignored.
func (s *Store) PutSummed(ctx context.Context, id string, data []byte, sums []uint32) error {
	return s.put(ctx, "store.Put", id, data, sums, 0, false)
}

// Restore stores data as chunk id at generation gen, and only if the store
// has no chunk of that id (Exists otherwise, checked as it commits): a
// lost copy of a chunk patched in place, given back at the generation its
// other copies are at, that can never replace a copy written meanwhile.
// It returns once the data is synced and the index committed.
func (s *Store) Restore(ctx context.Context, id string, data []byte, gen uint64) error {
	return s.put(ctx, "store.Restore", id, data, nil, gen, true)
}

func (s *Store) put(ctx context.Context, op, id string, data []byte, sums []uint32, gen uint64, create bool) error {
	if err := checkID(op, id); err != nil {
		return err
	}
	if len(data) > MaxChunkSize {
		return errs.Errorf(op, errs.Invalid, "chunk of %d bytes exceeds %d", len(data), MaxChunkSize)
	}
	if err := ctx.Err(); err != nil {
		return errs.E(op, errs.Canceled, err)
	}
	if err := s.enter(op); err != nil {
		return err
	}
	defer s.closeMu.RUnlock()
	o, err := s.write(ctx, id, data, sums)
	if err != nil {
		return err
	}
	o.rec.gen, o.create = gen, create
	select {
	case s.ops <- o:
	case <-ctx.Done():
		s.release(o.rec.exts)
		return errs.E(op, errs.Canceled, ctx.Err())
	}
	select {
	case err := <-o.done:
		return err
	case <-ctx.Done():
		// The commit may still happen; the caller gave up on knowing.
		return errs.E(op, errs.Canceled, ctx.Err())
	}
}

// write reserves space for data, writes it and returns the index change
// that makes it visible.
func (s *Store) write(ctx context.Context, id string, data []byte, sums []uint32) (*change, error) {
	nblocks := blocksFor(int64(len(data)))
	exts, err := s.reserveSyncing(ctx, nblocks*disk.BlockSize)
	if err != nil {
		return nil, err
	}
	buf := data // whole aligned blocks go to the disk as they are
	if !disk.IsAligned(data) || int64(len(data)) != nblocks*disk.BlockSize {
		buf = disk.AlignedBuffer(int(nblocks * disk.BlockSize))
		copy(buf, data)
	}
	rec := &record{
		length:  int64(len(data)),
		created: time.Now().UnixNano(),
		exts:    exts,
		blocks:  make([]uint32, nblocks),
	}
	if int64(len(sums)) == nblocks {
		copy(rec.blocks, sums)
	} else {
		for i := range rec.blocks {
			rec.blocks[i] = crc32c(buf[i*disk.BlockSize : (i+1)*disk.BlockSize])
		}
	}
	if rec.length == nblocks*disk.BlockSize {
		rec.crc = s.combineBlocks(rec.blocks) // whole blocks: no second pass over the data
	} else {
		rec.crc = crc32c(data)
	}
	pos := int64(0)
	for _, e := range exts {
		if err := s.d.WriteAt(ctx, buf[pos:pos+e.n], e.off); err != nil {
			s.release(exts)
			return nil, errs.E("store.Put", errs.KindOf(err), err)
		}
		pos += e.n
	}
	return &change{kind: opPut, id: id, rec: rec, fresh: exts, done: make(chan error, 1)}, nil
}

// Get returns the whole chunk id.
func (s *Store) Get(ctx context.Context, id string) ([]byte, error) {
	b, _, _, err := s.read(ctx, "store.Get", id, 0, -1, false)
	return b, err
}

// GetFromMedia is Get reading the medium itself, not a cached copy: what a
// scrubber needs to find what has rotted on the disk. (A concurrent read
// may cache a block again before this one reads it; that block is then
// checked on the next pass.)
func (s *Store) GetFromMedia(ctx context.Context, id string) ([]byte, error) {
	s.gate.RLock()
	rec, err := s.lookupCached(id)
	if err == nil {
		for _, e := range rec.exts {
			_ = s.d.DropCache(e.off, e.n)
		}
	}
	s.gate.RUnlock()
	return s.Get(ctx, id)
}

// GetRange returns n bytes of chunk id from offset off; the range must lie
// inside the chunk.
func (s *Store) GetRange(ctx context.Context, id string, off, n int64) ([]byte, error) {
	if n < 0 {
		return nil, errs.Errorf("store.GetRange", errs.Invalid, "bad range %d+%d", off, n)
	}
	b, _, err := s.GetRangeGen(ctx, id, off, n)
	return b, err
}

// GetRangeGen is GetRange that also returns the generation of the chunk the
// bytes were read from; n < 0 reads to the end.
func (s *Store) GetRangeGen(ctx context.Context, id string, off, n int64) ([]byte, uint64, error) {
	if off < 0 {
		return nil, 0, errs.Errorf("store.GetRange", errs.Invalid, "bad range %d+%d", off, n)
	}
	b, gen, _, err := s.read(ctx, "store.GetRange", id, off, n, false)
	return b, gen, err
}

// GetRangeCRC is GetRangeGen that also returns the CRC32C of the bytes,
// combined from the checked block CRCs where the range is whole blocks
// (so it costs no second pass over the data).
func (s *Store) GetRangeCRC(ctx context.Context, id string, off, n int64) ([]byte, uint64, uint32, error) {
	if off < 0 || n < 0 {
		return nil, 0, 0, errs.Errorf("store.GetRange", errs.Invalid, "bad range %d+%d", off, n)
	}
	return s.read(ctx, "store.GetRange", id, off, n, true)
}

// read returns [off, off+n) of chunk id (n < 0: the whole chunk), its
// generation and, with wantCRC, the CRC32C of the bytes.
func (s *Store) read(ctx context.Context, op, id string, off, n int64, wantCRC bool) ([]byte, uint64, uint32, error) {
	if err := s.enterChunk(ctx, op, id); err != nil {
		return nil, 0, 0, err
	}
	defer s.closeMu.RUnlock()

	s.gate.RLock()
	rec, err := s.lookupCached(id)
	if err != nil {
		s.gate.RUnlock()
		return nil, 0, 0, err
	}
	if n < 0 {
		n = rec.length
	}
	if off > rec.length || n > rec.length-off {
		s.gate.RUnlock()
		return nil, 0, 0, errs.Errorf(op, errs.Invalid, "range %d+%d outside chunk %s of %d bytes", off, n, id, rec.length)
	}
	if n == 0 {
		s.gate.RUnlock()
		return []byte{}, rec.gen, 0, nil
	}
	first := off / disk.BlockSize
	last := (off + n - 1) / disk.BlockSize
	buf, bad, err := s.readVerified(ctx, rec, first, last-first+1)
	s.gate.RUnlock()
	if err != nil {
		return nil, 0, 0, errs.E(op, errs.KindOf(err), err)
	}
	if bad >= 0 {
		return nil, 0, 0, s.corrupt(op, id, bad)
	}
	start := off - first*disk.BlockSize
	out := buf[start : start+n]
	if wantCRC && off == 0 { // a chunk server's read (GetRangeCRC), not the scrubber's
		s.maybeCompact(id, rec, out)
	}
	var crc uint32
	if wantCRC {
		if start == 0 && n%disk.BlockSize == 0 {
			crc = s.combineBlocks(rec.blocks[first : last+1])
		} else {
			crc = crc32c(out)
		}
	}
	return out, rec.gen, crc, nil
}

// corrupt counts and logs block bad of chunk id failing its checksum on a
// read, and returns the error for it.
func (s *Store) corrupt(op, id string, bad int64) error {
	s.badSum.Inc()
	s.log.Error("chunk block checksum mismatch", "disk", s.sb.diskID, "chunk", id, "block", bad)
	return errs.E(op, errs.Corrupt, fmt.Sprintf("chunk %s block %d on disk %s failed its checksum", id, bad, s.sb.diskID))
}

// verifyPiece is how many blocks are checked at a time while the next
// piece is being read: checksumming overlaps the disk's next transfer.
const verifyPiece = 64

// readVerified reads count blocks of rec from block first and checks each
// against its CRC32C. The read runs one piece ahead of the check, so a
// large read costs the disk's time plus one piece's checksum, not both in
// full. bad is the first block that failed its checksum, or -1.
func (s *Store) readVerified(ctx context.Context, rec *record, first, count int64) (buf []byte, bad int64, err error) {
	buf = disk.AlignedBuffer(int(count * disk.BlockSize))
	if bad, err = s.readVerifiedInto(ctx, rec, buf, first, count); err != nil {
		return nil, -1, err
	}
	return buf, bad, nil
}

// readVerifiedInto is readVerified into buf, count blocks long.
//
// A chunk in compactAt disk extents or more is read in one readInto
// instead: its pieces are many and small, and one read over all of them
// can gather what lies together on the disk however far apart it lies in
// the chunk (a patch's run holds blocks from the whole chunk).
func (s *Store) readVerifiedInto(ctx context.Context, rec *record, buf []byte, first, count int64) (bad int64, err error) {
	if count <= verifyPiece || len(rec.exts) >= compactAt {
		if err := s.readInto(ctx, rec, buf, first, count); err != nil {
			return -1, err
		}
		return s.firstBad(rec, buf, first, 0, count), nil
	}
	pieces := (count + verifyPiece - 1) / verifyPiece
	ready := make(chan error, pieces)
	go func() {
		for p := int64(0); p < pieces; p++ {
			lo := p * verifyPiece
			hi := min(lo+verifyPiece, count)
			err := s.readInto(ctx, rec, buf[lo*disk.BlockSize:hi*disk.BlockSize], first+lo, hi-lo)
			ready <- err
			if err != nil {
				return
			}
		}
	}()
	bad = -1
	for p := int64(0); p < pieces; p++ {
		if err := <-ready; err != nil {
			return -1, err
		}
		lo := p * verifyPiece
		if bad < 0 {
			bad = s.firstBad(rec, buf, first, lo, min(lo+verifyPiece, count))
		}
	}
	return bad, nil
}

// firstBad checks blocks [lo, hi) of buf (block first+i at buf offset i)
// and returns the first failing block number, or -1.
func (s *Store) firstBad(rec *record, buf []byte, first, lo, hi int64) int64 {
	for i := lo; i < hi; i++ {
		if crc32c(buf[i*disk.BlockSize:(i+1)*disk.BlockSize]) != rec.blocks[first+i] {
			return first + i
		}
	}
	return -1
}

// readBlocks reads count logical blocks of rec starting at block first.
func (s *Store) readBlocks(ctx context.Context, rec *record, first, count int64) ([]byte, error) {
	buf := disk.AlignedBuffer(int(count * disk.BlockSize))
	if err := s.readInto(ctx, rec, buf, first, count); err != nil {
		return nil, err
	}
	return buf, nil
}

// Delete removes chunk id and frees its space; errs.NotFound if absent.
func (s *Store) Delete(ctx context.Context, id string) error {
	const op = "store.Delete"
	if err := s.enterChunk(ctx, op, id); err != nil {
		return err
	}
	defer s.closeMu.RUnlock()
	o := &change{kind: opDelete, id: id, done: make(chan error, 1)}
	select {
	case s.ops <- o:
	case <-ctx.Done():
		return errs.E(op, errs.Canceled, ctx.Err())
	}
	select {
	case err := <-o.done:
		return err
	case <-ctx.Done():
		return errs.E(op, errs.Canceled, ctx.Err())
	}
}

// Stat describes chunk id; errs.NotFound if absent.
func (s *Store) Stat(ctx context.Context, id string) (Info, error) {
	const op = "store.Stat"
	if err := checkID(op, id); err != nil {
		return Info{}, err
	}
	if err := s.enter(op); err != nil {
		return Info{}, err
	}
	defer s.closeMu.RUnlock()
	rec, err := s.lookup(id)
	if err != nil {
		return Info{}, err
	}
	return rec.info(id), nil
}

// List returns up to limit chunks whose ids start with prefix and sort after
// after, in id order. A limit ≤ 0 means 1000.
func (s *Store) List(ctx context.Context, prefix, after string, limit int) ([]Info, error) {
	const op = "store.List"
	if limit <= 0 {
		limit = 1000
	}
	if err := s.enter(op); err != nil {
		return nil, err
	}
	defer s.closeMu.RUnlock()
	lower := chunkKey(prefix)
	if after >= prefix {
		lower = append(chunkKey(after), 0)
	}
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: prefixEnd(chunkKey(prefix))})
	if err != nil {
		return nil, errs.E(op, errs.Internal, err)
	}
	defer it.Close()
	var out []Info
	for ok := it.First(); ok && len(out) < limit; ok = it.Next() {
		if err := ctx.Err(); err != nil {
			return nil, errs.E(op, errs.Canceled, err)
		}
		id := string(it.Key()[len(chunkPrefix):])
		rec, err := decodeRecord(it.Value())
		if err != nil {
			return nil, errs.E(op, errs.Corrupt, "index record of "+id, err)
		}
		if r, ok := s.unsyncedRecs.get(id); ok {
			rec = r
		}
		out = append(out, rec.info(id))
	}
	if err := it.Error(); err != nil {
		return nil, errs.E(op, errs.Internal, err)
	}
	return out, nil
}

// prefixEnd is the smallest key after every key with prefix p.
func prefixEnd(p []byte) []byte {
	end := append([]byte(nil), p...)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

// lookup reads the record of id: an unsynced Patch's (unsynced.go), else
// the index's.
func (s *Store) lookup(id string) (*record, error) {
	if r, ok := s.unsyncedRecs.get(id); ok {
		return r, nil
	}
	return s.lookupIndex(id)
}

// lookupIndex reads the index record of id: what a crash would leave.
func (s *Store) lookupIndex(id string) (*record, error) {
	const op = "store.lookup"
	v, closer, err := s.db.Get(chunkKey(id))
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, errs.Errorf(op, errs.NotFound, "chunk %s", id)
	}
	if err != nil {
		return nil, errs.E(op, errs.Internal, err)
	}
	defer closer.Close()
	rec, err := decodeRecord(v)
	if err != nil {
		return nil, errs.E(op, errs.Corrupt, "index record of "+id, err)
	}
	return rec, nil
}
