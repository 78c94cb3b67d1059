package gateway

import (
	"context"
	"encoding/xml"
	"net/http"

	"github.com/wolke-cloud/wolke/iam/sigv4"
	"github.com/wolke-cloud/wolke/meta/metapb"
)

type versioningConfiguration struct {
	XMLName   xml.Name `xml:"VersioningConfiguration"`
	NS        string   `xml:"xmlns,attr,omitempty"`
	Status    string   `xml:"Status,omitempty"`
	MfaDelete string   `xml:"MfaDelete,omitempty"`
}

// versionEntry is a Version or a DeleteMarker of a version listing; its
// XMLName says which, so both kinds stay in listing order.
type versionEntry struct {
	XMLName      xml.Name
	Key          string `xml:"Key"`
	VersionID    string `xml:"VersionId"`
	IsLatest     bool   `xml:"IsLatest"`
	LastModified string `xml:"LastModified"`
	ETag         string `xml:"ETag,omitempty"`
	Size         *int64 `xml:"Size,omitempty"`
	StorageClass string `xml:"StorageClass,omitempty"`
	Owner        owner  `xml:"Owner"`
}

type listVersionsResult struct {
	XMLName             xml.Name       `xml:"ListVersionsResult"`
	NS                  string         `xml:"xmlns,attr"`
	Name                string         `xml:"Name"`
	Prefix              string         `xml:"Prefix"`
	KeyMarker           string         `xml:"KeyMarker"`
	VersionIDMarker     string         `xml:"VersionIdMarker"`
	NextKeyMarker       string         `xml:"NextKeyMarker,omitempty"`
	NextVersionIDMarker string         `xml:"NextVersionIdMarker,omitempty"`
	MaxKeys             int            `xml:"MaxKeys"`
	Delimiter           string         `xml:"Delimiter,omitempty"`
	EncodingType        string         `xml:"EncodingType,omitempty"`
	IsTruncated         bool           `xml:"IsTruncated"`
	Entries             []versionEntry `xml:""`
	CommonPrefixes      []commonPrefix `xml:"CommonPrefixes"`
}

// routeVersioning picks the handlers of the versioning subresources of a
// bucket.
func routeVersioning(rq *request) (string, handler, bool) {
	q, m := rq.q, rq.r.Method
	switch {
	case q.Has("versioning") && m == http.MethodGet:
		return "GetBucketVersioning", (*Server).getBucketVersioning, true
	case q.Has("versioning") && m == http.MethodPut:
		return "PutBucketVersioning", (*Server).putBucketVersioning, true
	case q.Has("versioning"):
		return "Bucket:versioning", methodNotAllowed, true
	case q.Has("versions") && m == http.MethodGet:
		return "ListObjectVersions", (*Server).listObjectVersions, true
	case q.Has("versions"):
		return "Bucket:versions", methodNotAllowed, true
	}
	return "", nil, false
}

func (s *Server) getBucketVersioning(ctx context.Context, rq *request) error {
	b, err := s.objects.GetBucket(ctx, rq.bucket)
	if err != nil {
		return bucketErr(err)
	}
	return writeXML(rq.w, versioningConfiguration{NS: s3NS, Status: b.GetVersioning()})
}

func (s *Server) putBucketVersioning(ctx context.Context, rq *request) error {
	body, _, err := s.body(rq, false)
	if err != nil {
		return err
	}
	var cfg versioningConfiguration
	if err := readXML(body, 64<<10, &cfg); err != nil {
		return err
	}
	switch cfg.MfaDelete {
	case "", "Disabled":
	case "Enabled":
		return apiErr(codeNotImplemented, "MFA delete is not implemented")
	default:
		return apiErr(codeIllegalVersioning, "the versioning configuration specified in the request is invalid")
	}
	switch cfg.Status {
	case "Enabled", "Suspended":
	case "":
		// No status: nothing changes.
		if _, err := s.objects.GetBucket(ctx, rq.bucket); err != nil {
			return bucketErr(err)
		}
		rq.w.WriteHeader(http.StatusOK)
		return nil
	default:
		return apiErr(codeIllegalVersioning, "the versioning configuration specified in the request is invalid")
	}
	if _, err := s.objects.SetBucketVersioning(ctx, rq.bucket, cfg.Status); err != nil {
		return bucketErr(err)
	}
	rq.w.WriteHeader(http.StatusOK)
	return nil
}

