package store

import "sync"

// recCacheMax bounds the records a store keeps in memory; recCacheBlocks
// is the largest chunk (in blocks) whose record is kept: the small,
// often patched chunks of volumes, not whole objects.
const (
	recCacheMax    = 8192
	recCacheBlocks = 256
)

// recCache keeps index records of small chunks in memory, so that
// patches and ranged reads of volume extents skip the index lookup. The
// committer updates it after every commit; a reader that missed fills it
// only if no commit happened since it began (ver).
type recCache struct {
	mu  sync.Mutex
	ver uint64
	m   map[string]*record
}

func (c *recCache) get(id string) (*record, uint64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok := c.m[id]
	return r, c.ver, ok
}

// fill stores what a reader found in the index, unless a commit changed
// the cache since get returned ver.
func (c *recCache) fill(id string, r *record, ver uint64) {
	if len(r.blocks) > recCacheBlocks {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ver != ver {
		return
	}
	c.add(id, r)
}

func (c *recCache) add(id string, r *record) {
	if c.m == nil {
		c.m = map[string]*record{}
	}
	if _, ok := c.m[id]; !ok && len(c.m) >= recCacheMax {
		for k := range c.m {
			delete(c.m, k)
			break
		}
	}
	c.m[id] = r
}

// committed notes a commit: rec is id's new record, nil when deleted;
// patched records are kept even if id was not cached.
func (c *recCache) committed(id string, rec *record, patched bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ver++
	if rec == nil || len(rec.blocks) > recCacheBlocks {
		delete(c.m, id)
		return
	}
	if _, ok := c.m[id]; ok || patched {
		c.add(id, rec)
	}
}

// reset empties the cache (the index may be ahead of it).
func (c *recCache) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ver++
	c.m = nil
}

// lookupCached is lookup through the cache.
func (s *Store) lookupCached(id string) (*record, error) {
	r, ver, ok := s.recs.get(id)
	if ok {
		return r, nil
	}
	r, err := s.lookup(id)
	if err == nil {
		s.recs.fill(id, r, ver)
	}
	return r, err
}
