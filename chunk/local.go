package chunk

import (
	"context"

	"github.com/wolke-cloud/wolke/chunk/internal/wire"
	"github.com/wolke-cloud/wolke/chunk/store"
	"github.com/wolke-cloud/wolke/internal/errs"
)

// ServeLocal runs one stream request handed over by a client in the same
// process (chunkclient.Options.Local) instead of read from a socket: the
// same request (op, id, body with the payload at its end), the same checks
// (frame size, disk state, CRC32Cs, metrics) and the same answer frame, in
// pieces (a read's data is the store's buffer, not copied). f.Body stays
// the caller's: nothing refers to it once ServeLocal returns. A server that
// stopped serving (Serve returned, or Close) answers errs.Unavailable, as a
// refused connection would be reported.
func (s *Server) ServeLocal(ctx context.Context, f wire.Frame) [][]byte {
	if len(f.Body) > wire.MaxFrame-9 {
		err := errs.Errorf("chunk.Stream", errs.Invalid, "bad frame length %d", len(f.Body)+9)
		return [][]byte{wire.AppendFrame(nil, wire.StatusOf(err), f.ID, []byte(err.Error()))}
	}
	t := &s.streams
	t.local.RLock()
	defer t.local.RUnlock()
	if t.localClosed {
		err := errs.Errorf("chunk.Stream", errs.Unavailable, "chunk server %s stopped", s.cfg.ID)
		return [][]byte{wire.AppendFrame(nil, wire.StatusOf(err), f.ID, []byte(err.Error()))}
	}
	return s.streamRequest(ctx, f)
}

// ReadLocalInto is a read (OpRead) for a client in the same process that
// reads whole blocks: [off, off+len(p)) of chunk on disk goes straight
// from the store into p, checked block by block, with neither an answer
// frame nor the store's own buffer and its copy. It returns the chunk's
// generation; errors are those the stream would answer.
func (s *Server) ReadLocalInto(ctx context.Context, diskID, chunk string, off int64, p []byte) (uint64, error) {
	t := &s.streams
	t.local.RLock()
	defer t.local.RUnlock()
	if t.localClosed {
		return 0, errs.Errorf("chunk.Stream", errs.Unavailable, "chunk server %s stopped", s.cfg.ID)
	}
	ds := s.byID[diskID]
	if ds == nil {
		return 0, errs.Errorf("chunk.disk", errs.NotFound, "no disk %s on server %s", diskID, s.cfg.ID)
	}
	gen, err := ds.st.ReadInto(ctx, chunk, off, p)
	s.count(ds, "get", err)
	if err == nil {
		s.m.readBytes.WithLabelValues(ds.info.ID).Add(float64(len(p)))
	}
	return gen, err
}

// PutLocal is a put (OpPut) for a client in the same process: data
// becomes chunk on disk, durable on return, with neither a request frame
// (a copy of the data) nor the CRC32C that guards it on a wire. The data
// must not change during the call; the store keeps no reference to it
// once PutLocal returns. sums, if not nil, holds the CRC32C of each 4 KiB
// block of data (store.PutSummed), from a caller that computed them once
// for every replica. Errors are those the stream would answer.
func (s *Server) PutLocal(ctx context.Context, diskID, chunk string, data []byte, sums []uint32) error {
	t := &s.streams
	t.local.RLock()
	defer t.local.RUnlock()
	if t.localClosed {
		return errs.Errorf("chunk.Stream", errs.Unavailable, "chunk server %s stopped", s.cfg.ID)
	}
	ds := s.byID[diskID]
	if ds == nil {
		return errs.Errorf("chunk.disk", errs.NotFound, "no disk %s on server %s", diskID, s.cfg.ID)
	}
	if int64(len(data)) > s.cfg.MaxChunkSize {
		return errs.Errorf("chunk.Put", errs.Invalid, "chunk of %d bytes exceeds %d", len(data), s.cfg.MaxChunkSize)
	}
	err := ds.st.PutSummed(ctx, chunk, data, sums)
	s.count(ds, "put", err)
	if err == nil {
		s.m.writtenBytes.WithLabelValues(ds.info.ID).Add(float64(len(data)))
		s.updateUsage(ds)
	}
	return err
}

// PatchLocal is a patch (OpPatch, OpPatchRanges) for a client in the same
// process: data[i] replaces [offs[i], offs[i]+len(data[i])) of chunk on
// disk if the chunk is at generation base, with neither a request frame
// (a copy of the data) nor the CRC32Cs that guard it on a wire. The data
// must not change during the call; the store keeps no reference to it
// once PatchLocal returns. sums, if not nil, holds the CRC32C of each
// 4 KiB block of each range (store.Range.Sums), from a caller that
// computed them once for every replica. It returns the chunk's new
// generation and the store's epoch; errors are those the stream would
// answer.
func (s *Server) PatchLocal(ctx context.Context, diskID, chunk string, offs []int64, data [][]byte, sums [][]uint32, base uint64, sync bool) (gen, epoch uint64, err error) {
	const op = "chunk.PatchRanges"
	if len(offs) != len(data) || len(offs) == 0 || len(offs) > wire.MaxPatchRanges {
		return 0, 0, errs.Errorf(op, errs.Invalid, "%d offsets for %d ranges (1 to %d)", len(offs), len(data), wire.MaxPatchRanges)
	}
	t := &s.streams
	t.local.RLock()
	defer t.local.RUnlock()
	if t.localClosed {
		return 0, 0, errs.Errorf("chunk.Stream", errs.Unavailable, "chunk server %s stopped", s.cfg.ID)
	}
	ds := s.byID[diskID]
	if ds == nil {
		return 0, 0, errs.Errorf("chunk.disk", errs.NotFound, "no disk %s on server %s", diskID, s.cfg.ID)
	}
	ranges := make([]store.Range, len(offs))
	for i, off := range offs {
		ranges[i] = store.Range{Off: off, Data: data[i]}
		if len(sums) == len(offs) {
			ranges[i].Sums = sums[i]
		}
	}
	if gen, err = s.patchRanges(ctx, ds, chunk, ranges, base, sync); err != nil {
		return 0, 0, err
	}
	return gen, ds.st.Epoch(), nil
}
