package volume

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/meta/metapb"
)

// blockSize is the chunk servers' block: in-place writes cover whole blocks.
const blockSize = 4096

// xstate is what an open handle knows about the chunk of one extent
// beyond meta's map: the chunk's generation (each in-place write bumps it
// on every replica) and whether the chunk may be shared with a snapshot.
type xstate struct {
	// set: gen is the generation served as current. A writer accepts
	// replies from replicas at exactly gen; a follower at gen or later.
	set bool
	gen uint64
	// agreed: every replica was seen at gen (a writer's precondition for
	// writing in place).
	agreed bool
	// shared: another map may hold the chunk (a snapshot, or the
	// volume's origin): the next write copies it. Set under Volume.mu
	// without the extent's lock, hence atomic; the other fields change
	// only under the extent's lock held exclusively.
	shared atomic.Bool
	// loose: an in-place write to gen+1 failed on some replica; until the
	// extent is copied, replicas at gen and gen+1 are both read.
	loose bool
}

// inPlace reports whether this handle writes in place: the single writer
// of a volume. Multi-attach writers copy on write, as several writers
// would race on a chunk's generation.
func (v *Volume) inPlace() bool {
	return v.holder != "" && !v.spec.multi && !v.spec.snapshot
}

// state returns the extent's state, making an empty one if needed; the
// caller holds the extent's lock.
func (v *Volume) state(idx uint64) *xstate {
	v.mu.Lock()
	defer v.mu.Unlock()
	st := v.xs[idx]
	if st == nil {
		st = &xstate{}
		v.xs[idx] = st
	}
	return st
}

// accept returns the test a replica's generation must pass for the
// extent's reads, and, for a follower, notes a newer generation.
func (v *Volume) accept(idx uint64) func(uint64) bool {
	st := v.state(idx)
	if v.inPlace() {
		gen, set, loose := st.gen, st.set, st.loose
		return func(g uint64) bool { return !set || g == gen || loose && g == gen+1 }
	}
	return func(g uint64) bool {
		v.mu.Lock()
		defer v.mu.Unlock()
		if g < st.gen {
			return false
		}
		st.gen = g
		return true
	}
}

// reconcile learns the generation of the extent's chunk from every
// replica, on the writer's first touch of the extent. If the replicas
// disagree (a writer crashed between replica writes: that write was never
// acknowledged) or one cannot be asked, the highest generation reachable
// becomes current and the extent moves to a new chunk copied from it, so
// a lagging replica is never served again. The caller holds the extent's
// lock exclusively.
func (v *Volume) reconcile(ctx context.Context, idx uint64) error {
	e, st := v.extent(idx), v.state(idx)
	if e == nil || st.set {
		return nil
	}
	if e.DataShards > 0 {
		st.set, st.gen, st.agreed = true, 0, true // never patched
		return nil
	}
	gens := make([]uint64, len(e.Disks))
	errl := make([]error, len(e.Disks))
	var wg sync.WaitGroup
	for i, d := range e.Disks {
		wg.Go(func() { gens[i], errl[i] = v.s.shards.ShardGen(ctx, d, e.ChunkId) })
	}
	wg.Wait()
	best, ok, agreed := uint64(0), false, true
	for i := range gens {
		if errl[i] != nil {
			agreed = false
			continue
		}
		if ok && gens[i] != best {
			agreed = false
		}
		if !ok || gens[i] > best {
			best, ok = gens[i], true
		}
	}
	if !ok {
		return errs.E("volume.reconcile", errs.Unavailable, errl[0])
	}
	st.set, st.gen, st.agreed = true, best, agreed
	if agreed {
		return nil
	}
	v.s.log.Warn("volume extent replicas disagree, copying the extent", "volume", v.spec.id, "chunk", e.ChunkId, "gen", best)
	err := v.writeLocked(ctx, idx, nil, false)
	if err != nil {
		st.set = false
	}
	return err
}

// maxPatchRanges bounds the ranges of one patch (the chunk servers take
// up to 1024); an extent written back in more pieces is copied on write.
const maxPatchRanges = 512

