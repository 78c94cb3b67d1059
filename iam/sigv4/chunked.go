package sigv4

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"strconv"
	"strings"

	"github.com/wolke-cloud/wolke/internal/errs"
)

const (
	maxChunkSize   = 16 << 20
	maxChunkLine   = 4 << 10
	maxTrailerSize = 16 << 10
)

// chunkReader decodes an aws-chunked body, verifying each chunk signature
// (signed modes), the trailer signature and the trailing checksums. The
// data of the last chunk is released only after all of that checked out.
type chunkReader struct {
	br       *bufio.Reader
	res      *Result
	signed   bool
	trailer  bool
	prev     string
	declared int64
	decoded  int64
	sums     map[string]checker // trailer name → running checksum
	want     []string           // trailer names announced in x-amz-trailer
	buf      []byte
	off      int
	err      error
}

func newChunkReader(body io.Reader, res *Result, signed, trailer bool, declared int64, announced []string) (*chunkReader, error) {
	c := &chunkReader{
		br:       bufio.NewReaderSize(body, 64<<10),
		res:      res,
		signed:   signed,
		trailer:  trailer,
		prev:     res.Signature,
		declared: declared,
		sums:     map[string]checker{},
	}
	for _, v := range announced {
		for _, name := range strings.Split(v, ",") {
			name = strings.ToLower(strings.TrimSpace(name))
			if name == "" {
				continue
			}
			if !trailer {
				return nil, Fail("sigv4.Body", errs.Invalid, CodeInvalidRequest, "x-amz-trailer needs a trailer payload mode")
			}
			alg, ok := strings.CutPrefix(name, "x-amz-checksum-")
			h, known := NewChecksum(alg)
			if !ok || !known {
				return nil, Fail("sigv4.Body", errs.Invalid, CodeInvalidRequest, "unsupported trailer "+name)
			}
			c.sums[name] = checker{h: h, code: CodeBadDigest, label: alg}
			c.want = append(c.want, name)
		}
	}
	return c, nil
}

func (c *chunkReader) Read(p []byte) (int, error) {
	for c.off >= len(c.buf) {
		if c.err != nil {
			return 0, c.err
		}
		if err := c.next(); err != nil {
			c.err, c.buf = err, nil
			return 0, err
		}
	}
	n := copy(p, c.buf[c.off:])
	c.off += n
	return n, nil
}

func malformed(msg string) error {
	return Fail("sigv4.chunked", errs.Invalid, CodeInvalidRequest, msg)
}

func incomplete() error {
	return Fail("sigv4.chunked", errs.Invalid, CodeIncompleteBody, "the chunked body ended early")
}

func (c *chunkReader) line() (string, error) {
	l, err := c.br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) || len(l) > maxChunkLine {
		return "", malformed("chunk header line too long")
	}
	if err != nil {
		return "", incomplete()
	}
	return strings.TrimRight(string(l), "\r\n"), nil
}

// header reads "<hex size>[;chunk-signature=<sig>]".
func (c *chunkReader) header() (int64, string, error) {
	l, err := c.line()
	if err != nil {
		return 0, "", err
	}
	sizeStr, ext, _ := strings.Cut(l, ";")
	size, err := strconv.ParseInt(strings.TrimSpace(sizeStr), 16, 64)
	if err != nil || size < 0 {
		return 0, "", malformed("bad chunk size")
	}
	sig := ""
	if c.signed {
		v, ok := strings.CutPrefix(strings.TrimSpace(ext), "chunk-signature=")
		if !ok || v == "" {
			return 0, "", malformed("missing chunk-signature")
		}
		sig = v
	}
	return size, sig, nil
}

func (c *chunkReader) verifyChunk(sig string, data []byte) error {
	if !c.signed {
		return nil
	}
	sum := sha256.Sum256(data)
	sts := "AWS4-HMAC-SHA256-PAYLOAD\n" + c.res.amzDate + "\n" + c.res.Scope.String() + "\n" +
		c.prev + "\n" + EmptySHA256 + "\n" + hex.EncodeToString(sum[:])
	if want := Sign(c.res.key, sts); !hmac.Equal([]byte(want), []byte(sig)) {
		return Fail("sigv4.chunked", errs.Permission, CodeSignatureDoesNotMatch, "chunk signature does not match")
	}
	c.prev = sig
	return nil
}

