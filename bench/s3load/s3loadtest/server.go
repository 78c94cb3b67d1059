// Package s3loadtest is a tiny in-memory, path-style S3 server for tests of
// the load generator and its command: buckets (with versioning), objects,
// ListObjectsV2, ListObjectVersions and multipart uploads; it checks no
// signatures. It is test-only code, like net/http/httptest.
package s3loadtest

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// Server is an in-memory S3. Its handler serves on URL until the test ends.
type Server struct {
	URL string

	mu      sync.Mutex
	buckets map[string]*bucket
	uploads map[string]map[int][]byte
	nextID  int
	calls   map[string]int // "METHOD kind" -> count
	corrupt func(key string, body []byte) []byte
	latest  bool // GET and HEAD ignore versionId
}

type bucket struct {
	versioned bool
	objs      map[string][]version // oldest first
}

type version struct {
	id     string // "null" when written unversioned
	data   []byte
	marker bool // a delete marker
}

// latest is the current version of key, if it exists and is not deleted.
func (b *bucket) latest(key string) (version, bool) {
	vs := b.objs[key]
	if len(vs) == 0 || vs[len(vs)-1].marker {
		return version{}, false
	}
	return vs[len(vs)-1], true
}

// NewServer starts a server on 127.0.0.1 that stops when the test ends.
func NewServer(t testing.TB) *Server {
	t.Helper()
	m := &Server{buckets: map[string]*bucket{}, uploads: map[string]map[int][]byte{}, calls: map[string]int{}}
	srv := httptest.NewServer(m)
	t.Cleanup(srv.Close)
	m.URL = srv.URL
	return m
}

// SetCorrupt installs f to rewrite the body (a copy) of every GET and HEAD;
// nil restores honest answers.
func (m *Server) SetCorrupt(f func(key string, body []byte) []byte) {
	m.mu.Lock()
	m.corrupt = f
	m.mu.Unlock()
}

// SetIgnoreVersionID makes GET and HEAD answer with the current version
// whatever versionId asks for, as a broken server might.
func (m *Server) SetIgnoreVersionID(ignore bool) {
	m.mu.Lock()
	m.latest = ignore
	m.mu.Unlock()
}

// Put stores an object, creating its (unversioned) bucket if needed.
func (m *Server) Put(bucketName, key string, body []byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b := m.buckets[bucketName]
	if b == nil {
		b = &bucket{objs: map[string][]version{}}
		m.buckets[bucketName] = b
	}
	b.put(key, body, &m.nextID)
}

// Count is how many requests of a kind it served: "PUT object",
// "GET bucket", "DELETE object" and so on.
func (m *Server) Count(k string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.calls[k]
}

// Objects returns a copy of the current objects of a bucket, nil if there
// is no bucket.
func (m *Server) Objects(bucketName string) map[string][]byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.buckets[bucketName]
	if !ok {
		return nil
	}
	out := map[string][]byte{}
	for k := range b.objs {
		if v, ok := b.latest(k); ok {
			out[k] = v.data
		}
	}
	return out
}

// Versions counts the versions and delete markers in a bucket.
func (m *Server) Versions(bucketName string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	if b, ok := m.buckets[bucketName]; ok {
		for _, vs := range b.objs {
			n += len(vs)
		}
	}
	return n
}

func s3Error(w http.ResponseWriter, status int, code string) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	fmt.Fprintf(w, "<Error><Code>%s</Code><Message>%s</Message></Error>", code, code)
}

func writeXML(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/xml")
	b, _ := xml.Marshal(v)
	w.Write(b)
}

// put stores a new version (versioned) or replaces the object; it returns
// the version id.
func (b *bucket) put(key string, data []byte, next *int) string {
	if !b.versioned {
		b.objs[key] = []version{{id: "null", data: data}}
		return "null"
	}
	*next++
	id := "v" + strconv.Itoa(*next)
	b.objs[key] = append(b.objs[key], version{id: id, data: data})
	return id
}

