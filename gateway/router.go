package gateway

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/wolke-cloud/wolke/iam/sigv4"
	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/meta/metapb"
)

// HealthPath answers 200 while Deps.Health is happy, without auth. An
// underscore can never start a bucket name.
const HealthPath = "/_wolke/health"

// request is one S3 call being served.
type request struct {
	w      http.ResponseWriter
	r      *http.Request
	q      url.Values
	auth   *sigv4.Result
	bucket string
	key    string
	// bucketRec is the bucket's record when authorize read it (auth.go).
	bucketRec *metapb.Bucket
}

type handler func(s *Server, ctx context.Context, rq *request) error

// recorder remembers what was answered, for metrics and the access log.
type recorder struct {
	http.ResponseWriter
	status  int
	written bool
	bytes   int64
	code    string
	err     error
}

func (rec *recorder) WriteHeader(status int) {
	if !rec.written {
		rec.status, rec.written = status, true
	}
	rec.ResponseWriter.WriteHeader(status)
}

func (rec *recorder) Write(b []byte) (int, error) {
	if !rec.written {
		rec.WriteHeader(http.StatusOK)
	}
	n, err := rec.ResponseWriter.Write(b)
	rec.bytes += int64(n)
	return n, err
}

func (rec *recorder) Unwrap() http.ResponseWriter { return rec.ResponseWriter }

func recordOf(w http.ResponseWriter) *recorder {
	rec, _ := w.(*recorder)
	return rec
}

// countingBody counts the bytes read from a request body.
type countingBody struct {
	io.ReadCloser
	n int64
}

func (c *countingBody) Read(p []byte) (int, error) {
	n, err := c.ReadCloser.Read(p)
	c.n += int64(n)
	return n, err
}

func newRequestID() (id, id2 string) {
	var b [24]byte
	rand.Read(b[:])
	return strings.ToUpper(hex.EncodeToString(b[:8])), base64.StdEncoding.EncodeToString(b[8:])
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	start := s.now()
	ctx := r.Context()
	if r.ContentLength == 0 && strings.EqualFold(r.Header.Get("Expect"), "100-continue") {
		// net/http sends 100 Continue only when the handler reads a body;
		// clients such as boto3 wait for it even before an empty one.
		w.WriteHeader(http.StatusContinue)
	}
	id, id2 := newRequestID()
	w.Header().Set("X-Amz-Request-Id", id)
	w.Header().Set("X-Amz-Id-2", id2)
	w.Header().Set("Server", "Wolke")
	rec := &recorder{ResponseWriter: w, status: http.StatusOK}
	var body *countingBody
	if r.Body != nil {
		body = &countingBody{ReadCloser: r.Body}
		r.Body = body
	}
	op, user := "Health", ""
	if r.URL.Path == HealthPath && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
		s.serveHealth(ctx, rec)
	} else {
		rq := &request{w: rec, r: r, q: r.URL.Query()}
		rq.bucket, rq.key = s.target(r)
		var h handler
		op, h = route(rq)
		err := s.authenticate(ctx, rq)
		if err == nil {
			err = s.authorize(ctx, rq, op)
		}
		if err == nil {
			user = rq.auth.Credential.User
			err = h(s, ctx, rq)
		}
		if err != nil {
			if !rec.written {
				s.writeError(ctx, rec, r, err)
			} else {
				// The status is out: the body is cut short, and the
				// declared length tells the client.
				rec.err = err
				level := slog.LevelWarn
				if errs.Is(err, errs.Canceled) {
					level = slog.LevelDebug // the client went away
				}
				s.log.LogAttrs(ctx, level, "response cut short",
					slog.String("request_id", id), slog.String("op", op), slog.String("err", err.Error()))
			}
		}
	}
	var in int64
	if body != nil {
		in = body.n
	}
	s.metrics.observe(op, rec.status, in, rec.bytes, s.now().Sub(start))
	if s.log.Enabled(ctx, slog.LevelDebug) {
		attrs := []slog.Attr{
			slog.String("request_id", id), slog.String("op", op), slog.String("method", r.Method),
			slog.String("path", r.URL.Path), slog.Int("status", rec.status), slog.Int64("bytes_in", in),
			slog.Int64("bytes_out", rec.bytes), slog.Duration("duration", s.now().Sub(start)),
			slog.String("user", user), slog.String("remote", r.RemoteAddr),
		}
		if rec.err != nil {
			attrs = append(attrs, slog.String("code", rec.code), slog.String("err", rec.err.Error()))
		}
		s.log.LogAttrs(ctx, slog.LevelDebug, "request", attrs...)
	}
}

func (s *Server) serveHealth(ctx context.Context, w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/plain")
	if s.health != nil {
		if err := s.health(ctx); err != nil {
			s.log.LogAttrs(ctx, slog.LevelWarn, "health check failed", slog.String("err", err.Error()))
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, "unavailable\n")
			return
		}
	}
	io.WriteString(w, "ok\n")
}

