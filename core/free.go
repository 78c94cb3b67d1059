package core

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/meta/metapb"
)

// freeTimeout bounds the deletion of one stripe's shards.
const freeTimeout = time.Minute

// freer deletes the shards of stripes that no manifest references any more
// (replaced and deleted versions, replaced and unused parts), in the
// background with a bounded number of workers.
type freer struct {
	s    *Store
	jobs chan freeJob
	wg   sync.WaitGroup

	mu      sync.RWMutex // guards closed against sends on a closed channel
	closed  bool
	pending int        // jobs queued or running
	idle    *sync.Cond // signalled when pending drops to 0, uses pmu
	pmu     sync.Mutex
}

type freeJob struct {
	why     string
	bucket  string
	key     string
	stripes []*metapb.Stripe
	// segments, if set, is a removed version whose segments are freed
	// (paged from meta) and then dropped.
	segments *metapb.Object
	// timeout, if set, bounds the deletion instead of freeTimeout (shards
	// on disks that did not answer: garbage collection takes what is left).
	timeout time.Duration
}

func newFreer(s *Store, workers, queue int) *freer {
	f := &freer{s: s, jobs: make(chan freeJob, queue)}
	f.idle = sync.NewCond(&f.pmu)
	for range workers {
		f.wg.Add(1)
		go f.work()
	}
	return f
}

// enqueue schedules the stripes for deletion. It blocks while the queue is
// full, unless ctx ends first, in which case the stripes are leaked (logged)
// and left to the garbage collector.
func (f *freer) enqueue(ctx context.Context, j freeJob) {
	if len(j.stripes) == 0 && j.segments == nil {
		return
	}
	f.mu.RLock()
	defer f.mu.RUnlock()
	if f.closed {
		f.s.log.Warn("chunks not freed: store closed", "why", j.why, "bucket", j.bucket, "key", j.key, "stripes", len(j.stripes),
			"segments_of", j.segments.GetSegmentsUploadId())
		return
	}
	f.pmu.Lock()
	f.pending++
	f.pmu.Unlock()
	select {
	case f.jobs <- j:
		return
	default:
	}
	select {
	case f.jobs <- j:
	case <-ctx.Done():
		f.done()
		f.s.log.Warn("chunks not freed: queue full", "why", j.why, "bucket", j.bucket, "key", j.key, "stripes", len(j.stripes),
			"segments_of", j.segments.GetSegmentsUploadId())
	}
}

func (f *freer) done() {
	f.pmu.Lock()
	f.pending--
	if f.pending == 0 {
		f.idle.Broadcast()
	}
	f.pmu.Unlock()
}

func (f *freer) work() {
	defer f.wg.Done()
	for j := range f.jobs {
		if j.segments != nil {
			f.s.freeSegments(j)
		}
		timeout := freeTimeout
		if j.timeout > 0 {
			timeout = min(timeout, j.timeout)
		}
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		for _, st := range j.stripes {
			if err := f.s.deleteStripe(ctx, st); err != nil {
				f.s.log.Warn("freeing stripe failed", "why", j.why, "bucket", j.bucket, "key", j.key,
					"stripe", ChunkID(st.GetId(), 0), "err", err)
			}
		}
		cancel()
		f.done()
	}
}

// waitIdle returns when no job is queued or running.
func (f *freer) waitIdle() {
	f.pmu.Lock()
	for f.pending > 0 {
		f.idle.Wait()
	}
	f.pmu.Unlock()
}

func (f *freer) close() {
	f.mu.Lock()
	if !f.closed {
		f.closed = true
		close(f.jobs)
	}
	f.mu.Unlock()
	f.wg.Wait()
}

// freeObjects schedules the chunks of removed manifests, keeping any stripe
// that the surviving manifest keep still references. The segments of a
// removed multipart object are paged from meta by the worker.
func (s *Store) freeObjects(ctx context.Context, why string, keep *metapb.Object, objs []*metapb.Object) {
	live := make(map[string]bool)
	for _, st := range keep.GetStripes() {
		live[string(st.GetId())] = true
	}
	for _, o := range objs {
		j := freeJob{why: why, bucket: o.GetBucket(), key: o.GetKey(), stripes: dropLive(o.GetStripes(), live)}
		if id := o.GetSegmentsUploadId(); id != "" && id != keep.GetSegmentsUploadId() {
			j.segments = o
		}
		s.free.enqueue(ctx, j)
	}
}

// freeParts schedules the chunks of parts no upload or object references.
func (s *Store) freeParts(ctx context.Context, why, bucket, key string, keep *metapb.Object, parts []*metapb.Part) {
	live := make(map[string]bool)
	for _, st := range keep.GetStripes() {
		live[string(st.GetId())] = true
	}
	var all []*metapb.Stripe
	for _, p := range parts {
		all = append(all, dropLive(p.GetStripes(), live)...)
	}
	s.free.enqueue(ctx, freeJob{why: why, bucket: bucket, key: key, stripes: all})
}

func dropLive(stripes []*metapb.Stripe, live map[string]bool) []*metapb.Stripe {
	out := make([]*metapb.Stripe, 0, len(stripes))
	for _, st := range stripes {
		if !live[string(st.GetId())] {
			out = append(out, st)
		}
	}
	return out
}

// deleteStripe deletes every shard of a stripe in parallel. Shards already
// gone are fine; it returns an error when some shard could not be deleted.
func (s *Store) deleteStripe(ctx context.Context, st *metapb.Stripe) error {
	g, err := s.groups.group(ctx, st.GetPlacementGroup())
	if err != nil {
		s.metrics.freeFailures.Add(float64(len(st.GetShardCrc32C())))
		return err
	}
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		failed int
		last   error
	)
	for i, disk := range g.GetDisks() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := s.shards.DeleteShard(ctx, disk, ChunkID(st.GetId(), i))
			if err == nil || errs.Is(err, errs.NotFound) {
				return
			}
			s.metrics.shardError("delete", err)
			mu.Lock()
			failed++
			last = err
			mu.Unlock()
		}()
	}
	wg.Wait()
	if failed > 0 {
		s.metrics.freeFailures.Add(float64(failed))
		return errs.E("core.deleteStripe", errs.Unavailable, fmt.Sprintf("%d shards not deleted", failed), last)
	}
	s.metrics.freedStripes.Inc()
	return nil
}