func (s *Server) listObjectVersions(ctx context.Context, rq *request) error {
	q := rq.q
	max, enc, et, err := listParams(q)
	if err != nil {
		return err
	}
	keyMarker, vidMarker := q.Get("key-marker"), q.Get("version-id-marker")
	if vidMarker != "" && keyMarker == "" {
		return apiErr(sigv4.CodeInvalidArgument, "a version-id marker cannot be specified without a key marker")
	}
	out := listVersionsResult{
		NS: s3NS, Name: rq.bucket, Prefix: enc(q.Get("prefix")), KeyMarker: enc(keyMarker),
		VersionIDMarker: vidMarker, MaxKeys: max, EncodingType: et, Delimiter: enc(q.Get("delimiter")),
	}
	if max == 0 {
		if _, err := s.objects.GetBucket(ctx, rq.bucket); err != nil {
			return bucketErr(err)
		}
		return writeXML(rq.w, out)
	}
	resp, err := s.objects.ListObjectVersions(ctx, &metapb.ListObjectVersionsRequest{
		Bucket: rq.bucket, Prefix: q.Get("prefix"), KeyMarker: keyMarker, VersionIdMarker: vidMarker, MaxKeys: int32(max),
		Delimiter: q.Get("delimiter"),
	})
	if err != nil {
		return bucketErr(err)
	}
	own := ownerOf(rq.auth.Credential)
	for _, v := range resp.GetVersions() {
		e := versionEntry{
			XMLName: xml.Name{Local: "Version"}, Key: enc(v.GetKey()), VersionID: versionOrNull(v.GetVersionId()),
			IsLatest: v.GetIsLatest(), LastModified: isoTime(v.GetMtimeUnixNano()), Owner: own,
		}
		if v.GetDeleteMarker() {
			e.XMLName.Local = "DeleteMarker"
		} else {
			size := v.GetSize()
			e.ETag, e.Size, e.StorageClass = v.GetEtag(), &size, storageClass(v)
		}
		out.Entries = append(out.Entries, e)
	}
	for _, p := range resp.GetCommonPrefixes() {
		out.CommonPrefixes = append(out.CommonPrefixes, commonPrefix{Prefix: enc(p)})
	}
	out.IsTruncated = resp.GetTruncated()
	if out.IsTruncated {
		out.NextKeyMarker = enc(resp.GetNextKeyMarker())
		if vid := resp.GetNextVersionIdMarker(); vid != "" || resp.GetNextKeyMarker() != lastPrefix(resp.GetCommonPrefixes()) {
			out.NextVersionIDMarker = versionOrNull(vid)
		}
	}
	return writeXML(rq.w, out)
}

func lastPrefix(ps []string) string {
	if len(ps) == 0 {
		return ""
	}
	return ps[len(ps)-1]
}

func versionOrNull(v string) string {
	if v == "" {
		return "null"
	}
	return v
}

// setDeleteResult describes a DELETE in the response headers.
func setDeleteResult(w http.ResponseWriter, versionID string, resp *metapb.DeleteObjectResponse) {
	if m := resp.GetDeleteMarker(); m != nil {
		w.Header().Set("X-Amz-Delete-Marker", "true")
		w.Header().Set("X-Amz-Version-Id", m.GetVersionId())
		return
	}
	if versionID == "" {
		return
	}
	w.Header().Set("X-Amz-Version-Id", versionID)
	for _, o := range resp.GetRemoved() {
		if o.GetDeleteMarker() {
			w.Header().Set("X-Amz-Delete-Marker", "true")
		}
	}
}

// deletedEntry reports one key of a DeleteObjects request.
func deletedEntry(key, versionID string, resp *metapb.DeleteObjectResponse) deletedXML {
	d := deletedXML{Key: key, VersionID: versionID}
	if m := resp.GetDeleteMarker(); m != nil {
		d.DeleteMarker, d.DeleteMarkerVersionID = true, m.GetVersionId()
		return d
	}
	for _, o := range resp.GetRemoved() {
		if versionID != "" && o.GetDeleteMarker() {
			d.DeleteMarker, d.DeleteMarkerVersionID = true, o.GetVersionId()
		}
	}
	return d
}
