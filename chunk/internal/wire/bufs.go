package wire

import (
	"encoding/binary"
	"io"
	"math/bits"
	"sync"
	"unsafe"

	"github.com/wolke-cloud/wolke/internal/errs"
)

// pageSize is the alignment of pooled frame bodies' ends: the data of a
// patch (whole 4 KiB blocks at the end of its frame) then starts on a
// block boundary and goes to an O_DIRECT disk without a copy.
const pageSize = 4096

// minPooled is the smallest body Bufs pools; smaller ones are allocated.
const minPooled = 64 << 10

// Bufs hands out frame bodies: the large ones from pools by power-of-two
// size, and, when it has a limit, no more bytes at once than the limit
// (a reader waits for bodies to be released). A Bufs is safe for
// concurrent use; the zero value pools without a limit.
type Bufs struct {
	limit int64

	mu   sync.Mutex
	cond *sync.Cond
	used int64

	pools [bits.UintSize]sync.Pool // by bits.Len of the size class
}

// NewBufs returns a Bufs holding at most limit bytes of bodies at once
// (0: no limit). limit must exceed MaxFrame.
func NewBufs(limit int64) *Bufs {
	b := &Bufs{limit: limit}
	b.cond = sync.NewCond(&b.mu)
	return b
}

func (b *Bufs) acquire(n int64) {
	if b.limit <= 0 {
		return
	}
	b.mu.Lock()
	for b.used+n > b.limit && b.used > 0 {
		b.cond.Wait()
	}
	b.used += n
	b.mu.Unlock()
}

func (b *Bufs) releaseBytes(n int64) {
	if b.limit <= 0 {
		return
	}
	b.mu.Lock()
	b.used -= n
	b.mu.Unlock()
	b.cond.Broadcast()
}

// InUse is how many body bytes are out.
func (b *Bufs) InUse() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}

// Get returns n bytes (pooled when large) and the function giving them
// back once nothing refers to them any more.
func (b *Bufs) Get(n int) ([]byte, func()) { return b.get(n) }

// get returns a body of n bytes that ends on a page boundary when it is
// pooled, and the function giving it back.
func (b *Bufs) get(n int) ([]byte, func()) {
	b.acquire(int64(n))
	var once sync.Once
	if n < minPooled {
		return make([]byte, n), func() { once.Do(func() { b.releaseBytes(int64(n)) }) }
	}
	cls := bits.Len(uint(n - 1)) // 1<<cls >= n
	size := 1 << cls
	var buf []byte
	if p, _ := b.pools[cls].Get().(*[]byte); p != nil {
		buf = *p
	} else {
		buf = alignedPage(size)
	}
	m := (n + pageSize - 1) &^ (pageSize - 1)
	return buf[m-n : m : m], func() {
		once.Do(func() {
			b.pools[cls].Put(&buf)
			b.releaseBytes(int64(n))
		})
	}
}

func alignedPage(n int) []byte {
	b := make([]byte, n+pageSize)
	shift := 0
	if r := int(uintptr(unsafe.Pointer(&b[0])) & (pageSize - 1)); r != 0 {
		shift = pageSize - r
	}
	return b[shift : shift+n : shift+n]
}

// ReadFrame reads one frame with its body from b. release gives the body
// back once nothing refers to it any more; a body never released is
// simply garbage collected (and, with a limit, stays counted).
func (b *Bufs) ReadFrame(r io.Reader) (f Frame, release func(), err error) {
	var h [FrameHeader]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return Frame{}, nil, err
	}
	n := binary.BigEndian.Uint32(h[0:])
	if n < 9 || n > MaxFrame {
		return Frame{}, nil, errs.Errorf("wire.ReadFrame", errs.Invalid, "bad frame length %d", n)
	}
	f = Frame{Op: h[4], ID: binary.BigEndian.Uint64(h[5:])}
	f.Body, release = b.get(int(n - 9))
	if _, err := io.ReadFull(r, f.Body); err != nil {
		release()
		return Frame{}, nil, err
	}
	return f, release, nil
}
