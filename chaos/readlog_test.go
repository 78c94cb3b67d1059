package chaos

import (
	"context"
	"slices"
	"sync"

	"github.com/wolke-cloud/wolke/chunk/disk"
)

// readLog wraps a disk and, while on, notes the offset of every read: a
// test learns where a server keeps the chunks a workload reads.
type readLog struct {
	disk.Disk
	mu   sync.Mutex
	on   bool
	offs []int64
}

func (r *readLog) ReadAt(ctx context.Context, p []byte, off int64) error {
	r.mu.Lock()
	if r.on {
		r.offs = append(r.offs, off)
	}
	r.mu.Unlock()
	return r.Disk.ReadAt(ctx, p, off)
}

// record turns noting on or off.
func (r *readLog) record(on bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.on = on
}

// densest returns the start of the window of n bytes, aligned to align,
// that holds the most noted reads (ok false when none was noted).
func (r *readLog) densest(n, align int64) (start int64, ok bool) {
	r.mu.Lock()
	offs := slices.Clone(r.offs)
	r.mu.Unlock()
	slices.Sort(offs)
	best := 0
	for i, j := 0, 0; i < len(offs); i++ {
		for j < len(offs) && offs[j] < offs[i]+n {
			j++
		}
		if j-i > best {
			best, start = j-i, offs[i]/align*align
		}
	}
	return start, best > 0
}
