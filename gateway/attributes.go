package gateway

import (
	"context"
	"encoding/xml"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/wolke-cloud/wolke/iam/sigv4"
)

// GetObjectAttributes (GET ?attributes): what x-amz-object-attributes
// asks for of ETag, Checksum, ObjectParts, StorageClass and ObjectSize,
// without reading the object.

type objectAttributes struct {
	XMLName      xml.Name         `xml:"GetObjectAttributesResponse"`
	NS           string           `xml:"xmlns,attr"`
	ETag         string           `xml:"ETag,omitempty"`
	Checksum     *resultChecksums `xml:"Checksum,omitempty"`
	ObjectParts  *objectParts     `xml:"ObjectParts,omitempty"`
	StorageClass string           `xml:"StorageClass,omitempty"`
	ObjectSize   *int64           `xml:"ObjectSize,omitempty"`
}

type objectParts struct {
	PartsCount           int          `xml:"PartsCount"`
	PartNumberMarker     int          `xml:"PartNumberMarker"`
	NextPartNumberMarker int          `xml:"NextPartNumberMarker"`
	MaxParts             int          `xml:"MaxParts"`
	IsTruncated          bool         `xml:"IsTruncated"`
	Parts                []objectPart `xml:"Part"`
}

type objectPart struct {
	PartNumber int32 `xml:"PartNumber"`
	Size       int64 `xml:"Size"`
}

var knownAttributes = map[string]bool{"etag": true, "checksum": true, "objectparts": true, "storageclass": true, "objectsize": true}

func (s *Server) getObjectAttributes(ctx context.Context, rq *request) error {
	want := map[string]bool{}
	for _, v := range rq.r.Header.Values("X-Amz-Object-Attributes") {
		for _, a := range strings.Split(v, ",") {
			a = strings.ToLower(strings.TrimSpace(a))
			if a == "" {
				continue
			}
			if !knownAttributes[a] {
				return apiErr(sigv4.CodeInvalidArgument, "Invalid attribute name specified.")
			}
			want[a] = true
		}
	}
	if len(want) == 0 {
		return apiErr(sigv4.CodeInvalidArgument, "The x-amz-object-attributes header specifying the attributes to be retrieved is either missing or empty")
	}
	maxParts, marker := 1000, 0
	for _, p := range []struct {
		name string
		v    *int
	}{{"X-Amz-Max-Parts", &maxParts}, {"X-Amz-Part-Number-Marker", &marker}} {
		if h := rq.r.Header.Get(p.name); h != "" {
			n, err := strconv.Atoi(h)
			if err != nil || n < 0 {
				return apiErr(sigv4.CodeInvalidArgument, "Invalid "+strings.ToLower(p.name))
			}
			*p.v = n
		}
	}
	vid := rq.q.Get("versionId")
	obj, err := s.objects.HeadObject(ctx, rq.bucket, rq.key, vid)
	if err != nil {
		return s.versionMissing(ctx, rq.bucket, err)
	}
	w := rq.w
	if obj.GetDeleteMarker() {
		w.Header().Set("X-Amz-Delete-Marker", "true")
		w.Header().Set("X-Amz-Version-Id", obj.GetVersionId())
		return apiErr(codeNoSuchKey, notFoundMessage(codeNoSuchKey))
	}
	if _, err := readKey(rq.r.Header, ssecPrefix, obj); err != nil {
		return err
	}
	out := objectAttributes{NS: s3NS}
	if want["etag"] {
		out.ETag = strings.Trim(obj.GetEtag(), `"`)
	}
	if want["checksum"] && len(obj.GetChecksums()) > 0 {
		c := resultChecksumsOf(obj.GetChecksums())
		out.Checksum = &c
	}
	if want["objectparts"] && len(obj.GetPartSizes()) > 0 {
		nums, sizes := obj.GetPartNumbers(), obj.GetPartSizes()
		op := &objectParts{PartsCount: len(sizes), PartNumberMarker: marker, MaxParts: maxParts, Parts: []objectPart{}}
		for i, size := range sizes {
			n := int32(i + 1)
			if i < len(nums) {
				n = nums[i]
			}
			if int(n) <= marker {
				continue
			}
			if len(op.Parts) == maxParts {
				op.IsTruncated = true
				break
			}
			op.Parts = append(op.Parts, objectPart{PartNumber: n, Size: size})
			op.NextPartNumberMarker = int(n)
		}
		out.ObjectParts = op
	}
	if want["storageclass"] {
		out.StorageClass = storageClass(obj)
	}
	if want["objectsize"] {
		size := obj.GetSize()
		out.ObjectSize = &size
	}
	setVersion(w, obj, rq.bucketRec)
	w.Header().Set("Last-Modified", time.Unix(0, obj.GetMtimeUnixNano()).UTC().Format(http.TimeFormat))
	return writeXML(w, out)
}
