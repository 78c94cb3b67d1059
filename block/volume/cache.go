package volume

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/wolke-cloud/wolke/internal/bufpool"
	"github.com/wolke-cloud/wolke/internal/errs"
)

// writeCache holds a writer's plain (non-FUA) WRITEs of whole blocks
// until they are written back to the replicas, as a disk's volatile write
// cache (or librbd's writeback cache) does: the NBD contract makes a
// write stable only at FLUSH (or with FUA), and Flush writes every cached
// block back before it syncs the replicas. Reads see cached blocks over
// what the replicas hold.
//
// Writing back gathers every cached block of an extent into one patch of
// each replica (or one copy on write), which is what makes small random
// writes cheap: one request per extent and replica instead of one per
// block.
//
// A cached block is never changed in place: a newer write of it replaces
// the entry, so a write-back in progress keeps what it read, and removes
// the entries it wrote only if they were not replaced meanwhile.
//
// The buffer a write is copied into comes from a pool and goes back to it
// once no cached block and no write-back in progress uses it (cacheBuf):
// a fill of a volume would otherwise leave a byte of garbage per byte
// written, and the collector's work cost it a tenth of its throughput.
type writeCache struct {
	pool    bufpool.Pool
	mu      sync.Mutex
	extents map[uint64]*cachedExtent
	bytes   int64 // cached bytes
	max     int64 // writers wait above this
	freed   chan struct{}
	wake    chan struct{} // the write-back loop has work (buffered, 1)
	broken  error         // set when cached writes can no longer be written back
	lastErr error         // of the last write-back that failed
	stall   time.Duration // cacheStall, shorter in tests
}

// cacheStall is how long a writer waits for room in a full cache before
// its write fails (the write-back keeps failing: too few chunk servers).
const cacheStall = 30 * time.Second

type cachedExtent struct {
	blocks map[int64]*cachedBlock // by offset inside the extent
	since  time.Time              // when its oldest cached block came (about)
}

type cachedBlock struct {
	data []byte // blockSize bytes, never written to once cached
	// buf is the write's buffer that data is part of, at: blocks of one
	// write that are written back together need no copy.
	buf *cacheBuf
	at  int
}

// cacheBuf is the buffer of one cached write, shared by its blocks.
type cacheBuf struct {
	b *[]byte // from writeCache.pool
	// refs counts the blocks of b in the cache and the pins of write-backs
	// using them (ranges); at zero b goes back to the pool. Under mu.
	refs int
}

func newWriteCache(max int64) *writeCache {
	return &writeCache{
		extents: map[uint64]*cachedExtent{},
		max:     max,
		freed:   make(chan struct{}),
		wake:    make(chan struct{}, 1),
		stall:   cacheStall,
	}
}

// cacheable reports whether a write of n bytes at in (inside an extent)
// may go to the cache: whole blocks only; others are written through.
func cacheable(in, n int64) bool {
	return in%blockSize == 0 && n%blockSize == 0 && n > 0
}

// blocksOf copies data into one pooled buffer for the whole piece, its
// blocks cached apart; made before the cache's lock is taken. Blocks that
// are not inserted go back with unused.
func (c *writeCache) blocksOf(data []byte) []cachedBlock {
	cb := &cacheBuf{b: c.pool.Get(len(data))}
	buf := *cb.b
	copy(buf, data)
	bs := make([]cachedBlock, len(data)/blockSize)
	for i := range bs {
		o := i * blockSize
		bs[i] = cachedBlock{data: buf[o : o+blockSize : o+blockSize], buf: cb, at: o}
	}
	return bs
}

// unused gives back the buffer of blocks made by blocksOf and never
// inserted.
func (c *writeCache) unused(bs []cachedBlock) {
	if len(bs) > 0 && bs[0].buf.refs == 0 {
		c.pool.Put(bs[0].buf.b)
	}
}

// unref drops one reference to b's buffer, giving it back to the pool at
// the last; the caller holds mu.
func (c *writeCache) unref(b *cachedBlock) {
	b.buf.refs--
	if b.buf.refs == 0 {
		c.pool.Put(b.buf.b)
	}
}

// tryPut caches data at in of extent idx if the cache has room for it
// now; false means it did nothing.
func (c *writeCache) tryPut(idx uint64, in int64, data []byte) bool {
	n := int64(len(data))
	c.mu.Lock()
	full := c.broken != nil || c.bytes > 0 && c.bytes+n > c.max
	c.mu.Unlock()
	if full {
		return false
	}
	bs := c.blocksOf(data)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.broken != nil || c.bytes > 0 && c.bytes+n > c.max {
		c.unused(bs)
		return false
	}
	c.insertLocked(idx, in, bs)
	return true
}

