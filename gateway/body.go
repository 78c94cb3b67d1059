package gateway

import (
	"bytes"
	"crypto/md5"
	"encoding/base64"
	"errors"
	"hash"
	"io"

	"github.com/wolke-cloud/wolke/iam/sigv4"
)

// MaxObjectSize is the largest single PUT (and part) S3 accepts.
const MaxObjectSize = 5 << 30

// bodyReader hands the payload to the object layer: exactly its declared
// length, with Content-MD5 checked before the last byte is released, so a
// short or corrupt body fails the write before anything is committed.
type bodyReader struct {
	r      io.Reader
	remain int64 // -1: unknown, read to EOF
	md5    hash.Hash
	want   []byte
	err    error
}

func (b *bodyReader) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if b.remain == 0 {
		return 0, b.finish()
	}
	if b.remain > 0 && int64(len(p)) > b.remain {
		p = p[:b.remain]
	}
	n, err := b.r.Read(p)
	if b.md5 != nil {
		b.md5.Write(p[:n])
	}
	if b.remain > 0 {
		b.remain -= int64(n)
	}
	switch {
	case b.remain == 0 || b.remain < 0 && err == io.EOF:
		if e := b.finish(); e != io.EOF {
			return 0, e
		}
		if n == 0 {
			return 0, io.EOF
		}
		return n, nil
	case err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF):
		b.err = apiErr(sigv4.CodeIncompleteBody, "you did not provide the number of bytes specified by the Content-Length HTTP header")
		return 0, b.err
	case err != nil:
		b.err = err
		return 0, err
	}
	return n, nil
}

func (b *bodyReader) finish() error {
	b.err = io.EOF
	if b.md5 != nil && !bytes.Equal(b.md5.Sum(nil), b.want) {
		b.err = apiErr(sigv4.CodeBadDigest, "the Content-MD5 you specified did not match what we received")
	}
	return b.err
}

// failure is the error the body reader met, if any: it wins over whatever
// the object layer made of it.
func (b *bodyReader) failure() error {
	if b.err == io.EOF {
		return nil
	}
	return b.err
}

// body returns the verified payload of a request and its length. For
// object data (forObject) the length must be known and at most
// MaxObjectSize.
func (s *Server) body(rq *request, forObject bool) (*bodyReader, int64, error) {
	raw, size, err := rq.auth.Body(rq.r)
	if err != nil {
		return nil, 0, err
	}
	if forObject && size < 0 {
		return nil, 0, apiErr(sigv4.CodeMissingContentLength, "you must provide the Content-Length HTTP header")
	}
	if forObject && size > MaxObjectSize {
		return nil, 0, apiErr(codeEntityTooLarge, "your proposed upload exceeds the maximum allowed size")
	}
	br := &bodyReader{r: raw, remain: size}
	if v := rq.r.Header.Get("Content-Md5"); v != "" {
		want, err := base64.StdEncoding.DecodeString(v)
		if err != nil || len(want) != md5.Size {
			return nil, 0, apiErr(codeInvalidDigest, "the Content-MD5 you specified is not valid")
		}
		br.md5, br.want = md5.New(), want
	}
	return br, size, nil
}
