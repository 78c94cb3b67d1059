package core

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"io"

	"google.golang.org/protobuf/proto"

	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/meta/metapb"
)

// maxPartNumber is S3's highest part number.
const maxPartNumber = 10000

// CreateMultipartUpload starts an upload whose object will get tmpl's
// metadata, and returns its id. The erasure code of the parts is fixed now
// (the template's, else the bucket's, else the configured one).
func (s *Store) CreateMultipartUpload(ctx context.Context, tmpl *metapb.Object) (string, error) {
	const op = "core.CreateMultipartUpload"
	if tmpl.GetBucket() == "" || tmpl.GetKey() == "" {
		return "", errs.E(op, errs.Invalid, "bucket and key are required")
	}
	b, err := s.GetBucket(ctx, tmpl.GetBucket())
	if err != nil {
		return "", errs.E(op, errs.Other, err)
	}
	t := proto.Clone(tmpl).(*metapb.Object)
	k, m := s.writeShape(t, b)
	t.EcData, t.EcParity = int32(k), int32(m)
	t.Size, t.Etag, t.Inline, t.Stripes = 0, "", nil, nil
	up := &metapb.Upload{
		Bucket:            t.GetBucket(),
		Key:               t.GetKey(),
		UploadId:          hex.EncodeToString(randomID(20)),
		InitiatedUnixNano: s.now().UnixNano(),
		Tmpl:              t,
	}
	if _, err := s.meta.CreateUpload(ctx, &metapb.CreateUploadRequest{Upload: up}); err != nil {
		return "", errs.E(op, errs.Other, err)
	}
	return up.GetUploadId(), nil
}

// UploadPart stores one part (never inline: completing the upload
// concatenates the parts' stripes) and returns it. A part uploaded again
// under the same number replaces the old one, whose chunks are freed.
func (s *Store) UploadPart(ctx context.Context, bucket, key, uploadID string, partNumber int32, body io.Reader, size int64) (*metapb.Part, error) {
	const op = "core.UploadPart"
	start := s.now()
	defer func() { s.metrics.putSeconds.Observe(s.now().Sub(start).Seconds()) }()
	if partNumber < 1 || partNumber > maxPartNumber {
		return nil, errs.Errorf(op, errs.Invalid, "part number %d not within [1, %d]", partNumber, maxPartNumber)
	}
	// Check the upload first: striping a large part for nothing is costly.
	resp, err := s.meta.GetUpload(ctx, &metapb.GetUploadRequest{Bucket: bucket, Key: key, UploadId: uploadID})
	if err != nil {
		return nil, errs.E(op, errs.Other, err)
	}
	k, m := s.writeShape(resp.GetUpload().GetTmpl(), nil)
	c, err := s.codecFor(k, m)
	if err != nil {
		return nil, err
	}
	h := md5.New()
	stripes, n, err := s.writeBody(ctx, c, body, size, h)
	if err != nil {
		return nil, errs.E(op, errs.Other, err)
	}
	part := &metapb.Part{Number: partNumber, Etag: quotedETag(h), Size: n, MtimeUnixNano: s.now().UnixNano(), Stripes: stripes}
	put, err := s.meta.PutPart(ctx, &metapb.PutPartRequest{Bucket: bucket, Key: key, UploadId: uploadID, Part: part})
	if err != nil {
		if s.settlePart(ctx, bucket, key, uploadID, part, err) {
			return part, nil
		}
		return nil, errs.E(op, errs.Other, err)
	}
	if old := put.GetReplaced(); old != nil {
		s.freeParts(ctx, "part replaced", bucket, key, &metapb.Object{Stripes: stripes}, []*metapb.Part{old})
	}
	return part, nil
}

// settlePart is settleObject for parts: it reports whether meta recorded
// part after all, and deletes the part's shards when it surely did not.
func (s *Store) settlePart(ctx context.Context, bucket, key, uploadID string, part *metapb.Part, err error) bool {
	if len(part.GetStripes()) == 0 {
		return false
	}
	if !definite(err) {
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), freeTimeout)
		defer cancel()
		resp, lookErr := s.meta.ListParts(lctx, &metapb.ListPartsRequest{
			Bucket: bucket, Key: key, UploadId: uploadID, PartNumberMarker: part.GetNumber() - 1, MaxParts: 1})
		switch {
		case lookErr != nil && !errs.Is(lookErr, errs.NotFound):
			s.log.Warn("part commit outcome unknown; shards left for garbage collection",
				"bucket", bucket, "key", key, "upload", uploadID, "part", part.GetNumber(), "err", err, "lookup_err", lookErr)
			return false
		case lookErr == nil:
			for _, p := range resp.GetParts() {
				if p.GetNumber() == part.GetNumber() && sameFirstStripe(p.GetStripes(), part.GetStripes()) {
					return true
				}
			}
		}
	}
	s.deleteStripes(ctx, part.GetStripes())
	return false
}

// CompleteMultipartUpload builds the object from the listed parts (meta
// checks them: ascending, etags matching, all but the last at least
// MinPartSize) and commits it; the chunks of parts not listed and of
// versions replaced are freed.
func (s *Store) CompleteMultipartUpload(ctx context.Context, bucket, key, uploadID string, parts []*metapb.CompletedPart) (*metapb.Object, error) {
	const op = "core.CompleteMultipartUpload"
	if len(parts) == 0 {
		return nil, errs.E(op, errs.Invalid, "no parts listed")
	}
	now := s.now()
	resp, err := s.meta.CompleteUpload(ctx, &metapb.CompleteUploadRequest{
		Bucket:        bucket,
		Key:           key,
		UploadId:      uploadID,
		Parts:         parts,
		MinPartSize:   s.cfg.MinPartSize,
		MtimeUnixNano: now.UnixNano(),
		VersionId:     newVersionID(now),
	})
	if err != nil {
		return nil, errs.E(op, errs.Other, err)
	}
	obj := resp.GetObject()
	s.freeParts(ctx, "part unused", bucket, key, obj, resp.GetUnused())
	s.freeObjects(ctx, "replaced", obj, resp.GetReplaced())
	return obj, nil
}

// AbortMultipartUpload drops an upload and frees all its parts.
func (s *Store) AbortMultipartUpload(ctx context.Context, bucket, key, uploadID string) error {
	resp, err := s.meta.AbortUpload(ctx, &metapb.AbortUploadRequest{Bucket: bucket, Key: key, UploadId: uploadID})
	if err != nil {
		return errs.E("core.AbortMultipartUpload", errs.Other, err)
	}
	s.freeParts(ctx, "upload aborted", bucket, key, nil, resp.GetParts())
	return nil
}

// ListParts lists the parts of an upload.
func (s *Store) ListParts(ctx context.Context, req *metapb.ListPartsRequest) (*metapb.ListPartsResponse, error) {
	resp, err := s.meta.ListParts(ctx, req)
	if err != nil {
		return nil, errs.E("core.ListParts", errs.Other, err)
	}
	return resp, nil
}

// ListMultipartUploads lists uploads in progress.
func (s *Store) ListMultipartUploads(ctx context.Context, req *metapb.ListUploadsRequest) (*metapb.ListUploadsResponse, error) {
	resp, err := s.meta.ListUploads(ctx, req)
	if err != nil {
		return nil, errs.E("core.ListMultipartUploads", errs.Other, err)
	}
	return resp, nil
}