// put caches data at in of extent idx, waiting while the cache is full.
func (c *writeCache) put(ctx context.Context, idx uint64, in int64, data []byte) error {
	n := int64(len(data))
	bs := c.blocksOf(data)
	var stall <-chan time.Time
	c.mu.Lock()
	for c.bytes > 0 && c.bytes+n > c.max && c.broken == nil {
		freed := c.freed
		c.kick()
		c.mu.Unlock()
		if stall == nil {
			t := time.NewTimer(c.stall)
			defer t.Stop()
			stall = t.C
		}
		select {
		case <-freed:
		case <-stall:
			c.mu.Lock()
			defer c.mu.Unlock()
			c.unused(bs)
			return errs.E("volume.write", errs.Unavailable, "the write cache is full and writing it back fails", c.lastErr)
		case <-ctx.Done():
			c.unused(bs)
			return errs.E("volume.write", errs.Canceled, ctx.Err())
		}
		c.mu.Lock()
	}
	defer c.mu.Unlock()
	if c.broken != nil {
		c.unused(bs)
		return c.broken
	}
	c.insertLocked(idx, in, bs)
	return nil
}

// insertLocked caches the blocks bs at in of extent idx; the caller holds
// mu.
func (c *writeCache) insertLocked(idx uint64, in int64, bs []cachedBlock) {
	x := c.extents[idx]
	if x == nil {
		x = &cachedExtent{blocks: map[int64]*cachedBlock{}, since: time.Now()}
		c.extents[idx] = x
	}
	for i := range bs {
		o := in + int64(i)*blockSize
		if old, ok := x.blocks[o]; ok {
			c.unref(old)
		} else {
			c.bytes += blockSize
		}
		x.blocks[o] = &bs[i]
		bs[i].buf.refs++
	}
	if c.bytes >= c.high() {
		c.kick()
	}
}

// poke wakes the write-back loop.
func (c *writeCache) poke() {
	c.mu.Lock()
	c.kick()
	c.mu.Unlock()
}

// kick wakes the write-back loop; the caller holds mu.
func (c *writeCache) kick() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// overlay copies the cached blocks of extent idx that meet [in, in+len(p))
// over p.
func (c *writeCache) overlay(idx uint64, in int64, p []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	x := c.extents[idx]
	if x == nil {
		return
	}
	end := in + int64(len(p))
	if int64(len(x.blocks)) < (end-in)/blockSize+1 {
		for o, b := range x.blocks {
			if o+blockSize > in && o < end {
				copyBlock(p, in, o, b.data)
			}
		}
		return
	}
	for o := in &^ (blockSize - 1); o < end; o += blockSize {
		if b := x.blocks[o]; b != nil {
			copyBlock(p, in, o, b.data)
		}
	}
}

// copyBlock copies the part of the block at o that falls inside p (which
// starts at in).
func copyBlock(p []byte, in, o int64, data []byte) {
	if o >= in {
		copy(p[o-in:], data)
	} else {
		copy(p, data[in-o:])
	}
}

// cachedRange is a run of consecutive cached blocks of one extent.
type cachedRange struct {
	off    int64
	blocks []*cachedBlock
}

func (r cachedRange) end() int64 { return r.off + int64(len(r.blocks))*blockSize }

// appendEdits appends the run to es as edits without copying its data:
// one edit per piece that came in one write (consecutive in its buffer).
// A run gathered from several writes becomes several adjacent edits,
// which one patch stores together as it would one.
func (r cachedRange) appendEdits(es []edit) []edit {
	start := 0
	for i := 1; i <= len(r.blocks); i++ {
		if i < len(r.blocks) {
			a, b := r.blocks[i-1], r.blocks[i]
			if a.buf == b.buf && b.at == a.at+blockSize {
				continue
			}
		}
		first, n := r.blocks[start], (i-start)*blockSize
		es = append(es, edit{
			in:   r.off + int64(start)*blockSize,
			l:    int64(n),
			data: (*first.buf.b)[first.at : first.at+n : first.at+n],
		})
		start = i
	}
	return es
}

// ranges returns the cached blocks of extent idx as sorted runs of
// consecutive blocks; nil when none are cached. Their buffers are pinned
// (kept from the pool) until unpin.
func (c *writeCache) ranges(idx uint64) []cachedRange {
	c.mu.Lock()
	defer c.mu.Unlock()
	x := c.extents[idx]
	if x == nil {
		return nil
	}
	offs := make([]int64, 0, len(x.blocks))
	for o := range x.blocks {
		offs = append(offs, o)
	}
	slices.Sort(offs)
	var out []cachedRange
	for _, o := range offs {
		b := x.blocks[o]
		b.buf.refs++
		if k := len(out) - 1; k >= 0 && out[k].end() == o {
			out[k].blocks = append(out[k].blocks, b)
			continue
		}
		out = append(out, cachedRange{off: o, blocks: []*cachedBlock{b}})
	}
	return out
}

