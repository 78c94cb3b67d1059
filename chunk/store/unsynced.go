package store

import "sync"

// unsyncedRecs holds the records of unsynced Patches (PatchNoSync,
// PatchRangesNoSync). Such a patch is committed in memory only: reads and
// later patches see its record here, and the index gets it with the next
// synced commit, after that commit's disk sync. So the index never names
// a block that might not be on the disk: a crash before the sync leaves
// the chunk as the index had it (its old blocks, kept from reuse until
// the sync), and the patch needs neither a disk sync nor an index write
// of its own.
//
// The committer is the only writer; readers take mu.
type unsyncedRecs struct {
	mu sync.Mutex
	m  map[string]*record
}

func (u *unsyncedRecs) get(id string) (*record, bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	r, ok := u.m[id]
	return r, ok
}

func (u *unsyncedRecs) set(id string, r *record) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.m == nil {
		u.m = map[string]*record{}
	}
	u.m[id] = r
}

// clear forgets every record: they are in the index now.
func (u *unsyncedRecs) clear() {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.m = nil
}

// each calls fn for every record; committer only (no lock: it is the
// only writer).
func (u *unsyncedRecs) each(fn func(id string, r *record)) {
	for id, r := range u.m {
		fn(id, r)
	}
}
