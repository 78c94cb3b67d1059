// Package disk defines the raw device a chunk store owns whole, and its
// implementations: a sparse file opened with O_DIRECT standing in for a disk,
// a block device, and memory.
//
// Every read and write is in whole blocks: offsets and lengths must be
// multiples of BlockSize, and the range must lie inside the disk; otherwise
// the call fails with errs.Invalid and touches nothing.
package disk

import (
	"context"
	"unsafe"

	"github.com/wolke-cloud/wolke/internal/errs"
)

// BlockSize is the alignment unit of every implementation here: offsets,
// lengths and (for O_DIRECT) buffer addresses.
const BlockSize = 4096

// Disk is a raw device.
type Disk interface {
	// ReadAt fills p from offset off.
	ReadAt(ctx context.Context, p []byte, off int64) error
	// WriteAt writes p at offset off. The data is durable only after Sync.
	WriteAt(ctx context.Context, p []byte, off int64) error
	// Sync makes every completed write durable.
	Sync(ctx context.Context) error
	// Discard releases the range (hole punch / TRIM). Files, memory and
	// loop devices read it back as zeros; a physical device may not.
	Discard(ctx context.Context, off, n int64) error
	// DropCache forgets any cached copy of the range, so that the next
	// read of it comes from the medium (a scrubber's read); a disk that
	// caches nothing does nothing.
	DropCache(off, n int64) error
	// Size is the usable size in bytes, a multiple of BlockSize.
	Size() int64
	// BlockSize is the alignment unit in bytes.
	BlockSize() int
	// Close releases the device; later calls fail with errs.Unavailable.
	Close() error
}

// AlignedBuffer returns a zeroed buffer of n bytes whose first byte is
// aligned to BlockSize, as O_DIRECT requires. Slices of it taken at
// multiples of BlockSize stay aligned.
func AlignedBuffer(n int) []byte {
	if n == 0 {
		return []byte{}
	}
	b := make([]byte, n+BlockSize)
	shift := 0
	if r := int(uintptr(unsafe.Pointer(&b[0])) & (BlockSize - 1)); r != 0 {
		shift = BlockSize - r
	}
	return b[shift : shift+n : shift+n]
}

// IsAligned reports whether p starts at a BlockSize-aligned address.
func IsAligned(p []byte) bool {
	return len(p) == 0 || uintptr(unsafe.Pointer(&p[0]))&(BlockSize-1) == 0
}

// checkRange validates an I/O request against the alignment and size rules.
func checkRange(op string, off, n, size int64, bs int) error {
	b := int64(bs)
	switch {
	case off < 0 || n < 0:
		return errs.Errorf(op, errs.Invalid, "negative offset %d or length %d", off, n)
	case off%b != 0 || n%b != 0:
		return errs.Errorf(op, errs.Invalid, "offset %d or length %d not a multiple of %d", off, n, b)
	case off > size || n > size-off:
		return errs.Errorf(op, errs.Invalid, "range [%d,+%d) outside disk of %d bytes", off, n, size)
	}
	return nil
}

// ctxErr turns a finished context into a Canceled error.
func ctxErr(ctx context.Context, op string) error {
	if err := ctx.Err(); err != nil {
		return errs.E(op, errs.Canceled, err)
	}
	return nil
}
