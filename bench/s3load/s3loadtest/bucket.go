package s3loadtest

import (
	"encoding/xml"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

func (m *Server) serveBucket(w http.ResponseWriter, r *http.Request, name string, b *bucket, body []byte) {
	q := r.URL.Query()
	switch {
	case r.Method == http.MethodPut && b == nil:
		m.buckets[name] = &bucket{objs: map[string][]version{}}
	case r.Method == http.MethodPut && q.Has("versioning"):
		b.versioned = strings.Contains(string(body), "<Status>Enabled</Status>")
	case r.Method == http.MethodPut:
		s3Error(w, 409, "BucketAlreadyOwnedByYou")
	case b == nil:
		s3Error(w, 404, "NoSuchBucket")
	case r.Method == http.MethodHead:
	case r.Method == http.MethodDelete && len(b.objs) > 0:
		s3Error(w, 409, "BucketNotEmpty")
	case r.Method == http.MethodDelete:
		delete(m.buckets, name)
		w.WriteHeader(204)
	case r.Method == http.MethodGet && q.Has("versioning"):
		status := ""
		if b.versioned {
			status = "Enabled"
		}
		writeXML(w, struct {
			XMLName xml.Name `xml:"VersioningConfiguration"`
			Status  string   `xml:",omitempty"`
		}{Status: status})
	case r.Method == http.MethodGet && q.Has("versions"):
		listVersions(w, r, b)
	case r.Method == http.MethodGet && q.Get("list-type") == "2":
		listObjects(w, r, b)
	default:
		s3Error(w, 405, "MethodNotAllowed")
	}
}

func maxKeys(r *http.Request) int {
	if v, err := strconv.Atoi(r.URL.Query().Get("max-keys")); err == nil && v > 0 {
		return min(v, 1000)
	}
	return 1000
}

// listObjects answers ListObjectsV2, paging with the last key as token.
func listObjects(w http.ResponseWriter, r *http.Request, b *bucket) {
	q := r.URL.Query()
	prefix, after, limit := q.Get("prefix"), q.Get("continuation-token"), maxKeys(r)
	type content struct {
		Key  string
		Size int
	}
	res := struct {
		XMLName               xml.Name `xml:"ListBucketResult"`
		Prefix                string
		KeyCount              int
		IsTruncated           bool
		NextContinuationToken string `xml:",omitempty"`
		Contents              []content
	}{Prefix: prefix}
	for _, k := range slices.Sorted(maps.Keys(b.objs)) {
		v, ok := b.latest(k)
		if !ok || !strings.HasPrefix(k, prefix) || k <= after {
			continue
		}
		if len(res.Contents) == limit {
			res.IsTruncated, res.NextContinuationToken = true, res.Contents[limit-1].Key
			break
		}
		res.Contents = append(res.Contents, content{Key: k, Size: len(v.data)})
	}
	res.KeyCount = len(res.Contents)
	writeXML(w, res)
}

// listVersions answers ListObjectVersions; pages end on whole keys.
func listVersions(w http.ResponseWriter, r *http.Request, b *bucket) {
	q := r.URL.Query()
	prefix, after, limit := q.Get("prefix"), q.Get("key-marker"), maxKeys(r)
	type entry struct {
		Key       string
		VersionId string
		IsLatest  bool
		Size      int `xml:",omitempty"`
	}
	res := struct {
		XMLName       xml.Name `xml:"ListVersionsResult"`
		Prefix        string
		IsTruncated   bool
		NextKeyMarker string  `xml:",omitempty"`
		Versions      []entry `xml:"Version"`
		DeleteMarkers []entry `xml:"DeleteMarker"`
	}{Prefix: prefix}
	n := 0
	for _, k := range slices.Sorted(maps.Keys(b.objs)) {
		if !strings.HasPrefix(k, prefix) || k <= after {
			continue
		}
		if n >= limit {
			res.IsTruncated = true
			break
		}
		vs := b.objs[k]
		for i, v := range vs {
			e := entry{Key: k, VersionId: v.id, IsLatest: i == len(vs)-1, Size: len(v.data)}
			if v.marker {
				res.DeleteMarkers = append(res.DeleteMarkers, e)
			} else {
				res.Versions = append(res.Versions, e)
			}
			n++
		}
		res.NextKeyMarker = k
	}
	if !res.IsTruncated {
		res.NextKeyMarker = ""
	}
	writeXML(w, res)
}
