package chunk

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/wolke-cloud/wolke/chunk/internal/wire"
	"github.com/wolke-cloud/wolke/chunk/store"
	"github.com/wolke-cloud/wolke/internal/errs"
)

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("PUT /v1/disks/{disk}/chunks/{chunk}", s.handlePut)
	mux.HandleFunc("GET /v1/disks/{disk}/chunks/{chunk}", s.handleGet) // and HEAD
	mux.HandleFunc("PATCH /v1/disks/{disk}/chunks/{chunk}", s.handlePatch)
	mux.HandleFunc("DELETE /v1/disks/{disk}/chunks/{chunk}", s.handleDelete)
	mux.HandleFunc("POST /v1/disks/{disk}/sync", s.handleSync)
	mux.HandleFunc("GET "+wire.StreamPath, s.handleStream)
	mux.HandleFunc("GET /v1/disks/{disk}/chunks", s.handleList)
	mux.HandleFunc("GET /v1/disks", s.handleDisks)
	mux.HandleFunc("GET /v1/health", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, "ok\n")
	})
	return mux
}

// writeError answers with the status of err's kind and the kind itself.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	kind := errs.KindOf(err)
	status := wire.Status(kind)
	if status >= 500 {
		s.log.Warn("chunk request failed", "method", r.Method, "path", r.URL.Path, "kind", kind.String(), "err", err)
	}
	h := w.Header()
	h.Set(wire.HeaderKind, strconv.Itoa(int(kind)))
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Del(wire.HeaderCRC)
	w.WriteHeader(status)
	_, _ = io.WriteString(w, err.Error()+"\n")
}

// diskFor finds the disk a request names.
func (s *Server) diskFor(r *http.Request) (*diskState, error) {
	id := r.PathValue("disk")
	ds := s.byID[id]
	if ds == nil {
		return nil, errs.Errorf("chunk.disk", errs.NotFound, "no disk %s on server %s", id, s.cfg.ID)
	}
	return ds, nil
}

func (s *Server) count(ds *diskState, op string, err error) {
	s.m.ops.WithLabelValues(ds.info.ID, op, result(err)).Inc()
}

