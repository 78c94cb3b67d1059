package gateway

import (
	"encoding/base64"
	"fmt"
	"hash"
	"net/http"
	"strings"

	"github.com/wolke-cloud/wolke/iam/sigv4"
	"github.com/wolke-cloud/wolke/internal/crccombine"
	"github.com/wolke-cloud/wolke/meta/metapb"
)

// S3 checksum types of a multipart upload (x-amz-checksum-type).
const (
	checksumComposite  = "COMPOSITE"   // checksum of the parts' checksums, "-N"
	checksumFullObject = "FULL_OBJECT" // CRC of the whole object, combined from the parts' CRCs
)

// uploadChecksum is the checksum algorithm and type a multipart upload was
// created with (alg "" for none). It is kept in the upload's template as
// its only checksums entry, algorithm → type; completing the upload
// replaces the template's checksums with the object's.
type uploadChecksum struct{ alg, typ string }

// combiners are the algorithms whose full-object checksum S3 computes
// from the parts' checksums.
var combiners = map[string]func() *crccombine.Poly{
	"crc32":     func() *crccombine.Poly { return crccombine.New32(crccombine.CRC32) },
	"crc32c":    func() *crccombine.Poly { return crccombine.New32(crccombine.CRC32C) },
	"crc64nvme": func() *crccombine.Poly { return crccombine.New64(crccombine.CRC64NVME) },
}

// createChecksum reads x-amz-checksum-algorithm and x-amz-checksum-type
// of a CreateMultipartUpload, with S3's defaults (COMPOSITE, but
// FULL_OBJECT for CRC-64/NVME) and its errors.
func createChecksum(h http.Header) (uploadChecksum, error) {
	alg := strings.ToLower(h.Get("X-Amz-Checksum-Algorithm"))
	typ := strings.ToUpper(h.Get("X-Amz-Checksum-Type"))
	if typ != "" && typ != checksumComposite && typ != checksumFullObject {
		return uploadChecksum{}, apiErr(sigv4.CodeInvalidRequest, "Value for x-amz-checksum-type header is invalid.")
	}
	if alg == "" {
		if typ != "" {
			return uploadChecksum{}, apiErr(sigv4.CodeInvalidRequest, "The x-amz-checksum-type header can only be used with the x-amz-checksum-algorithm header.")
		}
		return uploadChecksum{}, nil
	}
	if _, ok := sigv4.NewChecksum(alg); !ok {
		return uploadChecksum{}, apiErr(sigv4.CodeInvalidRequest, "Checksum algorithm provided is unsupported. Please try again with any of the valid types: [CRC32, CRC32C, CRC64NVME, SHA1, SHA256]")
	}
	if typ == "" {
		typ = checksumComposite
		if alg == "crc64nvme" {
			typ = checksumFullObject
		}
	}
	_, combinable := combiners[alg]
	if typ == checksumFullObject && !combinable || typ == checksumComposite && alg == "crc64nvme" {
		return uploadChecksum{}, apiErr(sigv4.CodeInvalidRequest, fmt.Sprintf("The %s checksum type cannot be used with the %s checksum algorithm.", typ, alg))
	}
	return uploadChecksum{alg: alg, typ: typ}, nil
}

// record is the template entry of the upload's checksum (nil for none).
func (c uploadChecksum) record() map[string]string {
	if c.alg == "" {
		return nil
	}
	return map[string]string{c.alg: c.typ}
}

// setHeaders answers a CreateMultipartUpload with the checksum chosen.
func (c uploadChecksum) setHeaders(w http.ResponseWriter) {
	if c.alg != "" {
		w.Header().Set("X-Amz-Checksum-Algorithm", strings.ToUpper(c.alg))
		w.Header().Set("X-Amz-Checksum-Type", c.typ)
	}
}

// checksumOf reads the checksum an upload was created with.
func checksumOf(up *metapb.Upload) uploadChecksum {
	for alg, typ := range up.GetTmpl().GetChecksums() {
		if typ == checksumComposite || typ == checksumFullObject {
			return uploadChecksum{alg: alg, typ: typ}
		}
	}
	return uploadChecksum{}
}

// partHashes checks the checksums a part of the upload carries (hashes,
// from requestHashes) as S3 does: an upload created with an algorithm
// takes parts with that algorithm's checksum only; a FULL_OBJECT upload
// also takes parts without one, whose CRC this gateway computes. Parts
// of an upload without an algorithm that carry no checksum get the
// default one.
func (c uploadChecksum) partHashes(hashes map[string]hash.Hash) (map[string]hash.Hash, error) {
	if c.alg == "" {
		return withDefault(hashes), nil
	}
	if hashes[c.alg] != nil {
		return hashes, nil
	}
	actual := "null"
	for alg := range hashes {
		actual = alg
	}
	if actual == "null" && c.typ == checksumFullObject {
		h, _ := sigv4.NewChecksum(c.alg)
		return map[string]hash.Hash{c.alg: h}, nil
	}
	return nil, apiErr(sigv4.CodeInvalidRequest, "Checksum Type mismatch occurred, expected checksum Type: "+c.alg+", actual checksum Type: "+actual)
}

// copyHashes are the hashes of an UploadPartCopy into the upload: its
// algorithm's (the default one without), computed from the copied bytes.
func (c uploadChecksum) copyHashes() map[string]hash.Hash {
	if c.alg == "" {
		return withDefault(nil)
	}
	h, _ := sigv4.NewChecksum(c.alg)
	return map[string]hash.Hash{c.alg: h}
}