// authenticate verifies the signature (V4 or V2); anonymous requests pass
// on to authorize (auth.go), which lets bucket policies decide.
func (s *Server) authenticate(ctx context.Context, rq *request) error {
	res, err := s.verify(ctx, rq)
	if err != nil {
		return err
	}
	if res.Anonymous {
		rq.auth = res
		return nil
	}
	if res.Scope.Service != "s3" {
		return apiErr(codeNotImplemented, "service "+strconv.Quote(res.Scope.Service)+" is not served yet")
	}
	if res.Scope.Region != s.cfg.Region {
		return apiErr(sigv4.CodeAuthorizationHeaderMalformed,
			"the region "+strconv.Quote(res.Scope.Region)+" is wrong; expecting "+strconv.Quote(s.cfg.Region))
	}
	rq.auth = res
	return nil
}

// target finds the bucket and key, virtual-hosted or path style. The key
// is the decoded path, byte for byte: no cleaning of "//" or "..".
func (s *Server) target(r *http.Request) (bucket, key string) {
	path := r.URL.Path
	if s.cfg.Domain != "" {
		host := r.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		if b, ok := strings.CutSuffix(strings.ToLower(host), "."+strings.ToLower(s.cfg.Domain)); ok && b != "" {
			return b, strings.TrimPrefix(path, "/")
		}
	}
	bucket, key, _ = strings.Cut(strings.TrimPrefix(path, "/"), "/")
	return bucket, key
}

// unsupported names a subresource in q that is not served yet: a request
// naming one gets NotImplemented, never a success that did nothing.
func unsupported(q url.Values, bucketLevel bool) string {
	names := []string{"torrent", "restore", "select"}
	if bucketLevel {
		names = []string{"policyStatus",
			"website", "logging", "notification", "replication", "encryption",
			"publicAccessBlock", "analytics", "metrics",
			"inventory", "intelligent-tiering", "session"}
	}
	for _, n := range names {
		if q.Has(n) {
			return n
		}
	}
	return ""
}

func notImplemented(what string) handler {
	return func(*Server, context.Context, *request) error {
		return apiErr(codeNotImplemented, what+" is not implemented")
	}
}

func methodNotAllowed(*Server, context.Context, *request) error {
	return apiErr(codeMethodNotAllowed, "the method is not allowed against this resource")
}

// route names the operation and picks its handler.
func route(rq *request) (string, handler) {
	q, m := rq.q, rq.r.Method
	switch {
	case rq.bucket == "":
		if m == http.MethodGet {
			return "ListBuckets", (*Server).listBuckets
		}
		return "Unknown", methodNotAllowed
	case rq.key == "":
		if op, h, ok := routeBucketConfig(rq); ok {
			return op, h
		}
		if sub := unsupported(q, true); sub != "" {
			return "Bucket:" + sub, notImplemented("bucket subresource ?" + sub)
		}
		return routeBucket(rq)
	}
	if op, h, ok := routeObjectConfig(rq); ok {
		return op, h
	}
	if sub := unsupported(q, false); sub != "" {
		return "Object:" + sub, notImplemented("object subresource ?" + sub)
	}
	return routeObject(rq)
}

func routeBucket(rq *request) (string, handler) {
	q := rq.q
	if op, h, ok := routeVersioning(rq); ok {
		return op, h
	}
	switch rq.r.Method {
	case http.MethodPut:
		return "CreateBucket", (*Server).createBucket
	case http.MethodHead:
		return "HeadBucket", (*Server).headBucket
	case http.MethodDelete:
		return "DeleteBucket", (*Server).deleteBucket
	case http.MethodGet:
		switch {
		case q.Has("location"):
			return "GetBucketLocation", (*Server).getBucketLocation
		case q.Has("uploads"):
			return "ListMultipartUploads", (*Server).listUploads
		case q.Get("list-type") == "2":
			return "ListObjectsV2", (*Server).listObjectsV2
		}
		return "ListObjects", (*Server).listObjectsV1
	case http.MethodPost:
		if q.Has("delete") {
			return "DeleteObjects", (*Server).deleteObjects
		}
		return "PostBucket", notImplemented("POST on a bucket")
	}
	return "Unknown", methodNotAllowed
}

func routeObject(rq *request) (string, handler) {
	q := rq.q
	if op, h, ok := routeTagging(rq); ok {
		return op, h
	}
	copySource := rq.r.Header.Get("X-Amz-Copy-Source") != ""
	switch rq.r.Method {
	case http.MethodPut:
		switch {
		case q.Has("uploadId") && copySource:
			return "UploadPartCopy", (*Server).uploadPartCopy
		case q.Has("uploadId"):
			return "UploadPart", (*Server).uploadPart
		case copySource:
			return "CopyObject", (*Server).copyObject
		}
		return "PutObject", (*Server).putObject
	case http.MethodGet:
		switch {
		case q.Has("uploadId"):
			return "ListParts", (*Server).listParts
		}
		return "GetObject", (*Server).getObject
	case http.MethodHead:
		return "HeadObject", (*Server).headObject
	case http.MethodDelete:
		if q.Has("uploadId") {
			return "AbortMultipartUpload", (*Server).abortUpload
		}
		return "DeleteObject", (*Server).deleteObject
	case http.MethodPost:
		switch {
		case q.Has("uploads"):
			return "CreateMultipartUpload", (*Server).createUpload
		case q.Has("uploadId"):
			return "CompleteMultipartUpload", (*Server).completeUpload
		}
		return "PostObject", notImplemented("POST on an object")
	}
	return "Unknown", methodNotAllowed
}