func (s *Server) handlePut(w http.ResponseWriter, r *http.Request) {
	const op = "chunk.Put"
	ds, err := s.diskFor(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	data, err := s.readBody(r)
	if err == nil {
		err = s.store(r, ds, data)
	}
	s.count(ds, "put", err)
	if err != nil {
		s.writeError(w, r, errs.E(op, errs.KindOf(err), err))
		return
	}
	s.m.writtenBytes.WithLabelValues(ds.info.ID).Add(float64(len(data)))
	s.updateUsage(ds)
	w.WriteHeader(http.StatusNoContent)
}

// store keeps a PUT body: a Put, or with X-Wolke-Gen a Restore of a
// lost copy at that generation, refused (409) if the chunk exists.
func (s *Server) store(r *http.Request, ds *diskState, data []byte) error {
	g := r.Header.Get(wire.HeaderGen)
	if g == "" {
		return ds.st.Put(r.Context(), r.PathValue("chunk"), data)
	}
	gen, err := strconv.ParseUint(g, 10, 64)
	if err != nil {
		return errs.Errorf("chunk.Put", errs.Invalid, "bad %s %q", wire.HeaderGen, g)
	}
	return ds.st.Restore(r.Context(), r.PathValue("chunk"), data, gen)
}

// readBody reads a PUT body whole and checks it against its CRC32C header.
func (s *Server) readBody(r *http.Request) ([]byte, error) {
	const op = "chunk.Put"
	want, err := wire.ParseCRC(r.Header.Get(wire.HeaderCRC))
	if err != nil {
		return nil, err
	}
	limit := s.cfg.MaxChunkSize
	if r.ContentLength > limit {
		return nil, errs.Errorf(op, errs.Invalid, "chunk of %d bytes exceeds %d", r.ContentLength, limit)
	}
	var data []byte
	if r.ContentLength >= 0 {
		data = make([]byte, r.ContentLength)
		_, err = io.ReadFull(r.Body, data)
	} else {
		data, err = io.ReadAll(io.LimitReader(r.Body, limit+1))
		if err == nil && int64(len(data)) > limit {
			return nil, errs.Errorf(op, errs.Invalid, "chunk exceeds %d bytes", limit)
		}
	}
	if err != nil {
		return nil, errs.E(op, errs.Invalid, "reading the body", err)
	}
	if got := wire.CRC32C(data); got != want {
		return nil, errs.Errorf(op, errs.Invalid, "body CRC32C %s, header says %s", wire.FormatCRC(got), wire.FormatCRC(want))
	}
	return data, nil
}

func (s *Server) handleGet(w http.ResponseWriter, r *http.Request) {
	ds, err := s.diskFor(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	id := r.PathValue("chunk")
	if r.Method == http.MethodHead {
		info, err := ds.st.Stat(r.Context(), id)
		s.count(ds, "stat", err)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		w.Header().Set(wire.HeaderLength, strconv.FormatInt(info.Length, 10))
		w.Header().Set(wire.HeaderCRC, wire.FormatCRC(info.CRC32C))
		w.Header().Set(wire.HeaderGen, strconv.FormatUint(info.Gen, 10))
		w.WriteHeader(http.StatusOK)
		return
	}
	var (
		data []byte
		gen  uint64
	)
	q := r.URL.Query()
	if q.Has(wire.QueryOffset) || q.Has(wire.QueryLength) {
		off, err1 := strconv.ParseInt(q.Get(wire.QueryOffset), 10, 64)
		n, err2 := strconv.ParseInt(q.Get(wire.QueryLength), 10, 64)
		if err1 != nil || err2 != nil {
			err = errs.Errorf("chunk.Get", errs.Invalid, "bad range %q+%q", q.Get(wire.QueryOffset), q.Get(wire.QueryLength))
		} else {
			if n < 0 {
				err = errs.Errorf("chunk.Get", errs.Invalid, "bad range %d+%d", off, n)
			} else {
				data, gen, err = ds.st.GetRangeGen(r.Context(), id, off, n)
			}
		}
	} else {
		data, gen, err = ds.st.GetRangeGen(r.Context(), id, 0, -1)
	}
	s.count(ds, "get", err)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	h := w.Header()
	h.Set(wire.HeaderCRC, wire.FormatCRC(wire.CRC32C(data)))
	h.Set(wire.HeaderGen, strconv.FormatUint(gen, 10))
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Length", strconv.Itoa(len(data)))
	w.WriteHeader(http.StatusOK)
	if _, err := w.Write(data); err == nil {
		s.m.readBytes.WithLabelValues(ds.info.ID).Add(float64(len(data)))
	}
}

// handlePatch overwrites a block-aligned range of a chunk in place
// (store.Patch): ?offset=, X-Wolke-Base-Gen, X-Wolke-Crc32c of the body.
func (s *Server) handlePatch(w http.ResponseWriter, r *http.Request) {
	const op = "chunk.Patch"
	ds, err := s.diskFor(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if r.URL.Query().Has(wire.QueryRanges) {
		s.handlePatchRanges(w, r, ds)
		return
	}
	off, err1 := strconv.ParseInt(r.URL.Query().Get(wire.QueryOffset), 10, 64)
	base, err2 := strconv.ParseUint(r.Header.Get(wire.HeaderBaseGen), 10, 64)
	var (
		data []byte
		gen  uint64
	)
	if err1 != nil || err2 != nil {
		err = errs.Errorf(op, errs.Invalid, "bad offset %q or base generation %q", r.URL.Query().Get(wire.QueryOffset), r.Header.Get(wire.HeaderBaseGen))
	} else if data, err = s.readBody(r); err == nil {
		if r.Header.Get(wire.HeaderNoSync) == "1" {
			gen, err = ds.st.PatchNoSync(r.Context(), r.PathValue("chunk"), off, data, base)
		} else {
			gen, err = ds.st.Patch(r.Context(), r.PathValue("chunk"), off, data, base)
		}
	}
	s.count(ds, "patch", err)
	if err != nil {
		s.writeError(w, r, errs.E(op, errs.KindOf(err), err))
		return
	}
	s.m.writtenBytes.WithLabelValues(ds.info.ID).Add(float64(len(data)))
	w.Header().Set(wire.HeaderGen, strconv.FormatUint(gen, 10))
	w.Header().Set(wire.HeaderEpoch, strconv.FormatUint(ds.st.Epoch(), 10))
	w.WriteHeader(http.StatusNoContent)
}

// handleSync makes the disk's unsynced patches stable (store.Sync) and
// answers with the store's epoch.
func (s *Server) handleSync(w http.ResponseWriter, r *http.Request) {
	ds, err := s.diskFor(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	err = ds.st.Sync(r.Context())
	s.count(ds, "sync", err)
	if err != nil {
		s.writeError(w, r, errs.E("chunk.Sync", errs.KindOf(err), err))
		return
	}
	w.Header().Set(wire.HeaderEpoch, strconv.FormatUint(ds.st.Epoch(), 10))
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handleDelete(w http.ResponseWriter, r *http.Request) {
	ds, err := s.diskFor(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	err = ds.st.Delete(r.Context(), r.PathValue("chunk"))
	s.count(ds, "delete", err)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.updateUsage(ds)
	w.WriteHeader(http.StatusNoContent)
}

// ChunkInfo is one entry of a chunk listing.
type ChunkInfo struct {
	ID      string    `json:"id"`
	Length  int64     `json:"length"`
	CRC32C  uint32    `json:"crc32c"`
	Created time.Time `json:"created"`
}

func (s *Server) handleList(w http.ResponseWriter, r *http.Request) {
	ds, err := s.diskFor(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	q := r.URL.Query()
	limit := 0
	if v := q.Get(wire.QueryLimit); v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit < 0 {
			s.writeError(w, r, errs.Errorf("chunk.List", errs.Invalid, "bad limit %q", v))
			return
		}
	}
	var infos []store.Info
	infos, err = ds.st.List(r.Context(), q.Get(wire.QueryPrefix), q.Get(wire.QueryAfter), limit)
	s.count(ds, "list", err)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := make([]ChunkInfo, 0, len(infos))
	for _, i := range infos {
		out = append(out, ChunkInfo{ID: i.ID, Length: i.Length, CRC32C: i.CRC32C, Created: i.Created})
	}
	writeJSON(w, out)
}

func (s *Server) handleDisks(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, s.Disks())
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}
