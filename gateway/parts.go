package gateway

import (
	"net/http"
	"net/url"
	"strconv"

	"github.com/wolke-cloud/wolke/iam/sigv4"
	"github.com/wolke-cloud/wolke/meta/metapb"
)

const codeInvalidPartNumber = "InvalidPartNumber"

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
		return byteRange{0, obj.GetSize(), false}, nil
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
