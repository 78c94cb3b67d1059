package fsm

import (
	"bytes"
	"context"
	"encoding/binary"
	"slices"

	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/meta/internal/kv"
	"github.com/wolke-cloud/wolke/meta/metapb"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// Segments. A completed multipart object keeps its parts' records where
// they were uploaded (b/<bucket>/p/<key>\x00<upload id>\x00<part>), one
// segment per part, and names the upload in segments_upload_id instead of
// holding the stripes: completing copies nothing and the version's record
// stays small whatever the object's size. Readers page through the
// segments with GetObjectSegments. When the version is removed its
// segments become garbage (a segx/ marker); the caller frees their chunks
// and then drops them with DeleteSegments. An aborted upload too big to
// list its parts in the answer leaves them as garbage segments too.

// segPageStripes bounds the stripes of one GetObjectSegments answer
// (~60 bytes each: about 1 MiB); segPageParts its parts.
const (
	segPageStripes = 16 << 10
	segPageParts   = 1000
)

// abortAnswerBytes bounds the part records an AbortUpload answer carries;
// bigger uploads leave their parts as garbage segments.
const abortAnswerBytes = 4 << 20

// partsTooBig tells whether an upload's part records exceed
// abortAnswerBytes.
func partsTooBig(r reader, bucket, key, id string) (bool, error) {
	p := partPrefix(bucket, key, id)
	it, err := newIter(r, p, kv.PrefixEnd(p))
	if err != nil {
		return false, err
	}
	defer it.Close()
	total := 0
	for ok := it.First(); ok; ok = it.Next() {
		if total += len(it.Value()); total > abortAnswerBytes {
			return true, iterErr(it)
		}
	}
	return false, iterErr(it)
}

// checkNoSegments refuses an upload id whose part records exist already
// (the segments of a completed object or garbage not yet dropped).
func checkNoSegments(r reader, op, bucket, key, id string) error {
	p := partPrefix(bucket, key, id)
	it, err := newIter(r, p, kv.PrefixEnd(p))
	if err != nil {
		return err
	}
	defer it.Close()
	if it.First() {
		return errs.Errorf(op, errs.Exists, "upload id %s was used before", id)
	}
	return iterErr(it)
}

// markSegmentsGarbage records that no version references o's segments any
// more; the removal's caller frees them.
func (t *tx) markSegmentsGarbage(op string, o *metapb.Object) error {
	if o.GetSegmentsUploadId() == "" {
		return nil
	}
	head := proto.CloneOf(o)
	head.PartSizes, head.PartNumbers, head.UserMeta, head.Headers, head.Tags = nil, nil, nil, nil, nil
	return t.set(op, segGarbageKey(o.Bucket, o.Key, o.SegmentsUploadId), head)
}

// GetObjectSegments returns a page of a multipart object's segments.
func (f *FSM) GetObjectSegments(_ context.Context, req *metapb.GetObjectSegmentsRequest) (*metapb.GetObjectSegmentsResponse, error) {
	const op = "meta.GetObjectSegments"
	if err := checkObjectKey(op, req.Key); err != nil {
		return nil, err
	}
	if err := checkID(op, "upload id", req.UploadId); err != nil {
		return nil, err
	}
	if req.PartNumberMarker < 0 || req.MaxParts < 0 {
		return nil, errs.E(op, errs.Invalid, "negative part number marker or page size")
	}
	limit := int(req.MaxParts)
	if limit == 0 || limit > segPageParts {
		limit = segPageParts
	}
	resp := &metapb.GetObjectSegmentsResponse{}
	err := f.view(func(r reader) error {
		p := partPrefix(req.Bucket, req.Key, req.UploadId)
		it, err := newIter(r, p, kv.PrefixEnd(p))
		if err != nil {
			return err
		}
		defer it.Close()
		stripes := 0
		start := binary.BigEndian.AppendUint32(append([]byte(nil), p...), uint32(req.PartNumberMarker)+1)
		for ok := it.SeekGE(start); ok; ok = it.Next() {
			if len(resp.Parts) == limit || stripes >= segPageStripes {
				resp.Truncated = true
				break
			}
			part := &metapb.Part{}
			if err := proto.Unmarshal(it.Value(), part); err != nil {
				return errs.E(op, errs.Corrupt, err)
			}
			resp.Parts = append(resp.Parts, part)
			stripes += len(part.Stripes)
		}
		return iterErr(it)
	})
	if err != nil {
		return nil, err
	}
	if resp.Truncated {
		resp.NextPartNumberMarker = resp.Parts[len(resp.Parts)-1].Number
	}
	return resp, nil
}

// ListSegmentGarbage pages through the segx/ markers: the heads of
// removed multipart versions whose segments are still to be freed.
func (f *FSM) ListSegmentGarbage(_ context.Context, req *metapb.ListSegmentGarbageRequest) (*metapb.ListSegmentGarbageResponse, error) {
	const op = "meta.ListSegmentGarbage"
	limit := int(req.Limit)
	if limit <= 0 || limit > segPageParts {
		limit = segPageParts
	}
	lo, hi := []byte(prefixSegGarbage), kv.PrefixEnd([]byte(prefixSegGarbage))
	if len(req.After) > 0 {
		if !bytes.HasPrefix(req.After, lo) {
			return nil, errs.E(op, errs.Invalid, "bad cursor")
		}
		lo = append(slices.Clone(req.After), 0)
	}
	resp := &metapb.ListSegmentGarbageResponse{}
	err := f.view(func(r reader) error {
		it, err := newIter(r, lo, hi)
		if err != nil {
			return err
		}
		defer it.Close()
		for ok := it.First(); ok; ok = it.Next() {
			if len(resp.Objects) == limit {
				return iterErr(it) // next: the last key listed
			}
			head := &metapb.Object{}
			if err := proto.Unmarshal(it.Value(), head); err != nil {
				return errs.E(op, errs.Corrupt, err)
			}
			resp.Objects = append(resp.Objects, head)
			resp.Next = append(resp.Next[:0], it.Key()...)
		}
		resp.Next = nil
		return iterErr(it)
	})
	if err != nil {
		return nil, err
	}
	return resp, nil
}

// deleteSegments drops the segment records of a removed version, and its
// garbage marker. Segments without a marker may still be referenced (or
// be the parts of an upload in progress) and are refused
// (errs.Precondition); a second call finds nothing and deletes nothing.
func (t *tx) deleteSegments(req *metapb.DeleteSegmentsRequest) (proto.Message, error) {
	const op = "meta.DeleteSegments"
	if err := checkObjectKey(op, req.Key); err != nil {
		return nil, err
	}
	if err := checkID(op, "upload id", req.UploadId); err != nil {
		return nil, err
	}
	mark := segGarbageKey(req.Bucket, req.Key, req.UploadId)
	_, garbage, err := getRaw(t.r, mark)
	if err != nil {
		return nil, err
	}
	if !garbage {
		if err := checkNoSegments(t.r, op, req.Bucket, req.Key, req.UploadId); err != nil {
			return nil, errs.E(op, errs.Precondition, "segments still referenced", err)
		}
		return &metapb.DeleteSegmentsResponse{}, nil
	}
	p := partPrefix(req.Bucket, req.Key, req.UploadId)
	it, err := newIter(t.r, p, kv.PrefixEnd(p))
	if err != nil {
		return nil, err
	}
	defer it.Close()
	resp := &metapb.DeleteSegmentsResponse{}
	for ok := it.First(); ok; ok = it.Next() {
		if err := t.del(op, append([]byte(nil), it.Key()...)); err != nil {
			return nil, err
		}
		resp.Deleted++
	}
	if err := iterErr(it); err != nil {
		return nil, err
	}
	if err := t.del(op, mark); err != nil {
		return nil, err
	}
	return resp, nil
}

// partSummary decodes what completing an upload needs of a part record
// (number, etag, sizes) and skips the rest: the stripes are most of a
// part and completing never looks at them.
func partSummary(v []byte) (*metapb.Part, error) {
	p := &metapb.Part{}
	for len(v) > 0 {
		num, typ, n := protowire.ConsumeTag(v)
		if n < 0 {
			return nil, protowire.ParseError(n)
		}
		v = v[n:]
		switch {
		case num == 1 && typ == protowire.VarintType, num == 3 && typ == protowire.VarintType, num == 7 && typ == protowire.VarintType:
			x, n := protowire.ConsumeVarint(v)
			if n < 0 {
				return nil, protowire.ParseError(n)
			}
			v = v[n:]
			switch num {
			case 1:
				p.Number = int32(x)
			case 3:
				p.Size = int64(x)
			default:
				p.PlainSize = int64(x)
			}
		case num == 2 && typ == protowire.BytesType:
			s, n := protowire.ConsumeBytes(v)
			if n < 0 {
				return nil, protowire.ParseError(n)
			}
			v = v[n:]
			p.Etag = string(s)
		default:
			n := protowire.ConsumeFieldValue(num, typ, v)
			if n < 0 {
				return nil, protowire.ParseError(n)
			}
			v = v[n:]
		}
	}
	return p, nil
}

// partSummaries returns the summaries of an upload's parts in number
// order.
func partSummaries(r reader, bucket, key, id string) ([]*metapb.Part, error) {
	p := partPrefix(bucket, key, id)
	it, err := newIter(r, p, kv.PrefixEnd(p))
	if err != nil {
		return nil, err
	}
	defer it.Close()
	var parts []*metapb.Part
	for ok := it.First(); ok; ok = it.Next() {
		part, err := partSummary(it.Value())
		if err != nil {
			return nil, errs.E("fsm.partSummaries", errs.Corrupt, err)
		}
		parts = append(parts, part)
	}
	return parts, iterErr(it)
}
