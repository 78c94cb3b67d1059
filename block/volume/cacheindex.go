package volume

import (
	"sync"
	"time"
)

// The cached blocks of an extent are found by their offset in pages of
// slots, one slot per block, rather than in a map: a random write, its
// write-back and a read's overlay each touch a block in a few
// instructions, and the write-back walks the slots in order with no sort.
// Pages cover a MiB each and exist only where blocks are cached, so an
// extent of a GiB with one cached block costs one page.
const (
	pageBlocks = 256
	pageShift  = 20 // log2(pageBlocks * blockSize)
)

// blockPage holds the slots of pageBlocks consecutive blocks.
type blockPage struct {
	slots [pageBlocks]cachedBlock
	n     int // slots in use
}

// cachedExtent is the cached blocks of one extent.
type cachedExtent struct {
	pages []*blockPage // by offset >> pageShift; nil where none is cached
	n     int          // cached blocks
	since time.Time    // when its oldest cached block came (about)
}

// cachedBlock is one cached block: blockSize bytes at at in buf, never
// written to once cached. Blocks of one write that are written back
// together need no copy. The zero value is an empty slot.
type cachedBlock struct {
	buf *cacheBuf
	at  int
}

func (b cachedBlock) data() []byte {
	return (*b.buf.b)[b.at : b.at+blockSize : b.at+blockSize]
}

// slot returns the slot of the block at o, or nil when its page does not
// exist.
func (x *cachedExtent) slot(o int64) *cachedBlock {
	p := o >> pageShift
	if p >= int64(len(x.pages)) || x.pages[p] == nil {
		return nil
	}
	return &x.pages[p].slots[(o/blockSize)%pageBlocks]
}

// set puts b in the slot of the block at o, making its page (from pages)
// if need be, and returns what the slot held.
func (x *cachedExtent) set(o int64, b cachedBlock, pages *sync.Pool) cachedBlock {
	p := o >> pageShift
	for int64(len(x.pages)) <= p {
		x.pages = append(x.pages, nil)
	}
	pg := x.pages[p]
	if pg == nil {
		pg = pages.Get().(*blockPage)
		x.pages[p] = pg
	}
	s := &pg.slots[(o/blockSize)%pageBlocks]
	old := *s
	*s = b
	if old.buf == nil {
		pg.n++
		x.n++
	}
	return old
}

// clear empties the slot of the block at o, which holds a block. Its page
// stays until trim.
func (x *cachedExtent) clear(o int64) {
	pg := x.pages[o>>pageShift]
	pg.slots[(o/blockSize)%pageBlocks] = cachedBlock{}
	pg.n--
	x.n--
}

// trim gives the empty pages back to pages.
func (x *cachedExtent) trim(pages *sync.Pool) {
	for i, pg := range x.pages {
		if pg != nil && pg.n == 0 {
			x.pages[i] = nil
			pages.Put(pg)
		}
	}
}

// each calls fn, in offset order, for the cached blocks that start in
// [lo, hi). fn may clear the slot it is given.
func (x *cachedExtent) each(lo, hi int64, fn func(o int64, b *cachedBlock)) {
	for p := max(lo, 0) >> pageShift; p < int64(len(x.pages)) && p<<pageShift < hi; p++ {
		pg := x.pages[p]
		if pg == nil || pg.n == 0 {
			continue
		}
		base := p << pageShift
		first := max(0, (lo-base+blockSize-1)/blockSize)
		last := min(pageBlocks, (hi-base+blockSize-1)/blockSize)
		for i := first; i < last; i++ {
			if s := &pg.slots[i]; s.buf != nil {
				fn(base+i*blockSize, s)
			}
		}
	}
}
