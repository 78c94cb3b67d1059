package volume

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wolke-cloud/wolke/block/nbd"
	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/meta/metapb"
)

// stripes is how many locks guard the extents of one open volume.
const stripes = 1024

// parallelPieces bounds the extents one request reads or writes at once.
const parallelPieces = 8

// maxStatusExtents bounds one BlockStatus answer.
const maxStatusExtents = 1024

type volumeSpec struct {
	id       string
	snapshot bool
	size     int64
	extent   int64
	readOnly bool
	multi    bool
	coded    bool // extents written whole are erasure coded (CodedType)
}

// Volume is one open volume or snapshot: an nbd.Export.
type Volume struct {
	s      *Service
	spec   volumeSpec
	holder string // writer lease holder; "" when not holding one

	locks [stripes]sync.RWMutex // by extent index: writers of an extent exclude each other and readers

	mu      sync.Mutex
	extents map[uint64]*metapb.Extent
	xs      map[uint64]*xstate // by extent index; reset by load
	seq     uint64             // the volume's snapshot sequence last seen
	loaded  time.Time          // when extents was read from meta

	cmu        sync.Mutex // guards snapValid
	snapValid  time.Time  // seq is trusted until then (see snapshotTrust)
	snapChecks rounds     // checkOnce, shared by the writes waiting for it
	flushes    rounds     // flushOnce, shared by concurrent FLUSHes

	workers *workers // run the patches and write-backs a volume fans out

	dirty dirtySet    // unsynced in-place writes since the last Flush
	cache *writeCache // plain writes not yet written back; nil: writes go through

	lost      atomic.Bool  // the writer lease was lost: writes fail
	leaseEnd  atomic.Int64 // unix nanos: the lease is surely held until then
	stop      chan struct{}
	renewDone chan struct{}
	healDone  chan struct{} // healLoop ended (replicas.go)
	wbDone    chan struct{} // writeBackLoop ended (writeback.go)
	closeOnce sync.Once
}

var _ nbd.Export = (*Volume)(nil)

func (s *Service) openVolume(ctx context.Context, spec volumeSpec) (*Volume, error) {
	const op = "volume.Open"
	if spec.extent <= 0 || spec.size <= 0 {
		return nil, errs.Errorf(op, errs.Internal, "%s: size %d extent %d", spec.id, spec.size, spec.extent)
	}
	v := &Volume{s: s, spec: spec, stop: make(chan struct{})}
	v.workers = newWorkers(v.stop)
	v.snapChecks.run = v.checkOnce
	v.flushes.run = func() error { return v.flushOnce(context.Background()) }
	if !spec.readOnly {
		v.holder = newHolder()
		asked := time.Now()
		resp, err := s.meta.AttachVolume(ctx, &metapb.AttachVolumeRequest{
			Id: spec.id, Holder: v.holder, TtlNanos: int64(s.cfg.LeaseTTL),
		})
		if err != nil {
			return nil, errs.E(op, errs.Other, err)
		}
		v.seq = resp.GetVolume().GetSnapshotSeq()
		v.snapValid = asked.Add(snapshotTrust)
		v.leaseEnd.Store(asked.Add(s.cfg.LeaseTTL).UnixNano())
	}
	if err := v.load(ctx); err != nil {
		v.detach()
		return nil, err
	}
	if !spec.readOnly {
		v.renewDone = make(chan struct{})
		go v.renew()
		if v.inPlace() {
			v.healDone = make(chan struct{})
			go v.healLoop()
			if s.cfg.WriteCache > 0 {
				v.cache = newWriteCache(s.cfg.WriteCache)
				sp, ok := s.shards.(summedPatcher)
				v.cache.sum = ok && sp.AnyLocal()
				v.wbDone = make(chan struct{})
				go v.writeBackLoop()
				s.setCached(spec.id, v)
			}
		}
	}
	return v, nil
}

func newHolder() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "nbd-" + hex.EncodeToString(b[:])
}