// ServeHTTP answers one S3 request.
func (m *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name, key, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	body, err := io.ReadAll(r.Body)
	if err != nil {
		s3Error(w, 400, "IncompleteBody")
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	kind := "object"
	if key == "" {
		kind = "bucket"
	}
	m.calls[r.Method+" "+kind]++
	b, ok := m.buckets[name]
	if key == "" {
		m.serveBucket(w, r, name, b, body)
		return
	}
	if !ok {
		s3Error(w, 404, "NoSuchBucket")
		return
	}
	if q := r.URL.Query(); q.Has("uploads") || q.Has("uploadId") {
		m.serveMultipart(w, r, b, key, body)
		return
	}
	m.serveObject(w, r, b, key, body)
}

func (m *Server) serveObject(w http.ResponseWriter, r *http.Request, b *bucket, key string, body []byte) {
	vid := r.URL.Query().Get("versionId")
	switch r.Method {
	case http.MethodPut:
		w.Header().Set("x-amz-version-id", b.put(key, body, &m.nextID))
		w.Header().Set("ETag", `"e"`)
	case http.MethodGet, http.MethodHead:
		v, ok := b.latest(key)
		if vid != "" && !m.latest {
			i := slices.IndexFunc(b.objs[key], func(v version) bool { return v.id == vid })
			if ok = i >= 0 && !b.objs[key][i].marker; ok {
				v = b.objs[key][i]
			}
		}
		if !ok {
			s3Error(w, 404, "NoSuchKey")
			return
		}
		data := v.data
		if m.corrupt != nil {
			data = m.corrupt(key, bytes.Clone(data))
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(data)))
		w.Header().Set("x-amz-version-id", v.id)
		if r.Method == http.MethodGet {
			w.Write(data)
		}
	case http.MethodDelete:
		switch {
		case vid != "":
			b.objs[key] = slices.DeleteFunc(b.objs[key], func(v version) bool { return v.id == vid })
			if len(b.objs[key]) == 0 {
				delete(b.objs, key)
			}
		case b.versioned:
			m.nextID++
			b.objs[key] = append(b.objs[key], version{id: "v" + strconv.Itoa(m.nextID), marker: true})
		default:
			delete(b.objs, key)
		}
		w.WriteHeader(204)
	default:
		s3Error(w, 405, "MethodNotAllowed")
	}
}

func (m *Server) serveMultipart(w http.ResponseWriter, r *http.Request, b *bucket, key string, body []byte) {
	q := r.URL.Query()
	id := q.Get("uploadId")
	parts, ok := m.uploads[id]
	switch {
	case r.Method == http.MethodPost && q.Has("uploads"):
		m.nextID++
		id = strconv.Itoa(m.nextID)
		m.uploads[id] = map[int][]byte{}
		writeXML(w, struct {
			XMLName  xml.Name `xml:"InitiateMultipartUploadResult"`
			Key      string
			UploadId string
		}{Key: key, UploadId: id})
	case !ok:
		s3Error(w, 404, "NoSuchUpload")
	case r.Method == http.MethodPut:
		n, _ := strconv.Atoi(q.Get("partNumber"))
		parts[n] = body
		w.Header().Set("ETag", fmt.Sprintf(`"%d"`, n))
	case r.Method == http.MethodPost:
		var obj []byte
		for _, n := range slices.Sorted(maps.Keys(parts)) {
			obj = append(obj, parts[n]...)
		}
		delete(m.uploads, id)
		w.Header().Set("x-amz-version-id", b.put(key, obj, &m.nextID))
		writeXML(w, struct {
			XMLName xml.Name `xml:"CompleteMultipartUploadResult"`
			Key     string
			ETag    string
		}{Key: key, ETag: `"x-1"`})
	case r.Method == http.MethodDelete:
		delete(m.uploads, id)
		w.WriteHeader(204)
	default:
		s3Error(w, 405, "MethodNotAllowed")
	}
}
