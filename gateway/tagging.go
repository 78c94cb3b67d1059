package gateway

import (
	"context"
	"encoding/xml"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/meta/metapb"
)

// Limits of object tags.
const (
	maxObjectTags  = 10
	maxTagKeyLen   = 128
	maxTagValueLen = 256
)

type tagXML struct {
	Key   string `xml:"Key"`
	Value string `xml:"Value"`
}

type tagging struct {
	XMLName xml.Name `xml:"Tagging"`
	NS      string   `xml:"xmlns,attr,omitempty"`
	TagSet  []tagXML `xml:"TagSet>Tag"`
}

// validTagText reports whether s holds only what S3 allows in tags:
// letters, digits, spaces and + - = . _ : / @.
func validTagText(s string) bool {
	for _, r := range s {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) && !unicode.IsSpace(r) && !strings.ContainsRune("+-=._:/@", r) {
			return false
		}
	}
	return true
}

// checkTags builds a tag set, applying S3's limits.
func checkTags(pairs []tagXML) (map[string]string, error) {
	if len(pairs) > maxObjectTags {
		return nil, apiErr(codeInvalidTag, "object tags cannot be greater than 10")
	}
	tags := make(map[string]string, len(pairs))
	for _, p := range pairs {
		if n := utf8.RuneCountInString(p.Key); n == 0 || n > maxTagKeyLen {
			return nil, apiErr(codeInvalidTag, "the TagKey you have provided is invalid")
		}
		if utf8.RuneCountInString(p.Value) > maxTagValueLen {
			return nil, apiErr(codeInvalidTag, "the TagValue you have provided is invalid")
		}
		if !validTagText(p.Key) || !validTagText(p.Value) {
			return nil, apiErr(codeInvalidTag, "the tag you have provided has invalid characters")
		}
		if _, dup := tags[p.Key]; dup {
			return nil, apiErr(codeInvalidTag, "cannot provide multiple tags with the same key")
		}
		tags[p.Key] = p.Value
	}
	return tags, nil
}

// headerTags parses the x-amz-tagging header ("k1=v1&k2=v2"); nil when
// it is absent.
func headerTags(h http.Header) (map[string]string, error) {
	v := h.Get("X-Amz-Tagging")
	if v == "" {
		return nil, nil
	}
	q, err := url.ParseQuery(v)
	if err != nil {
		return nil, apiErr(codeInvalidTag, "the x-amz-tagging header is not a valid query string")
	}
	var pairs []tagXML
	for k, vs := range q {
		for _, val := range vs {
			pairs = append(pairs, tagXML{Key: k, Value: val})
		}
	}
	return checkTags(pairs)
}

// routeTagging picks the handlers of an object's ?tagging.
func routeTagging(rq *request) (string, handler, bool) {
	if rq.q.Has("attributes") && rq.r.Method == http.MethodGet {
		return "GetObjectAttributes", (*Server).getObjectAttributes, true
	}
	if !rq.q.Has("tagging") {
		return "", nil, false
	}
	switch rq.r.Method {
	case http.MethodGet:
		return "GetObjectTagging", (*Server).getObjectTagging, true
	case http.MethodPut:
		return "PutObjectTagging", (*Server).putObjectTagging, true
	case http.MethodDelete:
		return "DeleteObjectTagging", (*Server).deleteObjectTagging, true
	}
	return "Object:tagging", methodNotAllowed, true
}

// taggable returns the version whose tags are read or written; a delete
// marker is not, as S3 says with 405.
func (s *Server) taggable(ctx context.Context, rq *request) (*metapb.Object, error) {
	vid := rq.q.Get("versionId")
	obj, err := s.objects.HeadObject(ctx, rq.bucket, rq.key, vid)
	if err != nil {
		return nil, s.versionMissing(ctx, rq.bucket, err)
	}
	if obj.GetDeleteMarker() {
		rq.w.Header().Set("X-Amz-Delete-Marker", "true")
		rq.w.Header().Set("X-Amz-Version-Id", obj.GetVersionId())
		return nil, apiErr(codeMethodNotAllowed, "the specified method is not allowed against a delete marker")
	}
	return obj, nil
}

func (s *Server) getObjectTagging(ctx context.Context, rq *request) error {
	obj, err := s.taggable(ctx, rq)
	if err != nil {
		return err
	}
	out := tagging{NS: s3NS, TagSet: []tagXML{}}
	keys := make([]string, 0, len(obj.GetTags()))
	for k := range obj.GetTags() {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		out.TagSet = append(out.TagSet, tagXML{Key: k, Value: obj.GetTags()[k]})
	}
	setVersion(rq.w, obj, rq.bucketRec)
	return writeXML(rq.w, out)
}

func (s *Server) putObjectTagging(ctx context.Context, rq *request) error {
	body, _, err := s.body(rq, false)
	if err != nil {
		return err
	}
	var in tagging
	if err := readXML(body, 64<<10, &in); err != nil {
		return err
	}
	tags, err := checkTags(in.TagSet)
	if err != nil {
		return err
	}
	return s.setTags(ctx, rq, tags, http.StatusOK)
}

func (s *Server) deleteObjectTagging(ctx context.Context, rq *request) error {
	return s.setTags(ctx, rq, nil, http.StatusNoContent)
}

func (s *Server) setTags(ctx context.Context, rq *request, tags map[string]string, status int) error {
	if _, err := s.taggable(ctx, rq); err != nil {
		return err
	}
	obj, err := s.objects.SetObjectTags(ctx, rq.bucket, rq.key, rq.q.Get("versionId"), tags)
	if errs.Is(err, errs.Invalid) {
		return apiErr(codeInvalidTag, "the tag set is not valid")
	}
	if err != nil {
		return s.versionMissing(ctx, rq.bucket, err)
	}
	setVersion(rq.w, obj, rq.bucketRec)
	rq.w.WriteHeader(status)
	return nil
}

// setTaggingCount tells GET and HEAD how many tags the object has.
func setTaggingCount(w http.ResponseWriter, obj *metapb.Object) {
	if n := len(obj.GetTags()); n > 0 {
		w.Header().Set("X-Amz-Tagging-Count", strconv.Itoa(n))
	}
}
