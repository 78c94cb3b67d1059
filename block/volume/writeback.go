package volume

import (
	"context"
	"hash/crc32"
	"slices"
	"sync"
	"time"

	"github.com/wolke-cloud/wolke/internal/errs"
)

// edit is one change to an extent: l bytes at in become data (nil:
// zeroes). sums, if not nil, holds the CRC32C of each 4 KiB block of data
// (known from the write cache).
type edit struct {
	in, l int64
	data  []byte
	sums  []uint32
}

// knownSums returns the block CRC32Cs of buf, the new content of an
// extent made of edits, when edits bring sums (from the write cache): the
// blocks they cover take theirs, the others are computed. Nil when none
// does.
func knownSums(buf []byte, edits []edit) []uint32 {
	if !slices.ContainsFunc(edits, func(e edit) bool { return e.sums != nil }) || len(buf)%blockSize != 0 {
		return nil
	}
	sums := make([]uint32, len(buf)/blockSize)
	known := make([]bool, len(sums))
	for _, e := range edits {
		b := int(e.in / blockSize)
		for i := b; i < b+int((e.l+blockSize-1)/blockSize) && i < len(sums); i++ {
			known[i] = e.sums != nil && e.in%blockSize == 0 && e.l%blockSize == 0
			if known[i] {
				sums[i] = e.sums[i-b]
			}
		}
	}
	table := crc32.MakeTable(crc32.Castagnoli) // the standard library's, made once
	for i, ok := range known {
		if !ok {
			sums[i] = crc32.Checksum(buf[i*blockSize:(i+1)*blockSize], table)
		}
	}
	return sums
}

// maxDirtyAge is how long a cached write waits at most before the
// write-back loop stores it (librbd's default too).
const maxDirtyAge = time.Second

// writeBackParallel bounds the extents the write-back loop, and a FLUSH,
// store at once.
const writeBackParallel = 16

// refillAt is how many of the writeBackParallel slots must be free before
// the write-back loop picks more extents, but for writes that waited too
// long.
const refillAt = writeBackParallel / 4

// writeBackLoop stores cached writes until Close: the extents due (see
// writeCache.due), up to writeBackParallel at a time, the next one chosen
// each time one is done.
func (v *Volume) writeBackLoop() {
	defer close(v.wbDone)
	t := time.NewTicker(maxDirtyAge / 4)
	defer t.Stop()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-v.stop
		cancel()
	}()
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		inFlight = map[uint64]bool{}
	)
	defer wg.Wait()
	busy := func(idx uint64) bool { return inFlight[idx] } // called with mu held
	for {
		aged := false // writes waiting too long are looked for on the tick
		select {
		case <-v.stop:
			return
		case <-v.cache.wake:
		case <-t.C:
			aged = true
		}
		mu.Lock()
		free := writeBackParallel - len(inFlight)
		if !aged && free < refillAt {
			// Looking for the best extents scans the whole cache: wait
			// until a few slots are free rather than scan for each one.
			mu.Unlock()
			continue
		}
		idxs := v.cache.due(free, aged, maxDirtyAge, busy)
		for _, idx := range idxs {
			inFlight[idx] = true
		}
		mu.Unlock()
		for _, idx := range idxs {
			v.workers.Go(&wg, func() {
				err := v.writeBackExtent(ctx, idx)
				if err != nil && ctx.Err() == nil {
					v.s.log.Warn("volume write-back failed", "volume", v.spec.id, "extent", idx, "err", err)
					select { // not in a tight loop; the next FLUSH reports it
					case <-v.stop:
					case <-time.After(100 * time.Millisecond):
					}
				}
				mu.Lock()
				delete(inFlight, idx)
				mu.Unlock()
				v.cache.poke() // a slot is free
			})
		}
	}
}

// writeBackExtent stores the cached writes of extent idx.
func (v *Volume) writeBackExtent(ctx context.Context, idx uint64) error {
	xl := v.lock(idx)
	xl.Lock()
	defer xl.Unlock()
	err := v.writeBackLocked(ctx, idx)
	if err != nil {
		v.cache.failed(err)
		if v.lost.Load() {
			v.cache.fail(errs.E("volume.write", errs.Precondition, "writer lease lost"))
		}
	}
	return err
}

// writeBack stores the cached writes of the extents idxs.
func (v *Volume) writeBack(ctx context.Context, idxs []uint64) error {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	sem := make(chan struct{}, writeBackParallel)
	for _, idx := range idxs {
		sem <- struct{}{}
		v.workers.Go(&wg, func() {
			defer func() { <-sem }()
			if err := v.writeBackExtent(ctx, idx); err != nil {
				mu.Lock()
				if first == nil {
					first = err
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return first
}

// writeBackLocked stores the cached writes of extent idx, in one patch of
// each replica or one copy on write; the caller holds the extent's lock.
func (v *Volume) writeBackLocked(ctx context.Context, idx uint64) error {
	if v.cache == nil {
		return nil
	}
	rs := v.cache.ranges(idx)
	if len(rs) == 0 {
		return nil
	}
	defer v.cache.unpin(rs) // after written: nothing holds the data any more
	edits := make([]edit, 0, len(rs))
	for _, r := range rs {
		edits = r.appendEdits(edits)
	}
	if err := v.applyLocked(ctx, idx, edits, false); err != nil {
		return err
	}
	v.cache.written(idx, rs)
	return nil
}

// applyLocked makes edits to extent idx: in place on every replica when
// the handle may, else by copy on write (with mayFree an extent that ends
// up all zeroes is deallocated). The caller holds the extent's lock.
func (v *Volume) applyLocked(ctx context.Context, idx uint64, edits []edit, mayFree bool) error {
	tries := 2 // a commit whose answer was lost moved the extent
	if v.spec.multi {
		tries = 4 // other writers move extents too
	}
	if v.inPlace() {
		if err := v.reconcile(ctx, idx); err != nil {
			return err
		}
		done, err := v.tryInPlace(ctx, idx, edits)
		if done || err != nil {
			return err
		}
	}
	for attempt := 1; ; attempt++ {
		err := v.writeLocked(ctx, idx, edits, mayFree)
		if !errs.Is(err, errs.Precondition) || attempt >= tries {
			if err != nil {
				v.forget(idx)
			}
			if errs.Is(err, errs.Precondition) && !v.spec.multi {
				v.lost.Store(true)
			}
			return err
		}
		if err := v.load(ctx); err != nil {
			v.forget(idx)
			return err
		}
	}
}
