package gateway

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/wolke-cloud/wolke/iam/sigv4"
	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/meta/metapb"
)

const codeInvalidPartNumber = "InvalidPartNumber"

// partRecords is what an object layer with part records of multipart
// objects (core.Store, for segmented objects) offers: the record, with
// its checksums, of the part at index n-1 of obj's parts. Objects without
// records answer errs.NotFound.
type partRecords interface {
	ObjectPart(ctx context.Context, obj *metapb.Object, n int32) (*metapb.Part, error)
}

// partChecksums sets the checksums of ?partNumber=N of obj with checksum
// mode: those of the whole object when it was not uploaded in parts (it
// is its only part), the part's own when its record is at hand (they
// verify what is sent), none otherwise.
func (s *Server) partChecksums(ctx context.Context, w http.ResponseWriter, q url.Values, obj *metapb.Object) {
	n, err := partNumber(q)
	if err != nil {
		return
	}
	if len(obj.GetPartSizes()) == 0 {
		setChecksums(w, obj.GetChecksums())
		return
	}
	if s.parts == nil {
		return
	}
	part, err := s.parts.ObjectPart(ctx, obj, n)
	if err != nil {
		if !errs.Is(err, errs.NotFound) {
			s.log.Warn("part checksums not read", "bucket", obj.GetBucket(), "key", obj.GetKey(), "part", n, "err", err)
		}
		return
	}
	sums := map[string]string{}
	for alg, v := range part.GetChecksums() {
		sums[alg] = v
	}
	setChecksums(w, sums)
	// The type is the object's: a part of a composite object says so.
	for _, v := range obj.GetChecksums() {
		if len(sums) > 0 && strings.Contains(v, "-") {
			w.Header().Set("X-Amz-Checksum-Type", checksumComposite)
		}
	}
}

// partRange is the byte range of ?partNumber=N of obj, and sets
// x-amz-mp-parts-count for a multipart object. An object that was not
// uploaded in parts has one part: itself.
func partRange(w http.ResponseWriter, h http.Header, q url.Values, obj *metapb.Object) (byteRange, error) {
	n, err := partNumber(q)
	if err != nil {
		return byteRange{}, err
	}
	if h.Get("Range") != "" {
		return byteRange{}, apiErr(sigv4.CodeInvalidRequest, "cannot specify both Range header and partNumber query parameter")
	}
	sizes := obj.GetPartSizes()
	if len(sizes) == 0 {
		if n != 1 {
			return byteRange{}, apiErr(codeInvalidPartNumber, "the requested partnumber is not satisfiable")
		}
		// S3 answers part 1 as a range of the whole object: 206 with
		// Content-Range (200 for an empty one, which has no range).
		return byteRange{0, obj.GetSize(), obj.GetSize() > 0}, nil
	}
	w.Header().Set("X-Amz-Mp-Parts-Count", strconv.Itoa(len(sizes)))
	if int(n) > len(sizes) {
		return byteRange{}, apiErr(codeInvalidPartNumber, "the requested partnumber is not satisfiable")
	}
	var off int64
	for _, sz := range sizes[:n-1] {
		off += sz
	}
	return byteRange{off, sizes[n-1], true}, nil
}
