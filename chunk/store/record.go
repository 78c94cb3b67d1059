package store

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"strings"
	"time"

	"github.com/wolke-cloud/wolke/chunk/disk"
	"github.com/wolke-cloud/wolke/internal/errs"
)

// Index keys. Chunk records live under "c/", store metadata under "m/".
// Versions before 2026-11 kept the free map under "f/" (big endian offset
// → big endian length); Open deletes it.
const (
	chunkPrefix = "c/"
	freePrefix  = "f/"
	freeEnd     = "f0"
	metaKey     = "m/disk"
	recVersion1 = 1 // without a generation
	recVersion  = 2
)

// crc32c is the CRC32C (Castagnoli) of b; the standard library caches the table.
func crc32c(b []byte) uint32 { return crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli)) }

// Info describes a stored chunk.
type Info struct {
	ID      string
	Length  int64
	CRC32C  uint32 // of the whole chunk; 0 once a Patch changed it
	Created time.Time
	Gen     uint64 // the generation: 0 for a Put (unless given), +1 per Patch
}

// record is the index entry of one chunk.
type record struct {
	length  int64
	crc     uint32
	created int64 // unix nanoseconds
	gen     uint64
	exts    []extent
	blocks  []uint32 // CRC32C of every BlockSize block, the last zero padded
}

func (r *record) info(id string) Info {
	return Info{ID: id, Length: r.length, CRC32C: r.crc, Created: time.Unix(0, r.created).UTC(), Gen: r.gen}
}

func (r *record) encode() []byte {
	b := make([]byte, 0, 32+len(r.exts)*8+len(r.blocks)*4)
	b = append(b, recVersion)
	b = binary.AppendUvarint(b, uint64(r.length))
	b = binary.BigEndian.AppendUint32(b, r.crc)
	b = binary.AppendVarint(b, r.created)
	b = binary.AppendUvarint(b, r.gen)
	b = binary.AppendUvarint(b, uint64(len(r.exts)))
	for _, e := range r.exts {
		b = binary.AppendUvarint(b, uint64(e.off/disk.BlockSize))
		b = binary.AppendUvarint(b, uint64(e.n/disk.BlockSize))
	}
	for _, c := range r.blocks {
		b = binary.BigEndian.AppendUint32(b, c)
	}
	return b
}

func decodeRecord(b []byte) (*record, error) {
	bad := errors.New("malformed chunk record")
	if len(b) < 1 || (b[0] != recVersion && b[0] != recVersion1) {
		return nil, bad
	}
	version := b[0]
	b = b[1:]
	uv := func() uint64 {
		v, n := binary.Uvarint(b)
		if n <= 0 {
			b = nil
			return 0
		}
		b = b[n:]
		return v
	}
	r := &record{length: int64(uv())}
	if len(b) < 4 {
		return nil, bad
	}
	r.crc = binary.BigEndian.Uint32(b)
	b = b[4:]
	v, n := binary.Varint(b)
	if n <= 0 {
		return nil, bad
	}
	r.created, b = v, b[n:]
	if version >= recVersion {
		r.gen = uv()
	}
	next := uv()
	if b == nil || next > uint64(len(b)) {
		return nil, bad
	}
	var total int64
	for range next {
		e := extent{int64(uv()) * disk.BlockSize, int64(uv()) * disk.BlockSize}
		r.exts = append(r.exts, e)
		total += e.n
	}
	nblocks := blocksFor(r.length)
	if b == nil || total != nblocks*disk.BlockSize || int64(len(b)) != nblocks*4 {
		return nil, bad
	}
	r.blocks = make([]uint32, nblocks)
	for i := range r.blocks {
		r.blocks[i] = binary.BigEndian.Uint32(b[4*i:])
	}
	return r, nil
}

func blocksFor(n int64) int64 { return (n + disk.BlockSize - 1) / disk.BlockSize }

func chunkKey(id string) []byte { return append([]byte(chunkPrefix), id...) }

// checkID validates a chunk id: 1 to 255 bytes, no '/', no NUL, not "." or "..".
func checkID(op, id string) error {
	if id == "" || len(id) > maxIDLen || id == "." || id == ".." || strings.ContainsAny(id, "/\x00") {
		return errs.Errorf(op, errs.Invalid, "bad chunk id %q", id)
	}
	return nil
}
