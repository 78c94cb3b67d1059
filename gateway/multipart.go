package gateway

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/wolke-cloud/wolke/core"
	"github.com/wolke-cloud/wolke/iam/sigv4"
	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/meta/metapb"
)

// Multipart limits of S3.
const (
	MinPartSize = 5 << 20 // every part but the last
	MaxParts    = 10000
)

func (s *Server) createUpload(ctx context.Context, rq *request) error {
	tmpl, err := objectTemplate(rq)
	if err != nil {
		return err
	}
	enc, err := writeEncryption(rq.r.Header)
	if err != nil {
		return err
	}
	id, err := s.objects.CreateMultipartUploadWith(ctx, tmpl, enc)
	if err != nil {
		return bucketErr(err)
	}
	if enc != nil {
		setEncryptionRequested(rq.w, enc)
	}
	return writeXML(rq.w, initiateMultipartUploadResult{NS: s3NS, Bucket: rq.bucket, Key: rq.key, UploadID: id})
}

func partNumber(q url.Values) (int32, error) {
	n, err := strconv.Atoi(q.Get("partNumber"))
	if err != nil || n < 1 || n > MaxParts {
		return 0, apiErr(sigv4.CodeInvalidArgument, "part number must be an integer between 1 and 10000, inclusive")
	}
	return int32(n), nil
}

func (s *Server) uploadPart(ctx context.Context, rq *request) error {
	n, err := partNumber(rq.q)
	if err != nil {
		return err
	}
	if err := checkKey(rq.key); err != nil {
		return err
	}
	body, size, err := s.body(rq, true)
	if err != nil {
		return err
	}
	key, err := customerKey(rq.r.Header, ssecPrefix)
	if err != nil {
		return err
	}
	part, err := s.objects.UploadPartWith(ctx, rq.bucket, rq.key, rq.q.Get("uploadId"), n, body, size,
		core.PartOptions{Hashes: requestHashes(rq.r.Header), CustomerKey: key})
	if f := body.failure(); f != nil {
		return f
	}
	if err != nil {
		return s.missing(ctx, rq.bucket, err, codeNoSuchUpload)
	}
	rq.w.Header().Set("ETag", part.GetEtag())
	for alg, v := range part.GetChecksums() {
		rq.w.Header()["X-Amz-Checksum-"+canonicalAlg(alg)] = []string{v}
	}
	rq.w.WriteHeader(http.StatusOK)
	return nil
}

func unquote(etag string) string { return strings.Trim(strings.TrimSpace(etag), `"`) }

// uploadedParts lists every part of an upload.
func (s *Server) uploadedParts(ctx context.Context, rq *request) (map[int32]*metapb.Part, error) {
	parts := map[int32]*metapb.Part{}
	var marker int32
	for {
		resp, err := s.objects.ListParts(ctx, &metapb.ListPartsRequest{
			Bucket: rq.bucket, Key: rq.key, UploadId: rq.q.Get("uploadId"), PartNumberMarker: marker, MaxParts: 1000,
		})
		if err != nil {
			return nil, s.missing(ctx, rq.bucket, err, codeNoSuchUpload)
		}
		for _, p := range resp.GetParts() {
			parts[p.GetNumber()] = p
		}
		next := resp.GetNextPartNumberMarker()
		if !resp.GetTruncated() || next <= marker {
			return parts, nil
		}
		marker = next
	}
}

func (s *Server) completeUpload(ctx context.Context, rq *request) error {
	body, _, err := s.body(rq, false)
	if err != nil {
		return err
	}
	var req completeMultipartUpload
	if err := readXML(body, 4<<20, &req); err != nil {
		return err
	}
	if len(req.Parts) == 0 || len(req.Parts) > MaxParts {
		return apiErr(codeMalformedXML, "the XML you provided was not well-formed or did not validate against our published schema")
	}
	opts, err := writeConditions(rq.r.Header)
	if err != nil {
		return err
	}
	for i, p := range req.Parts {
		if i > 0 && p.PartNumber <= req.Parts[i-1].PartNumber {
			return apiErr(codeInvalidPartOrder, "the list of parts was not in ascending order")
		}
	}
	uploaded, err := s.uploadedParts(ctx, rq)
	if err != nil {
		return err
	}
	done := make([]*metapb.CompletedPart, 0, len(req.Parts))
	used := make([]*metapb.Part, 0, len(req.Parts))
	for i, p := range req.Parts {
		up, ok := uploaded[p.PartNumber]
		if !ok || unquote(up.GetEtag()) != unquote(p.ETag) || !sameChecksums(p.partChecksums.byAlg(), up.GetChecksums()) {
			return apiErr(codeInvalidPart, "one or more of the specified parts could not be found or its entity tag did not match")
		}
		used = append(used, up)
		if i < len(req.Parts)-1 && up.GetSize() < MinPartSize {
			return apiErr(codeEntityTooSmall, "your proposed upload is smaller than the minimum allowed object size")
		}
		done = append(done, &metapb.CompletedPart{Number: p.PartNumber, Etag: up.GetEtag()})
	}
	if wantsComposite(rq.r.Header) {
		sums, ok := compositeChecksums(used)
		if !ok {
			return apiErr(codeInvalidPart, "a part's checksum is malformed")
		}
		opts.Checksums = sums
	}
	obj, err := s.objects.CompleteMultipartUploadWith(ctx, rq.bucket, rq.key, rq.q.Get("uploadId"), done, opts)
	if errs.Is(err, errs.Invalid) && sigv4.CodeOf(err) == "" {
		return apiErr(codeInvalidPart, "one or more of the specified parts could not be used")
	}
	if err != nil {
		return s.writeFailed(ctx, rq, opts, s.missing(ctx, rq.bucket, err, codeNoSuchUpload))
	}
	setVersion(rq.w, obj, rq.bucketRec)
	setSSEHeaders(rq.w, obj)
	loc := url.URL{Scheme: "http", Host: rq.r.Host, Path: "/" + rq.bucket + "/" + rq.key}
	if rq.r.TLS != nil {
		loc.Scheme = "https"
	}
	return writeXML(rq.w, completeMultipartUploadResult{
		NS: s3NS, Location: loc.String(), Bucket: rq.bucket, Key: rq.key, ETag: obj.GetEtag(),
	})
}