func (c *chunkReader) next() error {
	size, sig, err := c.header()
	if err != nil {
		return err
	}
	if size == 0 {
		return c.finish(sig)
	}
	if size > maxChunkSize {
		return malformed("chunk too large")
	}
	if c.decoded+size > c.declared {
		return malformed("the chunks hold more than x-amz-decoded-content-length")
	}
	if int64(cap(c.buf)) < size {
		c.buf = make([]byte, size)
	}
	c.buf, c.off = c.buf[:size], 0
	if _, err := io.ReadFull(c.br, c.buf); err != nil {
		return incomplete()
	}
	if err := c.crlf(); err != nil {
		return err
	}
	if err := c.verifyChunk(sig, c.buf); err != nil {
		return err
	}
	for _, s := range c.sums {
		s.h.Write(c.buf)
	}
	c.decoded += size
	if c.decoded == c.declared {
		size, sig, err := c.header()
		if err != nil {
			return err
		}
		if size != 0 {
			return malformed("the chunks hold more than x-amz-decoded-content-length")
		}
		if err := c.finish(sig); err != io.EOF {
			return err
		}
		c.err = io.EOF // handed out after this chunk's data
		return nil
	}
	return nil
}

func (c *chunkReader) crlf() error {
	var b [2]byte
	if _, err := io.ReadFull(c.br, b[:]); err != nil {
		return incomplete()
	}
	if b != [2]byte{'\r', '\n'} {
		return malformed("chunk data not followed by CRLF")
	}
	return nil
}

// finish handles the final zero-size chunk and the trailers. It returns
// io.EOF when everything verified.
func (c *chunkReader) finish(sig string) error {
	if err := c.verifyChunk(sig, nil); err != nil {
		return err
	}
	if c.decoded != c.declared {
		return incomplete()
	}
	rest, err := io.ReadAll(io.LimitReader(c.br, maxTrailerSize+1))
	if err != nil {
		return incomplete()
	}
	if len(rest) > maxTrailerSize {
		return malformed("trailer too large")
	}
	if !c.trailer {
		if len(bytes.TrimSpace(rest)) != 0 {
			return malformed("data after the final chunk")
		}
		return io.EOF
	}
	if err := c.trailers(rest); err != nil {
		return err
	}
	return io.EOF
}

func (c *chunkReader) trailers(rest []byte) error {
	var canon strings.Builder
	var trailerSig string
	got := map[string]string{}
	for _, l := range strings.Split(string(rest), "\n") {
		l = strings.TrimRight(l, "\r")
		if strings.TrimSpace(l) == "" {
			continue
		}
		name, val, ok := strings.Cut(l, ":")
		if !ok {
			return malformed("malformed trailer line")
		}
		name, val = strings.ToLower(strings.TrimSpace(name)), strings.TrimSpace(val)
		if name == "x-amz-trailer-signature" {
			trailerSig = val
			continue
		}
		got[name] = val
		canon.WriteString(name + ":" + val + "\n")
	}
	if c.signed {
		sum := sha256.Sum256([]byte(canon.String()))
		sts := "AWS4-HMAC-SHA256-TRAILER\n" + c.res.amzDate + "\n" + c.res.Scope.String() + "\n" +
			c.prev + "\n" + hex.EncodeToString(sum[:])
		if want := Sign(c.res.key, sts); !hmac.Equal([]byte(want), []byte(trailerSig)) {
			return Fail("sigv4.chunked", errs.Permission, CodeSignatureDoesNotMatch, "trailer signature does not match")
		}
	}
	for _, name := range c.want {
		if _, ok := got[name]; !ok {
			return Fail("sigv4.chunked", errs.Invalid, CodeIncompleteBody, "announced trailer "+name+" missing")
		}
	}
	for name, val := range got {
		s, ok := c.sums[name]
		if !ok {
			if strings.HasPrefix(name, "x-amz-checksum-") {
				return malformed("trailer " + name + " was not announced in x-amz-trailer")
			}
			continue
		}
		want, err := base64.StdEncoding.DecodeString(val)
		if err != nil {
			return malformed("malformed trailer " + name)
		}
		s.want = want
		if !s.ok() {
			return Fail("sigv4.chunked", errs.Invalid, CodeBadDigest, "the "+s.label+" trailer does not match the body")
		}
	}
	return nil
}