// load reads the extent map from meta, page by page.
func (v *Volume) load(ctx context.Context) error {
	m := map[uint64]*metapb.Extent{}
	xs := map[uint64]*xstate{}
	for next := uint64(0); ; {
		req := &metapb.ListExtentsRequest{VolumeId: v.spec.id, StartIndex: next}
		if v.spec.snapshot {
			req = &metapb.ListExtentsRequest{SnapshotId: v.spec.id, StartIndex: next}
		}
		resp, err := v.s.meta.ListExtents(ctx, req)
		if err != nil {
			return errs.E("volume.load", errs.Other, err)
		}
		for _, e := range resp.Extents {
			m[e.Index] = e
		}
		for _, idx := range resp.Shared {
			st := &xstate{}
			st.shared.Store(true)
			xs[idx] = st
		}
		if !resp.Truncated {
			break
		}
		next = resp.NextIndex
	}
	v.mu.Lock()
	// What the handle knows of a chunk's generation stays valid while the
	// extent keeps its chunk.
	for idx, e := range m {
		if old, st := v.extents[idx], v.xs[idx]; old != nil && st != nil && old.ChunkId == e.ChunkId {
			if xs[idx] != nil {
				st.shared.Store(true)
			}
			xs[idx] = st
		}
	}
	v.extents, v.xs, v.loaded = m, xs, time.Now()
	v.mu.Unlock()
	return nil
}

// follows reports whether others may change the extent map under this
// handle: a reader of a volume, or a multi-attach writer.
func (v *Volume) follows() bool {
	return !v.spec.snapshot && (v.holder == "" || v.spec.multi)
}

// refresh reloads the extent map of a following handle once it is older
// than Config.ReaderRefresh.
func (v *Volume) refresh(ctx context.Context) error {
	if !v.follows() {
		return nil
	}
	v.mu.Lock()
	stale := time.Since(v.loaded) > v.s.cfg.ReaderRefresh
	v.mu.Unlock()
	if !stale {
		return nil
	}
	return v.load(ctx)
}

// renew keeps the writer lease until Close.
func (v *Volume) renew() {
	defer close(v.renewDone)
	ttl := v.s.cfg.LeaseTTL
	t := time.NewTicker(ttl / 3)
	defer t.Stop()
	for {
		select {
		case <-v.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), ttl/3)
		asked := time.Now()
		resp, err := v.s.meta.AttachVolume(ctx, &metapb.AttachVolumeRequest{Id: v.spec.id, Holder: v.holder, TtlNanos: int64(ttl)})
		cancel()
		if errs.Is(err, errs.Precondition) || errs.Is(err, errs.NotFound) {
			v.lost.Store(true)
			v.s.log.Warn("volume writer lease lost", "volume", v.spec.id, "err", err)
			return
		}
		if err != nil {
			v.s.log.Warn("volume lease renewal failed", "volume", v.spec.id, "err", err)
			continue
		}
		v.leaseEnd.Store(asked.Add(ttl).UnixNano())
		v.noteSnapshotSeq(resp.GetVolume().GetSnapshotSeq())
		v.trustSnapshotsFrom(asked)
	}
}

func (v *Volume) detach() {
	if v.holder == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := v.s.meta.DetachVolume(ctx, &metapb.DetachVolumeRequest{Id: v.spec.id, Holder: v.holder}); err != nil {
		v.s.log.Warn("volume detach failed", "volume", v.spec.id, "err", err)
	}
}

// Size is the volume's size when it was opened.
func (v *Volume) Size() int64 { return v.spec.size }

// Close makes the writes stable (best effort: a client that cares sends
// FLUSH) and releases the writer lease.
func (v *Volume) Close() error {
	v.closeOnce.Do(func() {
		if v.holder != "" && !v.spec.snapshot {
			defer v.s.closeStarted(v.spec.id)()
		}
		if v.cache != nil {
			v.s.setCached(v.spec.id, nil)
		}
		if v.holder != "" {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			if err := v.Flush(ctx); err != nil {
				v.s.log.Warn("volume flush at close failed", "volume", v.spec.id, "err", err)
			}
			cancel()
		}
		close(v.stop)
		if v.renewDone != nil {
			<-v.renewDone
		}
		if v.healDone != nil {
			<-v.healDone
		}
		if v.wbDone != nil {
			<-v.wbDone
		}
		v.detach()
	})
	return nil
}

