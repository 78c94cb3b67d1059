package s3load

import (
	"encoding/binary"
	"errors"
	"hash"
	"hash/crc32"
	"hash/fnv"
	"io"
	"math/rand/v2"
)

// contentBlock is the unit of generated content: block i of an object is a
// pure function of (key, i), so any offset can be produced without the rest.
const contentBlock = 64 << 10

var errContentSeek = errors.New("s3load: seek outside the object")

// keySeed derives the content seed of an object from its key.
func keySeed(key string) uint64 {
	h := fnv.New64a()
	io.WriteString(h, key)
	return h.Sum64()
}

// content is a seekable reader of an object's pseudo-random bytes, or of a
// window of them (a multipart part). It also hashes the object's bytes in
// order the first time each is read, so after one full pass sum is the
// checksum of exactly what was sent, even if the client rewound the body.
type content struct {
	seed   uint64
	size   int64 // whole object
	lo, hi int64 // the window this reader exposes
	off    int64 // absolute position
	block  []byte
	cur    int64 // index of the block in buf, -1 if none
	hashed int64 // bytes [0, hashed) went into crc
	crc    hash.Hash32
}

func newContent(key string, size int64, table *crc32.Table) *content {
	c := &content{block: make([]byte, contentBlock), crc: crc32.New(table)}
	c.reset(key, size)
	return c
}

// reset points the reader at the whole of another object, reusing its buffer.
func (c *content) reset(key string, size int64) {
	c.seed, c.size, c.lo, c.hi, c.off, c.cur, c.hashed = keySeed(key), size, 0, size, 0, -1, 0
	c.crc.Reset()
}

// window limits the reader to bytes [lo, lo+n) of the object, positioned at
// its start; the running checksum carries on across windows.
func (c *content) window(lo, n int64) {
	c.lo, c.hi, c.off = lo, min(lo+n, c.size), lo
}

// Len is the length of the window.
func (c *content) Len() int64 { return c.hi - c.lo }

func (c *content) fill(idx int64) {
	if c.cur == idx {
		return
	}
	r := rand.NewPCG(c.seed, uint64(idx))
	for i := 0; i+8 <= len(c.block); i += 8 {
		binary.LittleEndian.PutUint64(c.block[i:], r.Uint64())
	}
	c.cur = idx
}

func (c *content) Read(p []byte) (int, error) {
	if c.off >= c.hi {
		return 0, io.EOF
	}
	n := 0
	for n < len(p) && c.off < c.hi {
		idx, in := c.off/contentBlock, int(c.off%contentBlock)
		c.fill(idx)
		m := copy(p[n:], c.block[in:min(int64(contentBlock), c.hi-idx*contentBlock)])
		if c.off <= c.hashed && c.off+int64(m) > c.hashed {
			skip := int(c.hashed - c.off)
			c.crc.Write(p[n+skip : n+m])
			c.hashed = c.off + int64(m)
		}
		n += m
		c.off += int64(m)
	}
	return n, nil
}

func (c *content) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
		offset += c.lo
	case io.SeekCurrent:
		offset += c.off
	case io.SeekEnd:
		offset += c.hi
	}
	if offset < c.lo {
		return c.off - c.lo, errContentSeek
	}
	c.off = offset
	return offset - c.lo, nil
}

// complete tells whether every byte has been hashed.
func (c *content) complete() bool { return c.hashed == c.size }

// sum is the CRC-32C of the object, valid once complete.
func (c *content) sum() uint32 { return c.crc.Sum32() }

// checksum reads an object's full content and returns its CRC-32C (tests and
// the multipart path, where parts are sent by separate readers).
func checksum(key string, size int64, table *crc32.Table) uint32 {
	c := newContent(key, size, table)
	io.Copy(io.Discard, c)
	return c.sum()
}
