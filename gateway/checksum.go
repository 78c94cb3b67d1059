package gateway

import (
	"encoding/base64"
	"hash"
	"net/http"
	"strconv"
	"strings"

	"github.com/wolke-cloud/wolke/iam/sigv4"
	"github.com/wolke-cloud/wolke/meta/metapb"
)

// requestHashes returns a fresh hash for every S3 checksum a request
// carries, as a header or an announced trailer. sigv4 verifies the value
// against the body, so the sums of these hashes are what the client sent:
// the object layer stores them.
func requestHashes(h http.Header) map[string]hash.Hash {
	trailers := strings.ToLower(strings.Join(h.Values("X-Amz-Trailer"), ","))
	var out map[string]hash.Hash
	for _, alg := range sigv4.ChecksumAlgorithms() {
		if h.Get("X-Amz-Checksum-"+alg) == "" && !strings.Contains(trailers, "x-amz-checksum-"+alg) {
			continue
		}
		hs, ok := sigv4.NewChecksum(alg)
		if !ok {
			continue
		}
		if out == nil {
			out = map[string]hash.Hash{}
		}
		out[alg] = hs
	}
	return out
}

// defaultAlg is the checksum S3 stores (since 2025) for every object and
// part uploaded without one: a full-object CRC-64/NVME.
const defaultAlg = "crc64nvme"

// withDefault is hs, or the default checksum's hash when hs is empty.
func withDefault(hs map[string]hash.Hash) map[string]hash.Hash {
	if len(hs) > 0 {
		return hs
	}
	h, _ := sigv4.NewChecksum(defaultAlg)
	return map[string]hash.Hash{defaultAlg: h}
}

// checksumHashes returns hashes for the algorithms of an object's
// checksums (and of the x-amz-checksum-algorithm header), so that a copy
// gets them too; the copy is one PUT, so its checksums are full-object.
// A source without checksums gets the default one.
func checksumHashes(obj *metapb.Object, h http.Header) map[string]hash.Hash {
	algs := []string{strings.ToLower(h.Get("X-Amz-Checksum-Algorithm"))}
	for alg := range obj.GetChecksums() {
		algs = append(algs, alg)
	}
	var out map[string]hash.Hash
	for _, alg := range algs {
		if hs, ok := sigv4.NewChecksum(alg); ok && alg != "" {
			if out == nil {
				out = map[string]hash.Hash{}
			}
			out[alg] = hs
		}
	}
	return withDefault(out)
}

// setChecksums sends stored checksums as x-amz-checksum-* headers.
func setChecksums(w http.ResponseWriter, sums map[string]string) {
	composite := false
	for alg, v := range sums {
		w.Header()["X-Amz-Checksum-"+canonicalAlg(alg)] = []string{v}
		composite = composite || strings.Contains(v, "-")
	}
	if len(sums) > 0 {
		if composite {
			w.Header().Set("X-Amz-Checksum-Type", "COMPOSITE")
		} else {
			w.Header().Set("X-Amz-Checksum-Type", "FULL_OBJECT")
		}
	}
}

// canonicalAlg spells an algorithm as net/http canonicalizes header names.
func canonicalAlg(alg string) string {
	return http.CanonicalHeaderKey("x-" + alg)[2:]
}

// checksumMode reports whether a read asked for the object's checksums.
func checksumMode(h http.Header) bool {
	return strings.EqualFold(h.Get("X-Amz-Checksum-Mode"), "ENABLED")
}

// partChecksums are the checksums a CompleteMultipartUpload lists for a
// part, by algorithm.
type partChecksums struct {
	CRC32     string `xml:"ChecksumCRC32"`
	CRC32C    string `xml:"ChecksumCRC32C"`
	CRC64NVME string `xml:"ChecksumCRC64NVME"`
	SHA1      string `xml:"ChecksumSHA1"`
	SHA256    string `xml:"ChecksumSHA256"`
}

func (p partChecksums) byAlg() map[string]string {
	out := map[string]string{}
	for alg, v := range map[string]string{"crc32": p.CRC32, "crc32c": p.CRC32C, "crc64nvme": p.CRC64NVME, "sha1": p.SHA1, "sha256": p.SHA256} {
		if v != "" {
			out[alg] = v
		}
	}
	return out
}

// compositeChecksums computes the checksums of a completed upload: for
// each algorithm every listed part has, the checksum of the parts' binary
// checksums, a dash and the part count. It is false when a part's
// checksum is malformed.
func compositeChecksums(parts []*metapb.Part) (map[string]string, bool) {
	if len(parts) == 0 {
		return nil, true
	}
	var out map[string]string
	for alg := range parts[0].GetChecksums() {
		hs, ok := sigv4.NewChecksum(alg)
		if !ok || alg == "crc64nvme" { // S3 has CRC-64/NVME checksums of whole objects only
			continue
		}
		all := true
		for _, p := range parts {
			v, ok := p.GetChecksums()[alg]
			if !ok {
				all = false
				break
			}
			raw, err := base64.StdEncoding.DecodeString(v)
			if err != nil {
				return nil, false
			}
			hs.Write(raw)
		}
		if !all {
			continue
		}
		if out == nil {
			out = map[string]string{}
		}
		out[alg] = base64.StdEncoding.EncodeToString(hs.Sum(nil)) + "-" + strconv.Itoa(len(parts))
	}
	return out, true
}

// sameChecksums reports whether every checksum a client listed for a part
// is the one stored (algorithms not stored for the part are not checked).
func sameChecksums(listed, stored map[string]string) bool {
	for alg, v := range listed {
		if s, ok := stored[alg]; ok && s != v {
			return false
		}
	}
	return true
}

// wantsComposite reports whether a CompleteMultipartUpload may get
// composite checksums: not when the client asked for (or sent) a
// full-object checksum, which this gateway cannot verify from the parts.
func wantsComposite(h http.Header) bool {
	if strings.EqualFold(h.Get("X-Amz-Checksum-Type"), "FULL_OBJECT") {
		return false
	}
	for _, alg := range sigv4.ChecksumAlgorithms() {
		if v := h.Get("X-Amz-Checksum-" + alg); v != "" && !strings.Contains(v, "-") {
			return false
		}
	}
	return true
}
