package gateway

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/wolke-cloud/wolke/core"
	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/meta/metapb"
)

func (s *Server) getObject(ctx context.Context, rq *request) error {
	return s.readObject(ctx, rq, true)
}
func (s *Server) headObject(ctx context.Context, rq *request) error {
	return s.readObject(ctx, rq, false)
}

// byteRange is the part of an object a read serves.
type byteRange struct {
	off, length int64
	partial     bool
}

// parseRange reads a single "bytes=" range against size. A header that is
// absent, malformed or multi-range selects the whole object, as S3 does;
// ok is false when the range cannot be satisfied.
func parseRange(spec string, size int64) (br byteRange, ok bool) {
	whole := byteRange{0, size, false}
	rest, found := strings.CutPrefix(strings.TrimSpace(spec), "bytes=")
	if !found || strings.Contains(rest, ",") {
		return whole, true
	}
	first, last, found := strings.Cut(strings.TrimSpace(rest), "-")
	if !found {
		return whole, true
	}
	if first == "" { // suffix: the last n bytes
		n, err := strconv.ParseInt(last, 10, 64)
		if err != nil || n < 0 {
			return whole, true
		}
		if n == 0 || size == 0 {
			return byteRange{}, false
		}
		n = min(n, size)
		return byteRange{size - n, n, true}, true
	}
	a, err := strconv.ParseInt(first, 10, 64)
	if err != nil || a < 0 {
		return whole, true
	}
	b := size - 1
	if last != "" {
		if b, err = strconv.ParseInt(last, 10, 64); err != nil || b < a {
			return whole, true
		}
	}
	if a >= size {
		return byteRange{}, false
	}
	b = min(b, size-1)
	return byteRange{a, b - a + 1, true}, true
}

// etagMatches reports whether an If-Match / If-None-Match list names etag.
func etagMatches(list, etag string) bool {
	etag = strings.Trim(etag, `"`)
	for _, t := range strings.Split(list, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == "*" || strings.Trim(t, `"`) == etag {
			return true
		}
	}
	return false
}

// preconditions evaluates the conditional headers of a read: 0 to go on,
// or 304 or 412.
func preconditions(h http.Header, etag string, mtime time.Time) int {
	mtime = mtime.Truncate(time.Second)
	if im := h.Get("If-Match"); im != "" {
		if !etagMatches(im, etag) {
			return http.StatusPreconditionFailed
		}
	} else if t, err := http.ParseTime(h.Get("If-Unmodified-Since")); err == nil && mtime.After(t) {
		return http.StatusPreconditionFailed
	}
	if inm := h.Get("If-None-Match"); inm != "" {
		if etagMatches(inm, etag) {
			return http.StatusNotModified
		}
	} else if t, err := http.ParseTime(h.Get("If-Modified-Since")); err == nil && !mtime.After(t) {
		return http.StatusNotModified
	}
	return 0
}

// setObjectHeaders describes obj in the response headers.
func setObjectHeaders(w http.ResponseWriter, obj *metapb.Object, b *metapb.Bucket) {
	h := w.Header()
	h.Set("Last-Modified", time.Unix(0, obj.GetMtimeUnixNano()).UTC().Format(http.TimeFormat))
	h.Set("ETag", obj.GetEtag())
	h.Set("Accept-Ranges", "bytes")
	if ct := obj.GetContentType(); ct != "" {
		h.Set("Content-Type", ct)
	}
	for k, v := range obj.GetUserMeta() {
		h["X-Amz-Meta-"+k] = []string{v}
	}
	for k, v := range obj.GetHeaders() {
		h.Set(k, v)
	}
	if sc := obj.GetStorageClass(); sc != "" && sc != "STANDARD" {
		h.Set("X-Amz-Storage-Class", sc)
	}
	setVersion(w, obj, b)
	setTaggingCount(w, obj)
	setLockHeaders(w, obj) // objectlock.go
}

