package chunk

import (
	"context"
	"encoding/binary"
	"net/http"
	"strconv"

	"github.com/wolke-cloud/wolke/chunk/internal/wire"
	"github.com/wolke-cloud/wolke/chunk/store"
	"github.com/wolke-cloud/wolke/internal/errs"
)

// streamPatchRanges runs an OpPatchRanges frame (see package wire):
// several ranges of one chunk, each checked against its CRC32C, patched
// by one store patch. It answers the new generation and the store epoch.
func (s *Server) streamPatchRanges(ctx context.Context, d *wire.Dec) ([]byte, error) {
	const op = "chunk.PatchRanges"
	flags, base, count := d.U8(), d.U64(), int(d.U16())
	dn, id := d.Name(), d.Name()
	if d.Err == nil && (count == 0 || count > wire.MaxPatchRanges) {
		return nil, errs.Errorf(op, errs.Invalid, "%d ranges (1 to %d)", count, wire.MaxPatchRanges)
	}
	ranges := make([]store.Range, count)
	lens := make([]uint32, count)
	crcs := make([]uint32, count)
	for i := range ranges {
		ranges[i].Off, lens[i], crcs[i] = d.I64(), d.U32(), d.U32()
	}
	data := d.Rest()
	if d.Err != nil {
		return nil, d.Err
	}
	ds := s.byID[dn]
	if ds == nil {
		return nil, errs.Errorf("chunk.disk", errs.NotFound, "no disk %s on server %s", dn, s.cfg.ID)
	}
	pos := 0
	for i := range ranges {
		n := int(lens[i])
		if n > len(data)-pos {
			return nil, errs.Errorf(op, errs.Invalid, "range %d of %d bytes runs past the frame", i, n)
		}
		ranges[i].Data = data[pos : pos+n]
		if wire.CRC32C(ranges[i].Data) != crcs[i] {
			return nil, errs.Errorf(op, errs.Invalid, "range %d CRC32C mismatch", i)
		}
		pos += n
	}
	if pos != len(data) {
		return nil, errs.Errorf(op, errs.Invalid, "%d bytes after the ranges", len(data)-pos)
	}
	gen, err := s.patchRanges(ctx, ds, id, ranges, base, flags&wire.FlagNoSync == 0)
	if err != nil {
		return nil, err
	}
	return binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(nil, gen), ds.st.Epoch()), nil
}

// handlePatchRanges is PATCH ?ranges=off:len,... (the HTTP form of
// OpPatchRanges): the body is the ranges' data one after the other,
// X-Wolke-Crc32c its CRC32C.
func (s *Server) handlePatchRanges(w http.ResponseWriter, r *http.Request, ds *diskState) {
	const op = "chunk.PatchRanges"
	base, err := strconv.ParseUint(r.Header.Get(wire.HeaderBaseGen), 10, 64)
	if err != nil {
		s.writeError(w, r, errs.Errorf(op, errs.Invalid, "bad base generation %q", r.Header.Get(wire.HeaderBaseGen)))
		return
	}
	offs, lens, err := wire.ParseRanges(r.URL.Query().Get(wire.QueryRanges))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	data, err := s.readBody(r)
	if err != nil {
		s.writeError(w, r, errs.E(op, errs.KindOf(err), err))
		return
	}
	ranges := make([]store.Range, len(offs))
	pos := int64(0)
	for i := range ranges {
		if lens[i] > int64(len(data))-pos {
			s.writeError(w, r, errs.Errorf(op, errs.Invalid, "range %d of %d bytes runs past the body", i, lens[i]))
			return
		}
		ranges[i] = store.Range{Off: offs[i], Data: data[pos : pos+lens[i]]}
		pos += lens[i]
	}
	if pos != int64(len(data)) {
		s.writeError(w, r, errs.Errorf(op, errs.Invalid, "%d bytes after the ranges", int64(len(data))-pos))
		return
	}
	gen, err := s.patchRanges(r.Context(), ds, r.PathValue("chunk"), ranges, base, r.Header.Get(wire.HeaderNoSync) != "1")
	if err != nil {
		s.writeError(w, r, errs.E(op, errs.KindOf(err), err))
		return
	}
	w.Header().Set(wire.HeaderGen, strconv.FormatUint(gen, 10))
	w.Header().Set(wire.HeaderEpoch, strconv.FormatUint(ds.st.Epoch(), 10))
	w.WriteHeader(http.StatusNoContent)
}

// patchRanges applies a multi-range patch to a disk's store and counts it.
func (s *Server) patchRanges(ctx context.Context, ds *diskState, id string, ranges []store.Range, base uint64, sync bool) (uint64, error) {
	var (
		gen uint64
		err error
	)
	if sync {
		gen, err = ds.st.PatchRanges(ctx, id, ranges, base)
	} else {
		gen, err = ds.st.PatchRangesNoSync(ctx, id, ranges, base)
	}
	s.count(ds, "patch", err)
	if err == nil {
		n := 0
		for _, r := range ranges {
			n += len(r.Data)
		}
		s.m.writtenBytes.WithLabelValues(ds.info.ID).Add(float64(n))
	}
	return gen, err
}
