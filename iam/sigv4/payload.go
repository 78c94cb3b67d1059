package sigv4

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"hash"
	"hash/crc32"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/minio/crc64nvme"

	"github.com/wolke-cloud/wolke/internal/errs"
)

// ChecksumAlgorithms returns the S3 flexible checksum algorithms, as named
// in x-amz-checksum-<name> headers.
func ChecksumAlgorithms() []string {
	return []string{"crc32", "crc32c", "crc64nvme", "sha1", "sha256"}
}

// NewChecksum returns a hash for an S3 checksum algorithm name (crc32,
// crc32c, crc64nvme, sha1, sha256); its Sum, base64-encoded, is the header value.
func NewChecksum(alg string) (hash.Hash, bool) {
	switch strings.ToLower(alg) {
	case "crc32":
		return crc32.NewIEEE(), true
	case "crc32c":
		return crc32.New(crc32.MakeTable(crc32.Castagnoli)), true
	case "crc64nvme":
		// Carry-less multiplication where the CPU has it (PCLMULQDQ,
		// VPCLMULQDQ, PMULL): ~15x the table-driven hash/crc64.
		return crc64nvme.New(), true
	case "sha1":
		return sha1.New(), true
	case "sha256":
		return sha256.New(), true
	}
	return nil, false
}

// checker is one value to compare with a hash of the whole payload.
type checker struct {
	h     hash.Hash
	want  []byte
	code  string
	label string
}

func (c checker) ok() bool { return bytes.Equal(c.h.Sum(nil), c.want) }

// verifyReader passes through exactly size bytes (or up to EOF when size is
// -1), hashing them, and checks every hash before it hands out the last
// bytes: a consumer that stops at size still sees the error.
type verifyReader struct {
	r      io.Reader
	remain int64
	checks []checker
	err    error
}

func (v *verifyReader) Read(p []byte) (int, error) {
	if v.err != nil {
		return 0, v.err
	}
	if v.remain == 0 {
		return 0, v.end()
	}
	if v.remain > 0 && int64(len(p)) > v.remain {
		p = p[:v.remain]
	}
	n, err := v.r.Read(p)
	for _, c := range v.checks {
		c.h.Write(p[:n])
	}
	if v.remain > 0 {
		v.remain -= int64(n)
	}
	switch {
	case v.remain == 0 || v.remain < 0 && err == io.EOF:
		if e := v.end(); e != io.EOF {
			return 0, e
		}
		if n == 0 {
			return 0, io.EOF
		}
		return n, nil
	case err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF):
		v.err = Fail("sigv4.Body", errs.Invalid, CodeIncompleteBody, "the body is shorter than its declared length")
		return 0, v.err
	case err != nil:
		v.err = err
		return 0, err
	}
	return n, nil
}

func (v *verifyReader) end() error {
	v.err = io.EOF
	for _, c := range v.checks {
		if !c.ok() {
			v.err = Fail("sigv4.Body", errs.Invalid, c.code, "the "+c.label+" of the body does not match")
			break
		}
	}
	return v.err
}

// headerChecksums collects the x-amz-checksum-* values sent as headers.
func headerChecksums(h http.Header) ([]checker, error) {
	var out []checker
	for _, alg := range ChecksumAlgorithms() {
		v := h.Get("X-Amz-Checksum-" + alg)
		if v == "" {
			continue
		}
		want, err := base64.StdEncoding.DecodeString(v)
		hs, _ := NewChecksum(alg)
		if err != nil || len(want) != hs.Size() {
			return nil, Fail("sigv4.Body", errs.Invalid, CodeInvalidRequest, "malformed x-amz-checksum-"+alg)
		}
		out = append(out, checker{h: hs, want: want, code: CodeBadDigest, label: alg})
	}
	return out, nil
}

// Body returns the payload of r as the service should consume it, and its
// length (-1 if unknown). The reader verifies the signed payload hash, the
// chunk signatures of a streaming upload, trailing and header checksums,
// and the length. When the length is known, any mismatch is returned in
// place of the last bytes, so a consumer that stops at the length still
// sees it; with an unknown length the consumer must read to EOF.
func (res *Result) Body(r *http.Request) (io.Reader, int64, error) {
	const op = "sigv4.Body"
	mode := res.PayloadHash
	if res.Anonymous {
		mode = r.Header.Get("X-Amz-Content-Sha256")
	}
	checks, err := headerChecksums(r.Header)
	if err != nil {
		return nil, 0, err
	}
	body := io.Reader(http.NoBody)
	if r.Body != nil {
		body = r.Body
	}
	size := r.ContentLength
	switch mode {
	case StreamingPayload, StreamingPayloadTrailer, StreamingUnsignedTrailer:
		signed := mode != StreamingUnsignedTrailer
		if signed && res.key == nil {
			return nil, 0, Fail(op, errs.Permission, CodeAccessDenied, "a signed streaming payload needs a signed request")
		}
		dl := r.Header.Get("X-Amz-Decoded-Content-Length")
		if dl == "" {
			return nil, 0, Fail(op, errs.Invalid, CodeMissingContentLength, "x-amz-decoded-content-length is required")
		}
		size, err = strconv.ParseInt(dl, 10, 64)
		if err != nil || size < 0 {
			return nil, 0, Fail(op, errs.Invalid, CodeInvalidArgument, "malformed x-amz-decoded-content-length")
		}
		cr, err := newChunkReader(body, res, signed, mode != StreamingPayload, size, r.Header.Values("X-Amz-Trailer"))
		if err != nil {
			return nil, 0, err
		}
		body = cr
	case "", UnsignedPayload:
	default:
		want, err := hex.DecodeString(mode)
		if err != nil {
			return nil, 0, Fail(op, errs.Invalid, CodeInvalidArgument, "malformed x-amz-content-sha256")
		}
		checks = append(checks, checker{h: sha256.New(), want: want, code: CodeContentSHA256Mismatch, label: "SHA-256"})
	}
	return &verifyReader{r: body, remain: size, checks: checks}, size, nil
}