func (s *Server) abortUpload(ctx context.Context, rq *request) error {
	if err := s.objects.AbortMultipartUpload(ctx, rq.bucket, rq.key, rq.q.Get("uploadId")); err != nil {
		return s.missing(ctx, rq.bucket, err, codeNoSuchUpload)
	}
	rq.w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) listParts(ctx context.Context, rq *request) error {
	max, err := intParam(rq.q, "max-parts", 1000, 1000)
	if err != nil {
		return err
	}
	marker, err := intParam(rq.q, "part-number-marker", 0, MaxParts)
	if err != nil {
		return err
	}
	own := ownerOf(rq.auth.Credential)
	out := listPartsResult{
		NS: s3NS, Bucket: rq.bucket, Key: rq.key, UploadID: rq.q.Get("uploadId"), Initiator: own, Owner: own,
		StorageClass: "STANDARD", PartNumberMarker: int32(marker), MaxParts: int32(max),
	}
	if max > 0 {
		resp, err := s.objects.ListParts(ctx, &metapb.ListPartsRequest{
			Bucket: rq.bucket, Key: rq.key, UploadId: out.UploadID, PartNumberMarker: int32(marker), MaxParts: int32(max),
		})
		if err != nil {
			return s.missing(ctx, rq.bucket, err, codeNoSuchUpload)
		}
		for _, p := range resp.GetParts() {
			out.Parts = append(out.Parts, partXML{
				PartNumber: p.GetNumber(), LastModified: isoTime(p.GetMtimeUnixNano()), ETag: p.GetEtag(), Size: p.GetSize(),
			})
		}
		out.IsTruncated = resp.GetTruncated()
		out.NextPartNumberMarker = resp.GetNextPartNumberMarker()
	}
	return writeXML(rq.w, out)
}

func (s *Server) listUploads(ctx context.Context, rq *request) error {
	q := rq.q
	if q.Get("delimiter") != "" {
		return apiErr(codeNotImplemented, "delimiter in ListMultipartUploads is not implemented")
	}
	max, err := intParam(q, "max-uploads", 1000, 1000)
	if err != nil {
		return err
	}
	enc, et, err := keyEncoder(q)
	if err != nil {
		return err
	}
	out := listMultipartUploadsResult{
		NS: s3NS, Bucket: rq.bucket, KeyMarker: enc(q.Get("key-marker")), UploadIDMarker: q.Get("upload-id-marker"),
		Prefix: enc(q.Get("prefix")), EncodingType: et, MaxUploads: int32(max),
	}
	if max == 0 {
		if _, err := s.objects.GetBucket(ctx, rq.bucket); err != nil {
			return bucketErr(err)
		}
		return writeXML(rq.w, out)
	}
	resp, err := s.objects.ListMultipartUploads(ctx, &metapb.ListUploadsRequest{
		Bucket: rq.bucket, Prefix: q.Get("prefix"), KeyMarker: q.Get("key-marker"),
		UploadIdMarker: q.Get("upload-id-marker"), MaxUploads: int32(max),
	})
	if err != nil {
		return bucketErr(err)
	}
	own := ownerOf(rq.auth.Credential)
	for _, u := range resp.GetUploads() {
		out.Uploads = append(out.Uploads, uploadXML{
			Key: enc(u.GetKey()), UploadID: u.GetUploadId(), Initiator: own, Owner: own,
			StorageClass: "STANDARD", Initiated: isoTime(u.GetInitiatedUnixNano()),
		})
	}
	out.IsTruncated = resp.GetTruncated()
	out.NextKeyMarker = enc(resp.GetNextKeyMarker())
	out.NextUploadIDMarker = resp.GetNextUploadIdMarker()
	return writeXML(rq.w, out)
}