// completeChecksums computes the checksums of a completed upload from its
// listed parts (as the request lists them, and as stored); sizes are the
// parts' plaintext sizes. Uploads created without an algorithm get
// composite checksums of what their parts have, unless the client asked
// for a full-object checksum; the others get their algorithm's, checked
// against any value the request carries.
func (c uploadChecksum) completeChecksums(h http.Header, listed []map[string]string, used []*metapb.Part, sizes []int64) (map[string]string, error) {
	if c.alg == "" {
		if !wantsComposite(h) {
			return nil, nil
		}
		sums, ok := compositeChecksums(used)
		if !ok {
			return nil, apiErr(codeInvalidPart, "a part's checksum is malformed")
		}
		if len(sums) == 0 {
			return defaultFullObject(h, used, sizes), nil
		}
		return sums, nil
	}
	if typ := strings.ToUpper(h.Get("X-Amz-Checksum-Type")); typ != "" && typ != c.typ {
		return nil, apiErr(sigv4.CodeInvalidRequest, "The upload was created using the "+c.typ+" checksum mode. The complete request must use the same checksum mode.")
	}
	var sum string
	if c.typ == checksumComposite {
		for i, l := range listed {
			if l[c.alg] == "" {
				return nil, apiErr(sigv4.CodeInvalidRequest, fmt.Sprintf("The upload was created using a %s checksum. The complete request must include the checksum for each part. It was missing for part %d in the request.", c.alg, used[i].GetNumber()))
			}
		}
		sums, ok := compositeChecksums(used)
		if !ok || sums[c.alg] == "" {
			return nil, apiErr(codeInvalidPart, "a part's checksum is missing or malformed")
		}
		sum = sums[c.alg]
	} else {
		var err error
		if sum, err = fullObjectChecksum(c.alg, used, sizes); err != nil {
			return nil, err
		}
	}
	// A composite value may come without its "-N" (minio-go sends it so).
	if v := h.Get("X-Amz-Checksum-" + c.alg); v != "" && v != sum && !strings.HasPrefix(sum, v+"-") {
		return nil, apiErr(sigv4.CodeBadDigest, "The "+c.alg+" you specified did not match the calculated checksum.")
	}
	return map[string]string{c.alg: sum}, nil
}

// defaultFullObject is the default full-object CRC-64/NVME of an upload
// created without an algorithm, combined from its parts' default
// checksums; nil when a part has none (uploaded before defaults) or the
// client named a checksum type.
func defaultFullObject(h http.Header, parts []*metapb.Part, sizes []int64) map[string]string {
	if len(parts) == 0 || h.Get("X-Amz-Checksum-Type") != "" {
		return nil
	}
	for _, p := range parts {
		if p.GetChecksums()[defaultAlg] == "" {
			return nil
		}
	}
	sum, err := fullObjectChecksum(defaultAlg, parts, sizes)
	if err != nil {
		return nil
	}
	return map[string]string{defaultAlg: sum}
}

// fullObjectChecksum combines the parts' CRCs into the CRC of their
// concatenation.
func fullObjectChecksum(alg string, parts []*metapb.Part, sizes []int64) (string, error) {
	p := combiners[alg]()
	var crc uint64
	for i, part := range parts {
		raw, err := base64.StdEncoding.DecodeString(part.GetChecksums()[alg])
		v, ok := p.Value(raw)
		if err != nil || !ok {
			return "", apiErr(codeInvalidPart, fmt.Sprintf("part %d has no valid %s checksum", part.GetNumber(), alg))
		}
		if i == 0 {
			crc = v
		} else {
			crc = p.Combine(crc, v, sizes[i])
		}
	}
	return base64.StdEncoding.EncodeToString(p.Bytes(crc)), nil
}

// resultChecksums are the checksum elements of a
// CompleteMultipartUploadResult.
type resultChecksums struct {
	CRC32     string `xml:"ChecksumCRC32,omitempty"`
	CRC32C    string `xml:"ChecksumCRC32C,omitempty"`
	CRC64NVME string `xml:"ChecksumCRC64NVME,omitempty"`
	SHA1      string `xml:"ChecksumSHA1,omitempty"`
	SHA256    string `xml:"ChecksumSHA256,omitempty"`
	Type      string `xml:"ChecksumType,omitempty"`
}

// checksumElements are the checksum elements of sums, without a type
// (the parts of ListParts).
func checksumElements(sums map[string]string) resultChecksums {
	return resultChecksums{CRC32: sums["crc32"], CRC32C: sums["crc32c"], CRC64NVME: sums["crc64nvme"], SHA1: sums["sha1"], SHA256: sums["sha256"]}
}

func resultChecksumsOf(sums map[string]string) resultChecksums {
	r := checksumElements(sums)
	for _, v := range sums {
		r.Type = checksumFullObject
		if strings.Contains(v, "-") {
			r.Type = checksumComposite
			break
		}
	}
	return r
}

// withoutChecksumHeaders is r without its x-amz-checksum-* headers: on a
// CompleteMultipartUpload they are the object's checksums, which the
// payload verifier must not take for checksums of the XML body.
func withoutChecksumHeaders(r *http.Request) *http.Request {
	r2 := r.Clone(r.Context())
	for _, alg := range sigv4.ChecksumAlgorithms() {
		r2.Header.Del("X-Amz-Checksum-" + alg)
	}
	return r2
}
