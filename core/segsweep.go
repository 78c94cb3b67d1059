package core

import (
	"context"
	"time"

	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/meta/metapb"
)

// Removing a segmented multipart version leaves a garbage marker in meta
// (segx/); the remover frees the segments' chunks and then drops segments
// and marker (freeSegments). A remover that dies in between leaves the
// marker and the chunks behind for good, since the part records keep the
// chunks referenced for repair's garbage collection. The SegmentSweeper
// finishes that work: it frees the markers it has seen for at least a
// grace, long after any live remover is done.

// maxSweepPages bounds the pages of markers one sweep reads.
const maxSweepPages = 10000

// SegmentSweeper frees the segments of removed multipart versions whose
// remover did not finish. One should run per cluster at a time (under an
// election): two would free the same chunks twice, which is harmless but
// wasted. Its state is the time it first saw each marker, so a new
// sweeper waits a whole grace before it frees anything.
type SegmentSweeper struct {
	s     *Store
	grace time.Duration
	seen  map[string]time.Time // marker → first seen
}

// NewSegmentSweeper returns a sweeper that frees markers seen for at
// least grace (0 or less: at first sight, for tests).
func (s *Store) NewSegmentSweeper(grace time.Duration) *SegmentSweeper {
	return &SegmentSweeper{s: s, grace: grace, seen: map[string]time.Time{}}
}

// Sweep lists the garbage markers once and frees those due; it returns
// how many it freed (a marker whose segments could not be read stays,
// for the next sweep).
func (w *SegmentSweeper) Sweep(ctx context.Context) (int, error) {
	const op = "core.SweepSegments"
	now := w.s.now()
	current := map[string]bool{}
	freed := 0
	var after []byte
	for pages := 0; pages < maxSweepPages; pages++ {
		resp, err := w.s.meta.ListSegmentGarbage(ctx, &metapb.ListSegmentGarbageRequest{After: after})
		if err != nil {
			return freed, errs.E(op, errs.Other, err)
		}
		for _, head := range resp.GetObjects() {
			k := head.GetBucket() + "\x00" + head.GetKey() + "\x00" + head.GetSegmentsUploadId()
			current[k] = true
			first, ok := w.seen[k]
			if !ok {
				w.seen[k], first = now, now
			}
			if now.Sub(first) < w.grace || ctx.Err() != nil {
				continue
			}
			w.s.log.Info("sweeping leaked segments", "bucket", head.GetBucket(), "key", head.GetKey(),
				"upload", head.GetSegmentsUploadId(), "seen", first)
			w.s.freeSegments(freeJob{why: "sweep", segments: head})
			freed++
		}
		if len(resp.GetNext()) == 0 {
			break
		}
		after = resp.GetNext()
	}
	for k := range w.seen {
		if !current[k] {
			delete(w.seen, k)
		}
	}
	return freed, ctx.Err()
}

// Run sweeps every interval until ctx ends.
func (w *SegmentSweeper) Run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if n, err := w.Sweep(ctx); err != nil && ctx.Err() == nil {
			w.s.log.Warn("segment sweep failed", "freed", n, "err", err)
		}
	}
}
