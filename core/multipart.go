package core

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"hash"
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
	return s.CreateMultipartUploadWith(ctx, tmpl, nil)
}

// CreateMultipartUploadWith is CreateMultipartUpload whose parts, and so
// the object, are encrypted at rest when enc is set: the upload keeps the
// object's data key, each part seals its blocks with its part number in
// the nonces.
func (s *Store) CreateMultipartUploadWith(ctx context.Context, tmpl *metapb.Object, enc *Encryption) (string, error) {
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
	t.Size, t.Etag, t.Inline, t.Stripes, t.Encryption = 0, "", nil, nil, nil
	if enc != nil {
		if t.Encryption, _, err = s.newSealRecord(enc); err != nil {
			return "", err
		}
	}
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
	return s.UploadPartWith(ctx, bucket, key, uploadID, partNumber, body, size, PartOptions{})
}

// PartOptions are the extras of UploadPartWith.
type PartOptions struct {
	// Hashes (S3 checksum algorithm → fresh hash) are fed the body; their
	// sums, base64, become the part's checksums.
	Hashes map[string]hash.Hash
	// CustomerKey is the SSE-C key of an upload encrypted with one.
	CustomerKey []byte
}

// UploadPartWith is UploadPart with checksums, and the key of an SSE-C
// upload (see PartOptions). A part of an encrypted upload is sealed: its
// size is what the stripes hold, plain_size what the client sent.
func (s *Store) UploadPartWith(ctx context.Context, bucket, key, uploadID string, partNumber int32, body io.Reader, size int64, opts PartOptions) (*metapb.Part, error) {
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
	rec := resp.GetUpload().GetTmpl().GetEncryption()
	if rec != nil {
		body = hashBody(body, opts.Hashes)
	}
	hs := bodyHashes(h, opts.Hashes, rec == nil)
	var seal *sealer
	if rec != nil {
		dk, err := s.dataKey(rec, opts.CustomerKey)
		if err != nil {
			return nil, err
		}
		if seal, err = sealerWith(body, size, dk, uint32(partNumber), rec); err != nil {
			return nil, err
		}
		body, size = seal, sealedSize(size)
	}
	it := s.newIntent(ctx)
	stripes, n, err := s.writeBody(ctx, c, body, size, hs, it)
	if err != nil {
		it.close(ctx, false)
		return nil, errs.E(op, errs.Other, err)
	}
	part := &metapb.Part{Number: partNumber, Etag: quotedETag(h), Size: n, MtimeUnixNano: s.now().UnixNano(), Stripes: stripes,
		Checksums: checksums(PutOptions{Hashes: opts.Hashes})}
	if seal != nil {
		part.PlainSize = seal.size
		if rec := seal.record; rec.GetAlgorithm() == AlgSSES3 {
			part.Etag = quotedETag(seal.md5)
		}
	}
	intentID, err := it.seal()
	if err != nil {
		s.deleteStripes(ctx, stripes)
		it.close(ctx, false)
		return nil, errs.E(op, errs.Other, err)
	}
	put, err := s.meta.PutPart(ctx, &metapb.PutPartRequest{Bucket: bucket, Key: key, UploadId: uploadID, Part: part, IntentId: intentID})
	if err != nil {
		ok := s.settlePart(ctx, bucket, key, uploadID, part, err, it)
		it.close(ctx, ok)
		if ok {
			return part, nil
		}
		return nil, errs.E(op, errs.Other, err)
	}
	it.close(ctx, true)
	if old := put.GetReplaced(); old != nil {
		s.freeParts(ctx, "part replaced", bucket, key, &metapb.Object{Stripes: stripes}, []*metapb.Part{old})
	}
	return part, nil
}

// settlePart is settleObject for parts: it reports whether meta recorded
// part after all, deletes the part's shards when it surely did not, and
// leaves them to garbage collection when that stays unknown.
func (s *Store) settlePart(ctx context.Context, bucket, key, uploadID string, part *metapb.Part, err error, it *intent) bool {
	if len(part.GetStripes()) == 0 {
		return false
	}
	if definite(err) {
		s.deleteStripes(ctx, part.GetStripes())
		return false
	}
	fenced := it.fence(ctx)
	lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), freeTimeout)
	defer cancel()
	resp, lookErr := s.meta.ListParts(lctx, &metapb.ListPartsRequest{
		Bucket: bucket, Key: key, UploadId: uploadID, PartNumberMarker: part.GetNumber() - 1, MaxParts: 1})
	if lookErr == nil {
		for _, p := range resp.GetParts() {
			if p.GetNumber() == part.GetNumber() && sameFirstStripe(p.GetStripes(), part.GetStripes()) {
				return true
			}
		}
	}
	// NotFound: the upload is gone, and a part applied later would find
	// it gone too.
	if errs.Is(lookErr, errs.NotFound) || fenced && lookErr == nil {
		s.deleteStripes(ctx, part.GetStripes())
		return false
	}
	s.log.Warn("part commit outcome unknown; shards left for garbage collection",
		"bucket", bucket, "key", key, "upload", uploadID, "part", part.GetNumber(), "err", err, "lookup_err", lookErr)
	s.metrics.unsettled.Inc()
	return false
}

// CompleteMultipartUpload builds the object from the listed parts (meta
// checks them: ascending, etags matching, all but the last at least
// MinPartSize) and commits it; the chunks of parts not listed and of
// versions replaced are freed.
func (s *Store) CompleteMultipartUpload(ctx context.Context, bucket, key, uploadID string, parts []*metapb.CompletedPart) (*metapb.Object, error) {
	return s.CompleteMultipartUploadWith(ctx, bucket, key, uploadID, parts, PutOptions{})
}

// CompleteMultipartUploadWith is CompleteMultipartUpload with conditions
// on the version the object replaces (see PutOptions).
func (s *Store) CompleteMultipartUploadWith(ctx context.Context, bucket, key, uploadID string, parts []*metapb.CompletedPart, opts PutOptions) (*metapb.Object, error) {
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
		IfMatch:       opts.IfMatch,
		IfNoneMatch:   opts.IfNoneMatch,
		Checksums:     opts.Checksums,
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
	if resp.GetSegmentsGarbage() { // too many parts to list: paged by the freer
		s.free.enqueue(ctx, freeJob{why: "upload aborted", bucket: bucket, key: key,
			segments: &metapb.Object{Bucket: bucket, Key: key, SegmentsUploadId: uploadID}})
	}
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