// written drops the entries a write-back stored, unless newer writes
// replaced them, and wakes writers waiting for room.
func (c *writeCache) written(idx uint64, rs []cachedRange) {
	c.mu.Lock()
	defer c.mu.Unlock()
	x := c.extents[idx]
	if x == nil {
		return
	}
	for _, r := range rs {
		for i, b := range r.blocks {
			o := r.off + int64(i)*blockSize
			if x.blocks[o] == b {
				delete(x.blocks, o)
				c.unref(b)
				c.bytes -= blockSize
			}
		}
	}
	if len(x.blocks) == 0 {
		delete(c.extents, idx)
	} else {
		x.since = time.Now() // newer writes stayed: they count from now
	}
	close(c.freed)
	c.freed = make(chan struct{})
}

// unpin releases the buffers of ranges rs pinned by ranges, once the
// write-back that used them is over, written or not.
func (c *writeCache) unpin(rs []cachedRange) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, r := range rs {
		for _, b := range r.blocks {
			c.unref(b)
		}
	}
}

// drop forgets the cached blocks of extent idx inside [in, in+n): they
// were overwritten by a write that went around the cache.
func (c *writeCache) drop(idx uint64, in, n int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	x := c.extents[idx]
	if x == nil {
		return
	}
	for o := range x.blocks {
		if o >= in && o+blockSize <= in+n {
			c.unref(x.blocks[o])
			delete(x.blocks, o)
			c.bytes -= blockSize
		}
	}
	if len(x.blocks) == 0 {
		delete(c.extents, idx)
	}
	close(c.freed)
	c.freed = make(chan struct{})
}

// has reports whether blocks of extent idx are cached.
func (c *writeCache) has(idx uint64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.extents[idx] != nil
}

// dirty returns the extents with cached blocks, in index order.
func (c *writeCache) dirty() []uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]uint64, 0, len(c.extents))
	for idx := range c.extents {
		out = append(out, idx)
	}
	slices.Sort(out)
	return out
}

// high is the fill above which the write-back runs without waiting for
// age: three quarters of the cache.
func (c *writeCache) high() int64 { return c.max / 4 * 3 }

// due returns up to n extents the write-back loop should store now, busy
// ones left out: with aged, those cached longer than maxAge, oldest
// first; then, while the cache is above its high mark, those with the
// most cached blocks (one patch stores the most of the cache; random
// writes gather more per extent the longer they wait).
func (c *writeCache) due(n int, aged bool, maxAge time.Duration, busy func(uint64) bool) []uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	over := c.bytes >= c.high()
	if n <= 0 || !over && !aged {
		return nil
	}
	// The n best of each kind, kept sorted best first: n is small.
	type cand struct {
		idx   uint64
		since time.Time
		size  int
	}
	var old, dense []cand
	keep := func(cs []cand, x cand, better func(a, b cand) bool) []cand {
		if len(cs) == n && !better(x, cs[n-1]) {
			return cs
		}
		i := len(cs)
		for i > 0 && better(x, cs[i-1]) {
			i--
		}
		if len(cs) < n {
			cs = append(cs, cand{})
		}
		copy(cs[i+1:], cs[i:])
		cs[i] = x
		return cs
	}
	older := func(a, b cand) bool { return a.since.Before(b.since) }
	bigger := func(a, b cand) bool { return a.size > b.size }
	now := time.Now()
	for idx, x := range c.extents {
		if busy(idx) {
			continue
		}
		cd := cand{idx, x.since, len(x.blocks)}
		if aged && now.Sub(x.since) >= maxAge {
			old = keep(old, cd, older)
		} else if over {
			dense = keep(dense, cd, bigger)
		}
	}
	out := make([]uint64, 0, n)
	for _, cs := range [][]cand{old, dense} {
		for _, x := range cs {
			if len(out) == n {
				return out
			}
			out = append(out, x.idx)
		}
	}
	return out
}

// failed notes a failed write-back.
func (c *writeCache) failed(err error) {
	c.mu.Lock()
	c.lastErr = err
	c.mu.Unlock()
}

// fail makes waiting and later writers fail with err.
func (c *writeCache) fail(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.broken == nil {
		c.broken = err
		close(c.freed)
		c.freed = make(chan struct{})
	}
}
