package volume

import (
	"context"

	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/meta/metapb"
)

// ReadAt reads from any healthy replica of each extent.
func (v *Volume) ReadAt(ctx context.Context, p []byte, off int64) error {
	err := v.refresh(ctx)
	if err == nil {
		err = v.pieces(off, int64(len(p)), func(idx uint64, in, at, l int64) error {
			return v.readPiece(ctx, idx, in, p[at:at+l])
		})
	}
	v.s.count("read", err)
	if err == nil {
		v.s.bytes.WithLabelValues("read").Add(float64(len(p)))
	}
	return err
}

func (v *Volume) readPiece(ctx context.Context, idx uint64, in int64, p []byte) error {
	mu := v.lock(idx)
	mu.RLock()
	if v.inPlace() && v.extent(idx) != nil && !v.state(idx).set {
		// The writer's first touch of the extent: learn its generation.
		mu.RUnlock()
		mu.Lock()
		err := v.reconcile(ctx, idx)
		mu.Unlock()
		if err != nil {
			return err
		}
		mu.RLock()
	}
	e := v.extent(idx)
	var err error
	if e != nil {
		_, err = v.readReplicas(ctx, e, in, p, v.accept(idx))
	} else {
		clear(p)
	}
	if err == nil && v.cache != nil {
		v.cache.overlay(idx, in, p)
	}
	mu.RUnlock()
	if !errs.Is(err, errs.NotFound) || !v.follows() {
		return err
	}
	// Another writer moved the extent and its old chunk was collected:
	// read the map again.
	if err := v.load(ctx); err != nil {
		return err
	}
	mu.RLock()
	defer mu.RUnlock()
	if e = v.extent(idx); e == nil {
		clear(p)
		return nil
	}
	_, err = v.readReplicas(ctx, e, in, p, v.accept(idx))
	return err
}

// readReplicas reads p from the extent at in, trying each replica in turn
// (the chunk client checks the CRC32C of what it receives; the chunk
// server checks every block it reads), and returns the generation of the
// chunk it read. A replica whose generation fails accept (one that missed
// a write) is passed over.
func (v *Volume) readReplicas(ctx context.Context, e *metapb.Extent, in int64, p []byte, accept func(uint64) bool) (uint64, error) {
	return v.s.readReplicas(ctx, v.spec.id, e, v.spec.extent, in, p, accept)
}

// ReadExtent reads p from the extent e (of x bytes) of a snapshot's map at
// in, from the first replica that answers (as a new read-only handle
// does); the EBS direct API's GetSnapshotBlock reads with it.
func (s *Service) ReadExtent(ctx context.Context, snapshot string, x int64, e *metapb.Extent, in int64, p []byte) error {
	_, err := s.readReplicas(ctx, snapshot, e, x, in, p, func(uint64) bool { return true })
	s.count("read", err)
	if err == nil {
		s.bytes.WithLabelValues("read").Add(float64(len(p)))
	}
	return err
}

// readReplicas is Volume.readReplicas for the volume or snapshot called
// name (for the log), whose extents are x bytes. A coded extent is read
// from its shards (its chunks are never patched: generation 0).
func (s *Service) readReplicas(ctx context.Context, name string, e *metapb.Extent, x, in int64, p []byte, accept func(uint64) bool) (uint64, error) {
	if len(e.Disks) == 0 {
		return 0, errs.Errorf("volume.read", errs.Corrupt, "extent %d of %s has no replica", e.Index, name)
	}
	if e.DataShards > 0 {
		return 0, s.readCoded(ctx, name, e, x, in, p)
	}
	var last error
	start := int(e.Index % uint64(len(e.Disks)))
	for i := range e.Disks {
		d := e.Disks[(start+i)%len(e.Disks)]
		// p may take a stale replica's bytes: they are overwritten by the
		// next replica's, or the read fails.
		gen, err := s.shards.ReadShardRangeInto(ctx, d, e.ChunkId, in, p)
		if err == nil && !accept(gen) {
			err = errs.Errorf("volume.read", errs.Precondition, "chunk %s on %s is at stale generation %d", e.ChunkId, d, gen)
		}
		if err == nil {
			return gen, nil
		}
		if ctx.Err() != nil {
			return 0, errs.E("volume.read", errs.Canceled, err)
		}
		last = err
		s.log.Warn("volume replica read failed", "volume", name, "chunk", e.ChunkId, "disk", d, "err", err)
	}
	return 0, errs.E("volume.read", errs.Other, last)
}
