package gateway

import (
	"context"
	"encoding/base64"
	"net/url"
	"strconv"
	"strings"

	"github.com/wolke-cloud/wolke/iam/sigv4"
	"github.com/wolke-cloud/wolke/meta/metapb"
)

const maxListKeys = 1000

// intParam reads a non-negative integer query parameter, capped at limit.
func intParam(q url.Values, name string, def, limit int) (int, error) {
	v := q.Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, apiErr(sigv4.CodeInvalidArgument, name+" must be a non-negative integer")
	}
	return min(n, limit), nil
}

// listParams reads what every listing takes: max-keys (default and limit
// 1000) and the key encoding.
func listParams(q url.Values) (max int, enc func(string) string, encodingType string, err error) {
	if max, err = intParam(q, "max-keys", maxListKeys, maxListKeys); err != nil {
		return 0, nil, "", err
	}
	enc, encodingType, err = keyEncoder(q)
	return max, enc, encodingType, err
}

// keyEncoder returns the encoding for keys in a listing: identity, or URL
// encoding when the client asked for encoding-type=url.
func keyEncoder(q url.Values) (func(string) string, string, error) {
	switch et := q.Get("encoding-type"); et {
	case "":
		return func(s string) string { return s }, "", nil
	case "url":
		return func(s string) string {
			return strings.ReplaceAll(url.QueryEscape(s), "%2F", "/")
		}, et, nil
	default:
		return nil, "", apiErr(sigv4.CodeInvalidArgument, "invalid encoding-type "+strconv.Quote(et))
	}
}

func storageClass(o *metapb.Object) string {
	if sc := o.GetStorageClass(); sc != "" {
		return sc
	}
	return "STANDARD"
}

// list asks the object layer for one page of keys.
func (s *Server) list(ctx context.Context, bucket, prefix, delim, after string, max int) (*metapb.ListObjectsResponse, error) {
	if max == 0 {
		if _, err := s.objects.GetBucket(ctx, bucket); err != nil {
			return nil, bucketErr(err)
		}
		return &metapb.ListObjectsResponse{}, nil
	}
	resp, err := s.objects.ListObjects(ctx, &metapb.ListObjectsRequest{
		Bucket: bucket, Prefix: prefix, Delimiter: delim, StartAfter: after, MaxKeys: int32(max),
	})
	if err != nil {
		return nil, bucketErr(err)
	}
	return resp, nil
}

// fill copies a page into the result.
func fill(out *listBucketResult, resp *metapb.ListObjectsResponse, enc func(string) string, own *owner) {
	for _, o := range resp.GetObjects() {
		out.Contents = append(out.Contents, objectXML{
			Key:          enc(o.GetKey()),
			LastModified: isoTime(o.GetMtimeUnixNano()),
			ETag:         o.GetEtag(),
			Size:         o.GetSize(),
			StorageClass: storageClass(o),
			Owner:        own,
		})
	}
	for _, p := range resp.GetCommonPrefixes() {
		out.CommonPrefixes = append(out.CommonPrefixes, commonPrefix{Prefix: enc(p)})
	}
	out.IsTruncated = resp.GetTruncated()
}

func (s *Server) listObjectsV1(ctx context.Context, rq *request) error {
	q := rq.q
	max, enc, et, err := listParams(q)
	if err != nil {
		return err
	}
	prefix, delim, marker := q.Get("prefix"), q.Get("delimiter"), q.Get("marker")
	resp, err := s.list(ctx, rq.bucket, prefix, delim, marker, max)
	if err != nil {
		return err
	}
	own := ownerOf(rq.auth.Credential)
	encMarker := enc(marker)
	out := listBucketResult{
		NS: s3NS, Name: rq.bucket, Prefix: enc(prefix), Marker: &encMarker, MaxKeys: max,
		Delimiter: enc(delim), EncodingType: et,
	}
	fill(&out, resp, enc, &own)
	if out.IsTruncated && delim != "" {
		out.NextMarker = enc(resp.GetNextStartAfter())
	}
	return writeXML(rq.w, out)
}

func (s *Server) listObjectsV2(ctx context.Context, rq *request) error {
	q := rq.q
	max, enc, et, err := listParams(q)
	if err != nil {
		return err
	}
	prefix, delim, token, startAfter := q.Get("prefix"), q.Get("delimiter"), q.Get("continuation-token"), q.Get("start-after")
	after := startAfter
	if q.Has("continuation-token") {
		b, err := base64.RawURLEncoding.DecodeString(token)
		if err != nil || token == "" {
			return apiErr(sigv4.CodeInvalidArgument, "the continuation token provided is incorrect")
		}
		after = string(b)
	}
	resp, err := s.list(ctx, rq.bucket, prefix, delim, after, max)
	if err != nil {
		return err
	}
	var own *owner
	if q.Get("fetch-owner") == "true" {
		o := ownerOf(rq.auth.Credential)
		own = &o
	}
	out := listBucketResult{
		NS: s3NS, Name: rq.bucket, Prefix: enc(prefix), MaxKeys: max, Delimiter: enc(delim),
		EncodingType: et, ContToken: token, StartAfter: enc(startAfter),
	}
	fill(&out, resp, enc, own)
	n := len(out.Contents) + len(out.CommonPrefixes)
	out.KeyCount = &n
	if out.IsTruncated {
		out.NextContToken = base64.RawURLEncoding.EncodeToString([]byte(resp.GetNextStartAfter()))
	}
	return writeXML(rq.w, out)
}
