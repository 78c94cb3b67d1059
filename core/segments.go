package core

import (
	"context"
	"sync"

	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/meta/metapb"
)

// A multipart object completed into segments (segments_upload_id set)
// keeps no stripes in its manifest: each part is a segment whose stripes
// meta hands out a page at a time (GetObjectSegments). Reads page through
// the segments their range covers, one page ahead at most; the free path
// pages through all of them.

// segPageParts is the most parts asked for in one page (meta bounds the
// answer's stripes too).
const segPageParts = 1000

// segFreeParallel is how many stripes of a page of segments are deleted
// at once.
const segFreeParallel = 8

// stripeSource yields the segments of stripes a read covers, in order;
// ok is false after the last.
type stripeSource func(ctx context.Context) (sg segment, ok bool, err error)

// sliceSource yields precomputed segments.
func sliceSource(segs []segment) stripeSource {
	return func(context.Context) (segment, bool, error) {
		if len(segs) == 0 {
			return segment{}, false, nil
		}
		sg := segs[0]
		segs = segs[1:]
		return sg, true, nil
	}
}

// storedPartSizes are the bytes each part of a segmented object holds in
// its stripes: the part sizes, sealed when the object is encrypted.
func storedPartSizes(obj *metapb.Object) ([]int64, error) {
	nums, sizes := obj.GetPartNumbers(), obj.GetPartSizes()
	if len(nums) != len(sizes) || len(nums) == 0 {
		return nil, errs.Errorf("core.OpenObject", errs.Corrupt, "object %s/%s: %d part numbers, %d part sizes",
			obj.GetBucket(), obj.GetKey(), len(nums), len(sizes))
	}
	out := make([]int64, len(sizes))
	var total int64
	for i, n := range sizes {
		out[i] = n
		if obj.GetEncryption() != nil {
			out[i] = sealedSize(n)
		}
		total += out[i]
	}
	if total != obj.GetSize() {
		return nil, errs.Errorf("core.OpenObject", errs.Corrupt, "parts of %s/%s hold %d bytes, manifest says %d",
			obj.GetBucket(), obj.GetKey(), total, obj.GetSize())
	}
	return out, nil
}

// segmentPager is the stripeSource of a segmented object's range
// [off, end) of stored bytes.
type segmentPager struct {
	s        *Store
	obj      *metapb.Object
	nums     []int32
	sizes    []int64
	end      int64
	off      int64 // where the read is
	idx      int   // the next part to take
	pos      int64 // its offset
	page     []*metapb.Part
	marker   int32
	pending  []segment // segments of the current part not yet yielded
	complete bool      // meta has no more parts after page
}

func (s *Store) newSegmentPager(obj *metapb.Object, off, end int64) (*segmentPager, error) {
	sizes, err := storedPartSizes(obj)
	if err != nil {
		return nil, err
	}
	p := &segmentPager{s: s, obj: obj, nums: obj.GetPartNumbers(), sizes: sizes, off: off, end: end}
	// Skip the parts before the range without asking meta for them.
	for p.idx < len(sizes) && p.pos+sizes[p.idx] <= off {
		p.pos += sizes[p.idx]
		p.idx++
	}
	if p.idx < len(p.nums) {
		p.marker = p.nums[p.idx] - 1
	}
	return p, nil
}

func (p *segmentPager) next(ctx context.Context) (segment, bool, error) {
	for len(p.pending) == 0 {
		if p.pos >= p.end || p.idx == len(p.nums) {
			return segment{}, false, nil
		}
		part, err := p.nextPart(ctx)
		if err != nil {
			return segment{}, false, err
		}
		if part.GetNumber() != p.nums[p.idx] || part.GetSize() != p.sizes[p.idx] {
			return segment{}, false, errs.Errorf("core.OpenObject", errs.Corrupt,
				"object %s/%s: segment %d of %d bytes where the manifest has part %d of %d",
				p.obj.GetBucket(), p.obj.GetKey(), part.GetNumber(), part.GetSize(), p.nums[p.idx], p.sizes[p.idx])
		}
		pos := p.pos
		for _, st := range part.GetStripes() {
			sz := st.GetSize()
			if sz < 0 {
				return segment{}, false, errs.Errorf("core.OpenObject", errs.Internal, "stripe of negative size in %s/%s", p.obj.GetBucket(), p.obj.GetKey())
			}
			if pos < p.end && pos+sz > p.off {
				p.pending = append(p.pending, segment{st: st, lo: max(p.off, pos) - pos, hi: min(p.end, pos+sz) - pos})
			}
			pos += sz
		}
		if pos != p.pos+part.GetSize() {
			return segment{}, false, errs.Errorf("core.OpenObject", errs.Internal, "segment %d of %s/%s: stripes hold %d bytes, part %d",
				part.GetNumber(), p.obj.GetBucket(), p.obj.GetKey(), pos-p.pos, part.GetSize())
		}
		p.pos = pos
		p.idx++
	}
	sg := p.pending[0]
	p.pending = p.pending[1:]
	return sg, true, nil
}