// tryInPlace makes edits to extent idx in place on every replica if the
// handle may, as one patch of each replica: done reports whether it did.
// When it did not, the caller copies the extent on write.
func (v *Volume) tryInPlace(ctx context.Context, idx uint64, edits []edit) (done bool, err error) {
	e := v.extent(idx)
	if !v.inPlace() || e == nil || e.DataShards > 0 || len(edits) == 0 || len(edits) > maxPatchRanges || v.codesWhole(edits) {
		return false, nil
	}
	for _, ed := range edits {
		if ed.data == nil {
			return false, nil
		}
	}
	if v.state(idx).shared.Load() {
		return false, nil
	}
	// In-place writes bypass meta's fencing: only while the lease is
	// surely ours (a third of it to spare); else the commit in meta fences.
	if time.Now().Add(v.s.cfg.LeaseTTL/3).UnixNano() > v.leaseEnd.Load() {
		return false, nil
	}
	// A snapshot taken before this write arrived makes the chunk shared.
	if err := v.checkSnapshots(ctx); err != nil {
		return false, err
	}
	if err := v.reconcile(ctx, idx); err != nil {
		return false, err
	}
	if e = v.extent(idx); e == nil {
		return false, nil
	}
	st := v.state(idx)
	if st.shared.Load() || !st.agreed {
		return false, nil
	}
	if len(edits) == 1 {
		if edits, err = v.alignEdit(ctx, idx, e, edits[0]); err != nil {
			return false, err
		}
	}
	gen := st.gen
	sums := v.blockSums(ctx, e.Disks, edits)
	errl := make([]error, len(e.Disks))
	var wg sync.WaitGroup
	// Patches still on their way when the lease may be over are abandoned.
	pctx, cancel := context.WithDeadline(ctx, time.Unix(0, v.leaseEnd.Load()))
	defer cancel()
	epochs := make([]uint64, len(e.Disks))
	for i, d := range e.Disks {
		v.workers.Go(&wg, func() {
			g, ep, err := v.patch(pctx, d, e.ChunkId, edits, sums, gen)
			if err == nil && g != gen+1 {
				err = errs.Errorf("volume.write", errs.Internal, "chunk %s on %s went to generation %d, want %d", e.ChunkId, d, g, gen+1)
			}
			errl[i], epochs[i] = err, ep
		})
	}
	wg.Wait()
	for i, d := range e.Disks {
		if errl[i] == nil {
			v.dirty.note(d, epochs[i], idx)
		}
	}
	for i, err := range errl {
		if err == nil {
			continue
		}
		// Some replicas may hold the write, others not: no replica is
		// trusted until the extent moves to a new chunk (the caller's copy
		// on write, which reads any replica at gen or gen+1: they differ
		// only where this write goes).
		v.s.log.Warn("volume in-place write failed, copying the extent", "volume", v.spec.id, "chunk", e.ChunkId, "disk", e.Disks[i], "err", err)
		st.agreed, st.loose = false, true
		if ctx.Err() != nil {
			v.forget(idx)
			return false, errs.E("volume.write", errs.Canceled, err)
		}
		return false, nil
	}
	st.gen = gen + 1
	return true, nil
}

// alignEdit widens an edit to whole blocks, reading the blocks it covers
// in part from the replicas.
func (v *Volume) alignEdit(ctx context.Context, idx uint64, e *metapb.Extent, ed edit) ([]edit, error) {
	a, b := ed.in&^(blockSize-1), (ed.in+ed.l+blockSize-1)&^(blockSize-1)
	if a == ed.in && b == ed.in+ed.l {
		return []edit{ed}, nil
	}
	buf := make([]byte, b-a)
	if _, err := v.readReplicas(ctx, e, a, buf, v.accept(idx)); err != nil {
		return nil, err
	}
	copy(buf[ed.in-a:], ed.data)
	return []edit{{in: a, l: b - a, data: buf}}, nil
}

// summedPatcher is a shard store that takes a patch's block CRC32Cs from
// the caller, computed once for every replica (chunkclient.Client, which
// hands them to chunk servers in this process).
type summedPatcher interface {
	PatchShardRangesSummedNoSync(ctx context.Context, diskID, chunkID string, offs []int64, data [][]byte, sums [][]uint32, base uint64) (gen, epoch uint64, err error)
	// Local reports whether the disk's server takes the sums (runs in
	// this process); remote servers compute their own.
	Local(ctx context.Context, diskID string) bool
	// AnyLocal reports whether any disk's server may (Local may be true).
	AnyLocal() bool
}