func (v *Volume) lock(idx uint64) *sync.RWMutex { return &v.locks[idx%stripes] }

func (v *Volume) extent(idx uint64) *metapb.Extent {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.extents[idx]
}

func (v *Volume) setExtent(idx uint64, e *metapb.Extent) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if e == nil {
		delete(v.extents, idx)
		delete(v.xs, idx)
		return
	}
	v.extents[idx] = e
	// A new chunk, at generation 0 on every replica, held by this map only.
	v.xs[idx] = &xstate{set: true, agreed: true}
}

// pieces calls fn for every extent piece of [off, off+n): the extent
// index, the offset inside the extent, the offset inside the range and
// the length. Pieces run concurrently, at most parallelPieces at once;
// the first error is returned after all have finished.
func (v *Volume) pieces(off, n int64, fn func(idx uint64, in, at, l int64) error) error {
	x := v.spec.extent
	if off%x+n <= x {
		return fn(uint64(off/x), off%x, 0, n)
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	sem := make(chan struct{}, parallelPieces)
	for at := int64(0); at < n; {
		pos := off + at
		idx, in := uint64(pos/x), pos%x
		l := min(x-in, n-at)
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := fn(idx, in, pos-off, l); err != nil {
				mu.Lock()
				if first == nil {
					first = err
				}
				mu.Unlock()
			}
		})
		at += l
	}
	wg.Wait()
	return first
}

// WriteAt writes p. Whole blocks of a single writer go to the write
// cache (cache.go); other writes are on every replica when it returns (in
// place: in their stores but not necessarily stable). With fua the write,
// and every one before it, is stable on return.
func (v *Volume) WriteAt(ctx context.Context, p []byte, off int64, fua bool) error {
	err := v.pieces(off, int64(len(p)), func(idx uint64, in, at, l int64) error {
		if v.cache != nil && cacheable(in, l) {
			if err := v.writable(); err != nil {
				return err
			}
			return v.cache.put(ctx, idx, in, p[at:at+l])
		}
		return v.writePiece(ctx, idx, in, l, p[at:at+l], false)
	})
	if err == nil && fua {
		err = v.Flush(ctx)
	}
	v.s.count("write", err)
	if err == nil {
		v.s.bytes.WithLabelValues("write").Add(float64(len(p)))
	}
	return err
}

// TryWriteAt is WriteAt without FUA for a write the cache takes at once:
// whole blocks inside one extent, while the cache has room. For any other
// write it does nothing and reports false (the NBD server then calls
// WriteAt, which waits for room or writes through).
func (v *Volume) TryWriteAt(p []byte, off int64) bool {
	x, n := v.spec.extent, int64(len(p))
	if v.cache == nil || off%x+n > x || !cacheable(off%x, n) || v.writable() != nil {
		return false
	}
	if !v.cache.tryPut(uint64(off/x), off%x, p) {
		return false
	}
	v.s.count("write", nil)
	v.s.bytes.WithLabelValues("write").Add(float64(n))
	return true
}

// Trim deallocates the range; it reads as zeroes afterwards.
func (v *Volume) Trim(ctx context.Context, off, n int64) error {
	err := v.zero(ctx, off, n, false)
	v.s.count("trim", err)
	return err
}

// Zero makes the range read as zeroes; whole extents are deallocated
// unless noHole.
func (v *Volume) Zero(ctx context.Context, off, n int64, noHole bool) error {
	err := v.zero(ctx, off, n, noHole)
	v.s.count("zero", err)
	return err
}

