package core

import (
	"bytes"
	"context"
	"io"
	"sync"
	"time"

	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/meta/metapb"
)

// OpenObject returns a reader of length bytes of obj from offset off
// (length < 0: to the end; a range past the end is cut at the end),
// decrypting an SSE-S3 object (see OpenObjectWith). It
// fetches only the stripes that cover the range, one stripe ahead of the
// caller. Close the reader to release it.
func (s *Store) OpenObject(ctx context.Context, obj *metapb.Object, off, length int64) (io.ReadCloser, error) {
	return s.OpenObjectWith(ctx, obj, off, length, ReadOptions{})
}

// openRaw reads the stored bytes of obj (see OpenObject).
func (s *Store) openRaw(ctx context.Context, obj *metapb.Object, off, length int64) (io.ReadCloser, error) {
	const op = "core.OpenObject"
	if obj.GetDeleteMarker() {
		return nil, errs.E(op, errs.NotFound, "version is a delete marker")
	}
	size := obj.GetSize()
	if off < 0 || off > size {
		return nil, errs.Errorf(op, errs.Invalid, "offset %d outside object of %d bytes", off, size)
	}
	end := size
	if length >= 0 && length < size-off {
		end = off + length
	}
	start := s.now()
	if len(obj.GetStripes()) == 0 && obj.GetSegmentsUploadId() == "" {
		if int64(len(obj.GetInline())) != size {
			return nil, errs.Errorf(op, errs.Internal, "inline object holds %d bytes, manifest says %d", len(obj.GetInline()), size)
		}
		s.metrics.getBytes.Add(float64(end - off))
		return &inlineReader{Reader: bytes.NewReader(obj.GetInline()[off:end]), s: s, start: start}, nil
	}
	c, err := s.readCodec(obj)
	if err != nil {
		return nil, err
	}
	var src stripeSource
	if obj.GetSegmentsUploadId() != "" {
		p, err := s.newSegmentPager(obj, off, end)
		if err != nil {
			return nil, err
		}
		src = p.next
	} else {
		segs, err := segments(obj, off, end)
		if err != nil {
			return nil, err
		}
		src = sliceSource(segs)
	}
	rctx, cancel := context.WithCancel(ctx)
	r := &objectReader{s: s, cancel: cancel, start: start, ch: make(chan fetched), done: make(chan struct{})}
	go r.fetch(rctx, c, src)
	// The first stripe is fetched before returning, so that an object that
	// cannot be read fails here, where the caller can still answer with an
	// error status, rather than in the middle of a response body.
	if off < end {
		f, ok := <-r.ch
		if ok && f.err == nil {
			r.cur = f
		} else {
			r.Close()
			if f.err == nil {
				f.err = errs.E(op, errs.Unavailable, "stripe fetch stopped")
			}
			return nil, s.readFailed(ctx, obj, f.err)
		}
	}
	return r, nil
}

// readFailed explains a read of obj that failed before its first byte: a
// version removed meanwhile (its segments dropped, its chunks freed) is
// errs.NotFound, as if the read had come after the delete, and one
// replaced under the same version id (an overwrite of "null") is
// errs.Unavailable, worth a retry that reads the new one; any other
// failure is err as it is.
func (s *Store) readFailed(ctx context.Context, obj *metapb.Object, err error) error {
	const op = "core.OpenObject"
	if errs.Is(err, errs.NotFound) || ctx.Err() != nil || obj.GetBucket() == "" {
		return err
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), freeTimeout)
	defer cancel()
	resp, lerr := s.meta.GetObject(cctx, &metapb.GetObjectRequest{Bucket: obj.GetBucket(), Key: obj.GetKey(), VersionId: obj.GetVersionId()})
	switch {
	case errs.Is(lerr, errs.NotFound):
		return errs.E(op, errs.NotFound, "the version was removed while it was read", err)
	case lerr != nil:
		return err
	}
	cur := resp.GetObject()
	replaced := cur.GetSegmentsUploadId() != obj.GetSegmentsUploadId() || cur.GetDeleteMarker() ||
		len(obj.GetStripes()) > 0 && !sameFirstStripe(cur.GetStripes(), obj.GetStripes())
	if replaced {
		return errs.E(op, errs.Unavailable, "the version was replaced while it was read", err)
	}
	return err
}