// nextPart returns the next segment, fetching a page when needed: as many
// parts as the range still covers, at most segPageParts.
func (p *segmentPager) nextPart(ctx context.Context) (*metapb.Part, error) {
	if len(p.page) == 0 {
		if p.complete {
			return nil, errs.Errorf("core.OpenObject", errs.Corrupt, "object %s/%s: segment %d is missing",
				p.obj.GetBucket(), p.obj.GetKey(), p.nums[p.idx])
		}
		want, pos := 0, p.pos
		for i := p.idx; i < len(p.nums) && pos < p.end && want < segPageParts; i++ {
			pos += p.sizes[i]
			want++
		}
		resp, err := p.s.meta.GetObjectSegments(ctx, &metapb.GetObjectSegmentsRequest{Bucket: p.obj.GetBucket(), Key: p.obj.GetKey(),
			UploadId: p.obj.GetSegmentsUploadId(), PartNumberMarker: p.marker, MaxParts: int32(max(want, 1))})
		if err != nil {
			return nil, errs.E("core.OpenObject", errs.Other, err)
		}
		p.page, p.complete = resp.GetParts(), !resp.GetTruncated()
		if len(p.page) == 0 {
			return nil, errs.Errorf("core.OpenObject", errs.Corrupt, "object %s/%s: segment %d is missing",
				p.obj.GetBucket(), p.obj.GetKey(), p.nums[p.idx])
		}
	}
	part := p.page[0]
	p.page = p.page[1:]
	p.marker = part.GetNumber()
	return part, nil
}

// ObjectPart returns the record (number, sizes, checksums, stripes) of
// the n-th part (1-based, in the object's order) of a segmented multipart
// object. Objects without part records (single PUTs, multipart objects
// whose manifest holds the stripes) answer errs.NotFound.
func (s *Store) ObjectPart(ctx context.Context, obj *metapb.Object, n int32) (*metapb.Part, error) {
	const op = "core.ObjectPart"
	nums := obj.GetPartNumbers()
	if obj.GetSegmentsUploadId() == "" || n < 1 || int(n) > len(nums) {
		return nil, errs.E(op, errs.NotFound, "no record of this part")
	}
	resp, err := s.meta.GetObjectSegments(ctx, &metapb.GetObjectSegmentsRequest{Bucket: obj.GetBucket(), Key: obj.GetKey(),
		UploadId: obj.GetSegmentsUploadId(), PartNumberMarker: nums[n-1] - 1, MaxParts: 1})
	if err != nil {
		return nil, errs.E(op, errs.Other, err)
	}
	if len(resp.GetParts()) == 0 || resp.GetParts()[0].GetNumber() != nums[n-1] {
		return nil, errs.E(op, errs.NotFound, "no record of this part")
	}
	return resp.GetParts()[0], nil
}

// freeSegments deletes the chunks of every segment of a removed version,
// page by page, then has meta drop the segments. When a page cannot be
// read the segments stay (marked garbage in meta) with their chunks.
func (s *Store) freeSegments(j freeJob) {
	o := j.segments
	var marker int32
	for pages := 0; pages <= maxPartNumber; pages++ {
		ctx, cancel := context.WithTimeout(context.Background(), freeTimeout)
		resp, err := s.meta.GetObjectSegments(ctx, &metapb.GetObjectSegmentsRequest{Bucket: o.GetBucket(), Key: o.GetKey(),
			UploadId: o.GetSegmentsUploadId(), PartNumberMarker: marker})
		if err != nil {
			cancel()
			s.log.Warn("segments not freed: cannot read them", "why", j.why, "bucket", o.GetBucket(), "key", o.GetKey(),
				"upload", o.GetSegmentsUploadId(), "err", err)
			return
		}
		var (
			wg  sync.WaitGroup
			sem = make(chan struct{}, segFreeParallel)
		)
		for _, p := range resp.GetParts() {
			for _, st := range p.GetStripes() {
				sem <- struct{}{}
				wg.Add(1)
				go func() {
					defer func() { <-sem; wg.Done() }()
					if err := s.deleteStripe(ctx, st); err != nil {
						s.log.Warn("freeing stripe failed", "why", j.why, "bucket", o.GetBucket(), "key", o.GetKey(),
							"stripe", ChunkID(st.GetId(), 0), "err", err)
					}
				}()
			}
			marker = p.GetNumber()
		}
		wg.Wait()
		cancel()
		if !resp.GetTruncated() {
			break
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), freeTimeout)
	defer cancel()
	if _, err := s.meta.DeleteSegments(ctx, &metapb.DeleteSegmentsRequest{Bucket: o.GetBucket(), Key: o.GetKey(),
		UploadId: o.GetSegmentsUploadId()}); err != nil {
		s.log.Warn("freed segments not dropped", "why", j.why, "bucket", o.GetBucket(), "key", o.GetKey(),
			"upload", o.GetSegmentsUploadId(), "err", err)
	}
}
