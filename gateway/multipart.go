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
	sum, err := createChecksum(rq.r.Header)
	if err != nil {
		return err
	}
	tmpl.Checksums = sum.record()
	id, err := s.objects.CreateMultipartUploadWith(ctx, tmpl, enc)
	if err != nil {
		return bucketErr(err)
	}
	if enc != nil {
		setEncryptionRequested(rq.w, enc)
	}
	sum.setHeaders(rq.w)
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
	up, err := s.upload(ctx, rq)
	if err != nil {
		return err
	}
	hashes, err := checksumOf(up).partHashes(requestHashes(rq.r.Header))
	if err != nil {
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
		core.PartOptions{Hashes: hashes, CustomerKey: key})
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

// upload reads the record of the upload a request names (without its
// parts).
func (s *Server) upload(ctx context.Context, rq *request) (*metapb.Upload, error) {
	resp, err := s.objects.ListParts(ctx, &metapb.ListPartsRequest{
		Bucket: rq.bucket, Key: rq.key, UploadId: rq.q.Get("uploadId"), PartNumberMarker: MaxParts, MaxParts: 1,
	})
	if err != nil {
		return nil, s.missing(ctx, rq.bucket, err, codeNoSuchUpload)
	}
	return resp.GetUpload(), nil
}

// uploadedParts lists every part of an upload, and returns the upload.
func (s *Server) uploadedParts(ctx context.Context, rq *request) (map[int32]*metapb.Part, *metapb.Upload, error) {
	parts := map[int32]*metapb.Part{}
	var marker int32
	for {
		resp, err := s.objects.ListParts(ctx, &metapb.ListPartsRequest{
			Bucket: rq.bucket, Key: rq.key, UploadId: rq.q.Get("uploadId"), PartNumberMarker: marker, MaxParts: 1000,
		})
		if err != nil {
			return nil, nil, s.missing(ctx, rq.bucket, err, codeNoSuchUpload)
		}
		for _, p := range resp.GetParts() {
			parts[p.GetNumber()] = p
		}
		next := resp.GetNextPartNumberMarker()
		if !resp.GetTruncated() || next <= marker {
			return parts, resp.GetUpload(), nil
		}
		marker = next
	}
}

func (s *Server) completeUpload(ctx context.Context, rq *request) error {
	orig := rq.r
	rq.r = withoutChecksumHeaders(orig)
	body, _, err := s.body(rq, false)
	rq.r = orig
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
	uploaded, up, err := s.uploadedParts(ctx, rq)
	if err != nil {
		return err
	}
	encrypted := up.GetTmpl().GetEncryption() != nil
	done := make([]*metapb.CompletedPart, 0, len(req.Parts))
	used := make([]*metapb.Part, 0, len(req.Parts))
	listed := make([]map[string]string, 0, len(req.Parts))
	sizes := make([]int64, 0, len(req.Parts))
	for i, p := range req.Parts {
		part, ok := uploaded[p.PartNumber]
		if !ok || unquote(part.GetEtag()) != unquote(p.ETag) || !sameChecksums(p.partChecksums.byAlg(), part.GetChecksums()) {
			return apiErr(codeInvalidPart, "one or more of the specified parts could not be found or its entity tag did not match")
		}
		used, listed = append(used, part), append(listed, p.partChecksums.byAlg())
		sizes = append(sizes, part.GetSize())
		if encrypted {
			sizes[i] = part.GetPlainSize()
		}
		if i < len(req.Parts)-1 && part.GetSize() < MinPartSize {
			return apiErr(codeEntityTooSmall, "your proposed upload is smaller than the minimum allowed object size")
		}
		done = append(done, &metapb.CompletedPart{Number: p.PartNumber, Etag: part.GetEtag()})
	}
	if opts.Checksums, err = checksumOf(up).completeChecksums(rq.r.Header, listed, used, sizes); err != nil {
		return err
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
		resultChecksums: resultChecksumsOf(obj.GetChecksums()),
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
			size := p.GetSize()
			if resp.GetUpload().GetTmpl().GetEncryption() != nil {
				size = p.GetPlainSize()
			}
			out.Parts = append(out.Parts, partXML{
				PartNumber: p.GetNumber(), LastModified: isoTime(p.GetMtimeUnixNano()), ETag: p.GetEtag(), Size: size,
				resultChecksums: checksumElements(p.GetChecksums()),
			})
		}
		out.StorageClass = storageClass(resp.GetUpload().GetTmpl())
		if c := checksumOf(resp.GetUpload()); c.alg != "" {
			out.ChecksumAlgorithm, out.ChecksumType = strings.ToUpper(c.alg), c.typ
		}
		out.IsTruncated = resp.GetTruncated()
		out.NextPartNumberMarker = resp.GetNextPartNumberMarker()
	}
	return writeXML(rq.w, out)
}

func (s *Server) listUploads(ctx context.Context, rq *request) error {
	q := rq.q
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
		Prefix: enc(q.Get("prefix")), EncodingType: et, MaxUploads: int32(max), Delimiter: enc(q.Get("delimiter")),
	}
	if max == 0 {
		if _, err := s.objects.GetBucket(ctx, rq.bucket); err != nil {
			return bucketErr(err)
		}
		return writeXML(rq.w, out)
	}
	page, err := s.uploadsPage(ctx, rq.bucket, q.Get("prefix"), q.Get("delimiter"), q.Get("key-marker"), q.Get("upload-id-marker"), max)
	if err != nil {
		return bucketErr(err)
	}
	own := ownerOf(rq.auth.Credential)
	for _, u := range page.uploads {
		out.Uploads = append(out.Uploads, uploadXML{
			Key: enc(u.GetKey()), UploadID: u.GetUploadId(), Initiator: own, Owner: own,
			StorageClass: storageClass(u.GetTmpl()), Initiated: isoTime(u.GetInitiatedUnixNano()),
		})
	}
	for _, p := range page.prefixes {
		out.CommonPrefixes = append(out.CommonPrefixes, commonPrefix{Prefix: enc(p)})
	}
	out.IsTruncated = page.truncated
	out.NextKeyMarker = enc(page.nextKey)
	out.NextUploadIDMarker = page.nextUploadID
	return writeXML(rq.w, out)
}
