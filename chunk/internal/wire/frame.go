package wire

import (
	"encoding/binary"

	"github.com/wolke-cloud/wolke/internal/errs"
)

// The stream protocol: a client upgrades a connection to the chunk
// server's port (GET StreamPath, "Connection: Upgrade", "Upgrade:
// StreamProtocol"; the server answers 101) and then both sides exchange
// frames, any number in flight, answered in any order:
//
//	u32 length of what follows | u8 op or status | u64 request id | body
//
// Requests (op):
//
//	OpPatch: u8 flags (FlagNoSync), u64 base gen, i64 offset, u32 CRC32C of data, name disk, name chunk, data
//	OpRead:  i64 offset, i64 length, name disk, name chunk
//	OpSync:  name disk
//	OpPut:   u32 CRC32C of data, name disk, name chunk, data (stored synced)
//	OpPatchRanges: u8 flags (FlagNoSync), u64 base gen, u16 count, name disk, name chunk,
//	         count × (i64 offset, u32 length, u32 CRC32C of the range's data),
//	         the ranges' data one after the other (one patch: all or nothing, gen+1)
//
// where a name is u16 length + bytes. Answers carry status 0 and
//
//	OpPatch: u64 gen, u64 epoch
//	OpRead:  u64 gen, u32 CRC32C of data, data
//	OpSync:  u64 epoch
//	OpPut:   nothing
//	OpPatchRanges: u64 gen, u64 epoch
//
// or a non-zero status (the errs.Kind, plus one: errs.Other is 0) and the
// error text.
const (
	StreamPath     = "/v1/stream"
	StreamProtocol = "wolke-chunk-stream/1"

	OpPatch byte = 1
	OpRead  byte = 2
	OpSync  byte = 3
	OpPut   byte = 4
	// OpPatchRanges is OpPatch of several ranges of one chunk at once.
	OpPatchRanges byte = 5

	// MaxPatchRanges bounds the ranges of one OpPatchRanges.
	MaxPatchRanges = 1024

	FlagNoSync byte = 1

	// FrameHeader is the length field, the op and the id.
	FrameHeader = 4 + 1 + 8
	// MaxFrame bounds a frame (a 64 MiB chunk and its fields).
	MaxFrame = 64<<20 + 1024
)

// Frame is one decoded frame.
type Frame struct {
	Op   byte // op of a request, status of an answer
	ID   uint64
	Body []byte
}

// AppendFrame appends a frame of op, id and the body parts to b.
func AppendFrame(b []byte, op byte, id uint64, parts ...[]byte) []byte {
	n := 9
	for _, p := range parts {
		n += len(p)
	}
	b = binary.BigEndian.AppendUint32(b, uint32(n))
	b = append(b, op)
	b = binary.BigEndian.AppendUint64(b, id)
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

// AppendName appends a u16-length-prefixed name.
func AppendName(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
	return append(b, s...)
}

// Dec reads the fields of a frame body in order; the first short read
// sticks in Err.
type Dec struct {
	B   []byte
	Err error
}

func (d *Dec) take(n int) []byte {
	if d.Err != nil || len(d.B) < n {
		if d.Err == nil {
			d.Err = errs.E("wire.Dec", errs.Invalid, "short frame")
		}
		return make([]byte, n)
	}
	p := d.B[:n]
	d.B = d.B[n:]
	return p
}

func (d *Dec) U8() byte     { return d.take(1)[0] }
func (d *Dec) U16() uint16  { return binary.BigEndian.Uint16(d.take(2)) }
func (d *Dec) U32() uint32  { return binary.BigEndian.Uint32(d.take(4)) }
func (d *Dec) U64() uint64  { return binary.BigEndian.Uint64(d.take(8)) }
func (d *Dec) I64() int64   { return int64(d.U64()) }
func (d *Dec) Rest() []byte { p := d.B; d.B = nil; return p }

// Name reads a u16-length-prefixed name.
func (d *Dec) Name() string {
	n := binary.BigEndian.Uint16(d.take(2))
	return string(d.take(int(n)))
}

// StatusOf is the status byte of an answer failing with err (0: success).
func StatusOf(err error) byte {
	if err == nil {
		return 0
	}
	return byte(errs.KindOf(err)) + 1
}

// StatusKind is the errs.Kind of a non-zero status.
func StatusKind(status byte) errs.Kind { return errs.Kind(status - 1) }
