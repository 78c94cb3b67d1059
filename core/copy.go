package core

import (
	"bytes"
	"context"
	"io"

	"google.golang.org/protobuf/proto"

	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/meta/metapb"
)

// CopyObject stores the content of the version src as a new object with
// tmpl's bucket, key and metadata, under the conditions of opts. The data
// is streamed through a new PUT: the copy gets stripes of its own (and the
// destination bucket's erasure code), so it shares no chunk with src.
func (s *Store) CopyObject(ctx context.Context, src, tmpl *metapb.Object, opts PutOptions) (*metapb.Object, error) {
	const op = "core.CopyObject"
	if src.GetDeleteMarker() {
		return nil, errs.E(op, errs.Invalid, "the source is a delete marker")
	}
	t := proto.CloneOf(tmpl)
	t.VersionId, t.EcData, t.EcParity = "", 0, 0
	t.SegmentsUploadId, t.PartNumbers, t.PartSizes = "", nil, nil // the copy is one piece
	body, err := s.OpenObjectWith(ctx, src, 0, -1, ReadOptions{CustomerKey: opts.SourceKey})
	if err != nil {
		return nil, errs.E(op, errs.Other, err)
	}
	defer body.Close()
	obj, err := s.PutObjectWith(ctx, t, body, src.GetSize(), opts)
	if err != nil {
		return nil, errs.E(op, errs.Other, err)
	}
	return obj, nil
}

// UploadPartCopy stores length bytes of the version src from offset off
// as part partNumber of an upload (length < 0: to the end of src).
func (s *Store) UploadPartCopy(ctx context.Context, bucket, key, uploadID string, partNumber int32, src *metapb.Object, off, length int64) (*metapb.Part, error) {
	const op = "core.UploadPartCopy"
	if src.GetDeleteMarker() {
		return nil, errs.E(op, errs.Invalid, "the source is a delete marker")
	}
	size := src.GetSize()
	if off < 0 || off > size || length > size-off {
		return nil, errs.Errorf(op, errs.Invalid, "range %d+%d outside the source's %d bytes", off, length, size)
	}
	if length < 0 {
		length = size - off
	}
	var body io.ReadCloser = io.NopCloser(bytes.NewReader(nil))
	if length > 0 {
		var err error
		if body, err = s.OpenObject(ctx, src, off, length); err != nil {
			return nil, errs.E(op, errs.Other, err)
		}
	}
	defer body.Close()
	part, err := s.UploadPart(ctx, bucket, key, uploadID, partNumber, body, length)
	if err != nil {
		return nil, errs.E(op, errs.Other, err)
	}
	return part, nil
}