// blockSums returns the CRC32C of each 4 KiB block of each edit when the
// shard store takes them for at least one of disks (nil otherwise): the
// replicas' stores in this process then skip computing them again.
func (v *Volume) blockSums(ctx context.Context, disks []string, edits []edit) [][]uint32 {
	sp, ok := v.s.shards.(summedPatcher)
	if !ok || !slices.ContainsFunc(disks, func(d string) bool { return sp.Local(ctx, d) }) {
		return nil
	}
	sums := make([][]uint32, len(edits))
	for i, ed := range edits {
		if sums[i] = ed.sums; sums[i] == nil {
			sums[i] = crcBlocks(ed.data)
		}
	}
	return sums
}

// patch writes whole-block edits to one replica unsynced, as one patch
// from generation gen; sums are blockSums(edits).
func (v *Volume) patch(ctx context.Context, disk, chunk string, edits []edit, sums [][]uint32, gen uint64) (uint64, uint64, error) {
	sp, summed := v.s.shards.(summedPatcher)
	if len(edits) == 1 && (!summed || sums == nil) {
		return v.s.shards.PatchShardNoSync(ctx, disk, chunk, edits[0].in, edits[0].data, gen)
	}
	offs := make([]int64, len(edits))
	data := make([][]byte, len(edits))
	for i, ed := range edits {
		offs[i], data[i] = ed.in, ed.data
	}
	if summed && sums != nil {
		return sp.PatchShardRangesSummedNoSync(ctx, disk, chunk, offs, data, sums, gen)
	}
	return v.s.shards.PatchShardRangesNoSync(ctx, disk, chunk, offs, data, gen)
}

// forget drops what the writer knows of the extent's generation after a
// failed write: its next touch asks every replica again.
func (v *Volume) forget(idx uint64) {
	if !v.inPlace() {
		return
	}
	st := v.state(idx)
	st.set, st.agreed, st.loose = false, false, false
}

// snapshotTrust is how long the snapshot sequence meta answered stays
// trusted, counted from when it was asked. meta's CreateSnapshot answers
// only SnapshotFence after it committed the snapshot (meta/volumes.go;
// keep SnapshotFence well above this): a write issued after
// CreateSnapshot returned finds the answer it would trust asked after the
// snapshot, hence the extent shared, and copies instead of patching the
// snapshot's chunk.
const snapshotTrust = 50 * time.Millisecond

// checkSnapshots returns once the handle knows the volume's snapshot
// sequence as of a moment less than snapshotTrust ago. While the last
// answer is still trusted it returns at once (and refreshes it in the
// background when it is half used up); else it waits for a new answer,
// concurrent callers sharing one request. A changed sequence marks every
// extent shared.
func (v *Volume) checkSnapshots(ctx context.Context) error {
	now := time.Now()
	v.cmu.Lock()
	valid := v.snapValid
	v.cmu.Unlock()
	if now.Before(valid) {
		if valid.Sub(now) < snapshotTrust/2 {
			v.snapChecks.poke()
		}
		return nil
	}
	return v.snapChecks.join().wait(ctx, "volume.write")
}

// checkOnce is one round of checkSnapshots: it asks meta for the volume's
// snapshot sequence.
func (v *Volume) checkOnce() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	asked := time.Now()
	resp, err := v.s.meta.GetVolume(ctx, &metapb.GetVolumeRequest{Id: v.spec.id})
	if err != nil {
		return errs.E("volume.write", errs.Other, err)
	}
	// Extents are marked shared before the answer is trusted.
	v.noteSnapshotSeq(resp.GetVolume().GetSnapshotSeq())
	v.trustSnapshotsFrom(asked)
	return nil
}

// trustSnapshotsFrom extends the trust in the snapshot sequence to
// snapshotTrust after asked, the moment meta was asked for it.
func (v *Volume) trustSnapshotsFrom(asked time.Time) {
	v.cmu.Lock()
	if until := asked.Add(snapshotTrust); until.After(v.snapValid) {
		v.snapValid = until
	}
	v.cmu.Unlock()
}

// noteSnapshotSeq marks every extent shared when the volume was
// snapshotted since the handle last looked.
func (v *Volume) noteSnapshotSeq(seq uint64) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if seq <= v.seq { // the sequence only grows; an older answer says nothing new
		return
	}
	v.seq = seq
	for idx := range v.extents {
		st := v.xs[idx]
		if st == nil {
			st = &xstate{}
			v.xs[idx] = st
		}
		st.shared.Store(true)
	}
}