// overrides applies the response-* query parameters of a GET.
func overrides(w http.ResponseWriter, q map[string][]string) {
	for param, header := range map[string]string{
		"response-content-type":        "Content-Type",
		"response-content-language":    "Content-Language",
		"response-expires":             "Expires",
		"response-cache-control":       "Cache-Control",
		"response-content-disposition": "Content-Disposition",
		"response-content-encoding":    "Content-Encoding",
	} {
		if vs := q[param]; len(vs) > 0 && vs[0] != "" {
			w.Header().Set(header, vs[0])
		}
	}
}

func (s *Server) readObject(ctx context.Context, rq *request, withBody bool) error {
	vid := rq.q.Get("versionId")
	obj, err := s.objects.HeadObject(ctx, rq.bucket, rq.key, vid)
	if err != nil {
		if vid == "" && errs.Is(err, errs.NotFound) {
			s.markDeleted(ctx, rq)
		}
		return s.versionMissing(ctx, rq.bucket, err)
	}
	if obj.GetDeleteMarker() {
		// Only a version id reaches a delete marker: S3 answers 405.
		rq.w.Header().Set("X-Amz-Delete-Marker", "true")
		rq.w.Header().Set("X-Amz-Version-Id", obj.GetVersionId())
		rq.w.Header().Set("Last-Modified", time.Unix(0, obj.GetMtimeUnixNano()).UTC().Format(http.TimeFormat))
		return apiErr(codeMethodNotAllowed, "the specified method is not allowed against this resource")
	}
	key, err := readKey(rq.r.Header, ssecPrefix, obj)
	if err != nil {
		return err
	}
	w := rq.w
	switch preconditions(rq.r.Header, obj.GetEtag(), time.Unix(0, obj.GetMtimeUnixNano())) {
	case http.StatusNotModified:
		w.Header().Set("ETag", obj.GetEtag())
		w.Header().Set("Last-Modified", time.Unix(0, obj.GetMtimeUnixNano()).UTC().Format(http.TimeFormat))
		w.WriteHeader(http.StatusNotModified)
		return nil
	case http.StatusPreconditionFailed:
		return apiErr(codePreconditionFailed, "at least one of the preconditions you specified did not hold")
	}
	size := obj.GetSize()
	br, ok := parseRange(rq.r.Header.Get("Range"), size)
	if rq.q.Has("partNumber") {
		if br, err = partRange(w, rq.r.Header, rq.q, obj); err != nil {
			return err
		}
	}
	if !ok {
		w.Header().Set("Content-Range", "bytes */"+strconv.FormatInt(size, 10))
		return apiErr(codeInvalidRange, "the requested range is not satisfiable")
	}
	var body io.ReadCloser
	if withBody && br.length > 0 {
		if body, err = s.objects.OpenObjectWith(ctx, obj, br.off, br.length, core.ReadOptions{CustomerKey: key}); err != nil {
			return s.missing(ctx, rq.bucket, err, codeNoSuchKey)
		}
		defer body.Close()
	}
	setObjectHeaders(w, obj, rq.bucketRec)
	overrides(w, rq.q)
	switch {
	case !checksumMode(rq.r.Header):
	case rq.q.Has("partNumber"):
		s.partChecksums(ctx, w, rq.q, obj)
	case !br.partial:
		setChecksums(w, obj.GetChecksums())
	}
	setSSEHeaders(w, obj)
	w.Header().Set("Content-Length", strconv.FormatInt(br.length, 10))
	status := http.StatusOK
	if br.partial {
		status = http.StatusPartialContent
		w.Header().Set("Content-Range", "bytes "+strconv.FormatInt(br.off, 10)+"-"+
			strconv.FormatInt(br.off+br.length-1, 10)+"/"+strconv.FormatInt(size, 10))
	}
	w.WriteHeader(status)
	if body == nil {
		return nil
	}
	// A failure now can only cut the body short; the declared length makes
	// the client notice, and the error goes to the access log.
	_, err = io.Copy(w, body)
	return err
}