// readCodec returns the codec of a stored object.
func (s *Store) readCodec(obj *metapb.Object) (*codec, error) {
	k, m := int(obj.GetEcData()), int(obj.GetEcParity())
	if k == 0 {
		// A manifest built without its code: only the configured one can fit.
		if len(obj.GetStripes()) == 0 {
			return nil, errs.Errorf("core.OpenObject", errs.Internal, "object %s/%s has no erasure code", obj.GetBucket(), obj.GetKey())
		}
		n := len(obj.GetStripes()[0].GetShardCrc32C())
		if n != s.cfg.DataShards+s.cfg.ParityShards {
			return nil, errs.Errorf("core.OpenObject", errs.Internal, "object %s/%s has no erasure code", obj.GetBucket(), obj.GetKey())
		}
		k, m = s.cfg.DataShards, s.cfg.ParityShards
	}
	return s.codecFor(k, m)
}

// segment is the part [lo, hi) of a stripe that a read covers.
type segment struct {
	st     *metapb.Stripe
	lo, hi int64
}

// segments locates the stripes covering [off, end) by their cumulative sizes
// (stripes differ in size when parts were concatenated).
func segments(obj *metapb.Object, off, end int64) ([]segment, error) {
	var (
		segs []segment
		pos  int64
	)
	for _, st := range obj.GetStripes() {
		sz := st.GetSize()
		if sz < 0 {
			return nil, errs.Errorf("core.OpenObject", errs.Internal, "stripe of negative size in %s/%s", obj.GetBucket(), obj.GetKey())
		}
		if pos < end && pos+sz > off {
			segs = append(segs, segment{st: st, lo: max(off, pos) - pos, hi: min(end, pos+sz) - pos})
		}
		pos += sz
	}
	if pos != obj.GetSize() {
		return nil, errs.Errorf("core.OpenObject", errs.Internal, "stripes of %s/%s hold %d bytes, manifest says %d",
			obj.GetBucket(), obj.GetKey(), pos, obj.GetSize())
	}
	return segs, nil
}

// fetched is one stripe's data shards, of which bytes [lo, hi) are read.
type fetched struct {
	shards [][]byte
	ss     int64
	lo, hi int64
	err    error
}

type objectReader struct {
	s      *Store
	cancel context.CancelFunc
	start  time.Time
	ch     chan fetched // unbuffered: the fetcher stays one stripe ahead
	done   chan struct{}

	stopped   error // set by the fetcher before it closes ch early
	cur       fetched
	err       error
	closeOnce sync.Once
}

func (r *objectReader) fetch(ctx context.Context, c *codec, src stripeSource) {
	defer close(r.done)
	defer close(r.ch)
	for {
		sg, ok, err := src(ctx)
		if err == nil && !ok {
			return
		}
		var f fetched
		if err == nil {
			var shards [][]byte
			shards, err = r.s.readStripe(ctx, c, sg.st, sg.lo, sg.hi)
			f = fetched{shards: shards, ss: sg.st.GetShardSize(), lo: sg.lo, hi: sg.hi}
		}
		f.err = err
		select {
		case r.ch <- f:
		case <-ctx.Done():
			// Read must not mistake the closed channel for the end.
			r.stopped = errs.E("core.objectReader", errs.Canceled, ctx.Err())
			return
		}
		if err != nil {
			return
		}
	}
}

func (r *objectReader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	for r.cur.lo == r.cur.hi {
		f, ok := <-r.ch
		if !ok {
			r.err = io.EOF
			if r.stopped != nil {
				r.err = r.stopped
			}
			return 0, r.err
		}
		if f.err != nil {
			r.err = f.err
			return 0, r.err
		}
		r.cur = f
	}
	n := 0
	for n < len(p) && r.cur.lo < r.cur.hi {
		i, within := r.cur.lo/r.cur.ss, r.cur.lo%r.cur.ss
		m := copy(p[n:], r.cur.shards[i][within:min(r.cur.ss, within+r.cur.hi-r.cur.lo)])
		n += m
		r.cur.lo += int64(m)
	}
	r.s.metrics.getBytes.Add(float64(n))
	return n, nil
}

// Close stops the prefetch and waits for it.
func (r *objectReader) Close() error {
	r.closeOnce.Do(func() {
		r.cancel()
		<-r.done
		if r.err == nil {
			r.err = errs.E("core.objectReader", errs.Invalid, "read after close")
		}
		r.s.metrics.getSeconds.Observe(r.s.now().Sub(r.start).Seconds())
	})
	return nil
}

type inlineReader struct {
	*bytes.Reader
	s     *Store
	start time.Time
	once  sync.Once
}

func (r *inlineReader) Close() error {
	r.once.Do(func() { r.s.metrics.getSeconds.Observe(r.s.now().Sub(r.start).Seconds()) })
	return nil
}
