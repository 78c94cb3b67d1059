package volume

import (
	"context"
	"hash/crc32"
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
	pages   sync.Pool // of *blockPage, empty
	mu      sync.Mutex
	extents map[uint64]*cachedExtent
	bytes   int64 // cached bytes
	max     int64 // writers wait above this
	freed   chan struct{}
	wake    chan struct{} // the write-back loop has work (buffered, 1)
	broken  error         // set when cached writes can no longer be written back
	lastErr error         // of the last write-back that failed
	stall   time.Duration // cacheStall, shorter in tests
	// sum makes bufOf compute each block's CRC32C as it copies in a write
	// of at most sumMax bytes, while the data is in the CPU's cache, for a
	// shard store that takes sums (see blockSums): at write-back, long
	// after, the blocks have left the CPU's cache and summing them cost
	// nearly twice the time.
	sum bool
}

// sumMax bounds the writes whose sums bufOf computes: it runs on the NBD
// connection's reader, which takes no next request meanwhile, and a
// large write's sums (a quarter of a millisecond for a MiB) are better
// left to the write-back, which stores several extents at once on
// goroutines of its own.
const sumMax = 64 << 10

// cacheStall is how long a writer waits for room in a full cache before
// its write fails (the write-back keeps failing: too few chunk servers).
const cacheStall = 30 * time.Second

// cacheBuf is the buffer of one cached write, shared by its blocks.
type cacheBuf struct {
	b *[]byte // from writeCache.pool
	// sums holds the CRC32C of each block of b when the cache computes
	// them (writeCache.sum), else nil; one is its array for one block.
	sums []uint32
	one  [1]uint32
	// refs counts the blocks of b in the cache and the pins of write-backs
	// using them (ranges); at zero b goes back to the pool. Under mu.
	refs int
}

func newWriteCache(max int64) *writeCache {
	return &writeCache{
		pages:   sync.Pool{New: func() any { return new(blockPage) }},
		extents: map[uint64]*cachedExtent{},
		max:     max,
		freed:   make(chan struct{}),
		wake:    make(chan struct{}, 1),
		stall:   cacheStall,
	}
}

// resize sets how many bytes the cache takes before writers wait (the
// writer's share of Config.WriteCacheTotal). Growing lets waiting writers
// in; shrinking below what is cached makes the write-back catch up.
func (c *writeCache) resize(max int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if max == c.max {
		return
	}
	if max > c.max {
		close(c.freed)
		c.freed = make(chan struct{})
	}
	c.max = max
	c.kick()
}

// cacheable reports whether a write of n bytes at in (inside an extent)
// may go to the cache: whole blocks only; others are written through.
func cacheable(in, n int64) bool {
	return in%blockSize == 0 && n%blockSize == 0 && n > 0
}

// bufOf copies data into a pooled buffer for the whole piece, its blocks
// cached apart; made before the cache's lock is taken. A buffer that is
// not inserted goes back with unused.
func (c *writeCache) bufOf(data []byte) *cacheBuf {
	cb := &cacheBuf{b: c.pool.Get(len(data))}
	if !c.sum || len(data) > sumMax {
		copy(*cb.b, data)
		return cb
	}
	if n := len(data) / blockSize; n == 1 {
		cb.sums = cb.one[:]
	} else {
		cb.sums = make([]uint32, n)
	}
	// Block by block: each is summed just after it is copied.
	table := crc32.MakeTable(crc32.Castagnoli) // the standard library's, made once
	for b, at := 0, 0; at < len(data); b, at = b+1, at+blockSize {
		blk := (*cb.b)[at : at+blockSize]
		copy(blk, data[at:])
		cb.sums[b] = crc32.Checksum(blk, table)
	}
	return cb
}

// unused gives back a buffer made by bufOf and never inserted.
func (c *writeCache) unused(cb *cacheBuf) {
	if cb.refs == 0 {
		c.pool.Put(cb.b)
	}
}

// unref drops one reference to b's buffer, giving it back to the pool at
// the last; the caller holds mu.
func (c *writeCache) unref(b cachedBlock) {
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
	cb := c.bufOf(data)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.broken != nil || c.bytes > 0 && c.bytes+n > c.max {
		c.unused(cb)
		return false
	}
	c.insertLocked(idx, in, cb, len(data))
	return true
}

// put caches data at in of extent idx, waiting while the cache is full.
func (c *writeCache) put(ctx context.Context, idx uint64, in int64, data []byte) error {
	n := int64(len(data))
	cb := c.bufOf(data)
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
			c.unused(cb)
			return errs.E("volume.write", errs.Unavailable, "the write cache is full and writing it back fails", c.lastErr)
		case <-ctx.Done():
			c.unused(cb)
			return errs.E("volume.write", errs.Canceled, ctx.Err())
		}
		c.mu.Lock()
	}
	defer c.mu.Unlock()
	if c.broken != nil {
		c.unused(cb)
		return c.broken
	}
	c.insertLocked(idx, in, cb, len(data))
	return nil
}

// insertLocked caches the n bytes of cb at in of extent idx; the caller
// holds mu.
func (c *writeCache) insertLocked(idx uint64, in int64, cb *cacheBuf, n int) {
	x := c.extents[idx]
	if x == nil {
		x = &cachedExtent{since: time.Now()}
		c.extents[idx] = x
	}
	for at := 0; at < n; at += blockSize {
		if old := x.set(in+int64(at), cachedBlock{buf: cb, at: at}, &c.pages); old.buf != nil {
			c.unref(old)
		} else {
			c.bytes += blockSize
		}
		cb.refs++
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
	x.each(in&^(blockSize-1), in+int64(len(p)), func(o int64, b *cachedBlock) {
		copyBlock(p, in, o, b.data())
	})
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
	blocks []cachedBlock
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
		ed := edit{
			in:   r.off + int64(start)*blockSize,
			l:    int64(n),
			data: (*first.buf.b)[first.at : first.at+n : first.at+n],
		}
		if s := first.buf.sums; s != nil {
			b := first.at / blockSize
			ed.sums = s[b : b+n/blockSize : b+n/blockSize]
		}
		es = append(es, ed)
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
	// The runs share one array, in order: a run grows within it.
	all := make([]cachedBlock, 0, x.n)
	var out []cachedRange
	x.each(0, 1<<62, func(o int64, b *cachedBlock) {
		b.buf.refs++
		all = append(all, *b)
		if k := len(out) - 1; k >= 0 && out[k].end() == o {
			out[k].blocks = out[k].blocks[:len(out[k].blocks)+1]
			return
		}
		out = append(out, cachedRange{off: o, blocks: all[len(all)-1:]})
	})
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
			if s := x.slot(o); s != nil && *s == b {
				x.clear(o)
				c.unref(b)
				c.bytes -= blockSize
			}
		}
	}
	x.trim(&c.pages)
	if x.n == 0 {
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
	x.each(in, in+n, func(o int64, b *cachedBlock) {
		if o+blockSize <= in+n {
			c.unref(*b)
			x.clear(o)
			c.bytes -= blockSize
		}
	})
	x.trim(&c.pages)
	if x.n == 0 {
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
		cd := cand{idx, x.since, x.n}
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