func (v *Volume) zero(ctx context.Context, off, n int64, noHole bool) error {
	return v.pieces(off, n, func(idx uint64, in, _, l int64) error {
		return v.writePiece(ctx, idx, in, l, nil, !noHole)
	})
}

// writePiece changes [in, in+l) of extent idx to data (nil: zeroes). With
// mayFree an extent that ends up all zeroes is deallocated.
// Cached writes of the extent are written back first, so that the write
// lands after them.
func (v *Volume) writePiece(ctx context.Context, idx uint64, in, l int64, data []byte, mayFree bool) error {
	if err := v.writable(); err != nil {
		return err
	}
	mu := v.lock(idx)
	mu.Lock()
	defer mu.Unlock()
	if v.cache != nil {
		v.cache.drop(idx, in, l) // overwritten by this write
	}
	if err := v.writeBackLocked(ctx, idx); err != nil {
		return err
	}
	return v.applyLocked(ctx, idx, []edit{{in: in, l: l, data: data}}, mayFree)
}

// writable fails writes to a read-only handle or after the lease was lost.
func (v *Volume) writable() error {
	const op = "volume.write"
	if v.spec.readOnly {
		return errs.Errorf(op, errs.Permission, "%s is read-only", v.spec.id)
	}
	if v.lost.Load() {
		return errs.E(op, errs.Precondition, "writer lease lost")
	}
	return nil
}

// writeLocked makes edits to extent idx by copy on write: a new chunk
// with the edits applied, committed in meta in place of the current one.
// No edits copies the extent as it is.
func (v *Volume) writeLocked(ctx context.Context, idx uint64, edits []edit, mayFree bool) error {
	const op = "volume.write"
	x := v.spec.extent
	cur := v.extent(idx)
	covered, zeroes := int64(0), true
	for _, e := range edits {
		covered += e.l
		zeroes = zeroes && e.data == nil
	}
	if cur == nil && zeroes {
		return nil // zeroing (or copying) a hole
	}
	var buf []byte
	switch {
	case len(edits) == 1 && edits[0].data != nil && edits[0].l == x:
		buf = edits[0].data // the write replaces the extent: stored as it is
	default:
		buf = make([]byte, x)
		if cur != nil && covered < x {
			if _, err := v.readReplicas(ctx, cur, 0, buf, v.accept(idx)); err != nil {
				return err
			}
		}
		for _, e := range edits {
			if e.data != nil {
				copy(buf[e.in:], e.data)
			} else {
				clear(buf[e.in : e.in+e.l])
			}
		}
	}
	var next *metapb.Extent
	if !mayFree || !allZero(buf) {
		chunk := v.spec.id + "." + hex64(idx) + "." + newChunkSuffix()
		// Coded when a coded type's extent is written whole (edits never
		// overlap), or copied from a coded chunk as it is.
		code := v.spec.coded && covered == x || len(edits) == 0 && cur != nil && cur.DataShards > 0
		var sums []uint32 // replicas take them; a coded extent's shards have their own
		if !code {
			sums = knownSums(buf, edits)
		}
		var err error
		if next, err = v.s.store(ctx, chunk, buf, sums, code); err != nil {
			return err
		}
		next.Index = idx
	}
	old := ""
	if cur != nil {
		old = cur.ChunkId
	}
	_, err := v.s.meta.CommitExtent(ctx, &metapb.CommitExtentRequest{
		VolumeId: v.spec.id, Holder: v.holder, Index: idx, OldChunkId: old, Extent: next,
	})
	if err != nil {
		if next != nil {
			// Not committed (or unknown): the new chunk is not referenced;
			// if the commit did happen after all, the next write of the
			// extent fails its compare-and-set and reloads.
			if errs.Is(err, errs.Precondition) || errs.Is(err, errs.Invalid) || errs.Is(err, errs.NotFound) {
				v.s.place.remove(context.WithoutCancel(ctx), next.ChunkId, next.Disks)
			}
		}
		return errs.E(op, errs.Other, err)
	}
	v.setExtent(idx, next)
	return nil
}
