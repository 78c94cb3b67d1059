package gateway

import (
	"bytes"
	"context"
	"encoding/xml"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/wolke-cloud/wolke/core"
	"github.com/wolke-cloud/wolke/iam/sigv4"
	"github.com/wolke-cloud/wolke/meta/metapb"
)

type copyObjectResult struct {
	XMLName      xml.Name `xml:"CopyObjectResult"`
	NS           string   `xml:"xmlns,attr"`
	ETag         string   `xml:"ETag"`
	LastModified string   `xml:"LastModified"`
}

type copyPartResult struct {
	XMLName      xml.Name `xml:"CopyPartResult"`
	NS           string   `xml:"xmlns,attr"`
	ETag         string   `xml:"ETag"`
	LastModified string   `xml:"LastModified"`
	resultChecksums
}

// copySource is what x-amz-copy-source names.
type copySource struct {
	bucket, key, versionID string
}

// parseCopySource reads "[/]bucket/key[?versionId=id]", the key
// URL-encoded.
func parseCopySource(v string) (copySource, error) {
	bad := apiErr(sigv4.CodeInvalidArgument, "copy source must be of the form bucket/key, URL-encoded")
	path, query, _ := strings.Cut(v, "?")
	path, err := url.PathUnescape(path)
	if err != nil {
		return copySource{}, bad
	}
	bucket, key, ok := strings.Cut(strings.TrimPrefix(path, "/"), "/")
	if !ok || bucket == "" || key == "" {
		return copySource{}, bad
	}
	src := copySource{bucket: bucket, key: key}
	if query != "" {
		q, err := url.ParseQuery(query)
		if err != nil {
			return copySource{}, bad
		}
		src.versionID = q.Get("versionId")
		if q.Has("versionId") && src.versionID == "" {
			return copySource{}, apiErr(sigv4.CodeInvalidArgument, "the version id of the copy source is empty")
		}
	}
	return src, nil
}

// copySourceObject finds the source version and checks the
// x-amz-copy-source-if-* conditions against it.
func (s *Server) copySourceObject(ctx context.Context, rq *request) (copySource, *metapb.Object, error) {
	src, err := parseCopySource(rq.r.Header.Get("X-Amz-Copy-Source"))
	if err != nil {
		return src, nil, err
	}
	obj, err := s.objects.HeadObject(ctx, src.bucket, src.key, src.versionID)
	if err != nil {
		return src, nil, s.versionMissing(ctx, src.bucket, err)
	}
	if obj.GetDeleteMarker() {
		return src, nil, apiErr(sigv4.CodeInvalidRequest, "the source of a copy request may not specifically refer to a delete marker by version id")
	}
	if obj.GetSize() > MaxObjectSize {
		return src, nil, apiErr(sigv4.CodeInvalidRequest, "the specified copy source is larger than the maximum allowable size for a copy source: 5368709120")
	}
	h := rq.r.Header
	cond := http.Header{}
	for _, name := range []string{"If-Match", "If-None-Match", "If-Modified-Since", "If-Unmodified-Since"} {
		if v := h.Get("X-Amz-Copy-Source-" + name); v != "" {
			cond.Set(name, v)
		}
	}
	if preconditions(cond, obj.GetEtag(), time.Unix(0, obj.GetMtimeUnixNano())) != 0 {
		return src, nil, apiErr(codePreconditionFailed, "at least one of the pre-conditions you specified did not hold")
	}
	return src, obj, nil
}

// copyTemplate builds the metadata of a copy: the source's or the
// request's, as the metadata and tagging directives say.
func copyTemplate(rq *request, src *metapb.Object) (*metapb.Object, error) {
	h := rq.r.Header
	var tmpl *metapb.Object
	switch d := h.Get("X-Amz-Metadata-Directive"); d {
	case "", "COPY":
		if err := checkKey(rq.key); err != nil {
			return nil, err
		}
		if err := unsupportedWriteHeaders(h); err != nil {
			return nil, err
		}
		acl, err := objectACLHeader(rq)
		if err != nil {
			return nil, err
		}
		sc, err := requestStorageClass(h) // S3 copies into STANDARD unless told otherwise
		if err != nil {
			return nil, err
		}
		tmpl = &metapb.Object{
			Bucket: rq.bucket, Key: rq.key, ContentType: src.GetContentType(),
			UserMeta: src.GetUserMeta(), Headers: src.GetHeaders(), Acl: acl, StorageClass: sc,
		}
	case "REPLACE":
		var err error
		if tmpl, err = objectTemplate(rq); err != nil {
			return nil, err
		}
	default:
		return nil, apiErr(sigv4.CodeInvalidArgument, "unknown metadata directive "+strconv.Quote(d))
	}
	switch d := h.Get("X-Amz-Tagging-Directive"); d {
	case "", "COPY":
		tmpl.Tags = src.GetTags()
	case "REPLACE":
		tags, err := headerTags(h)
		if err != nil {
			return nil, err
		}
		tmpl.Tags = tags
	default:
		return nil, apiErr(sigv4.CodeInvalidArgument, "unknown tagging directive "+strconv.Quote(d))
	}
	return tmpl, nil
}

func (s *Server) copyObject(ctx context.Context, rq *request) error {
	src, obj, err := s.copySourceObject(ctx, rq)
	if err != nil {
		return err
	}
	opts, err := writeConditions(rq.r.Header)
	if err != nil {
		return err
	}
	if opts.SourceKey, err = readKey(rq.r.Header, ssecCopyPrefix, obj); err != nil {
		return err
	}
	if src.bucket == rq.bucket && src.key == rq.key && rq.r.Header.Get("X-Amz-Metadata-Directive") != "REPLACE" && rq.r.Header.Get("X-Amz-Storage-Class") == "" &&
		(src.versionID == "" || obj.GetIsLatest()) && opts.Encryption == nil {
		return apiErr(sigv4.CodeInvalidRequest, "this copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes")
	}
	tmpl, err := copyTemplate(rq, obj)
	if err != nil {
		return err
	}
	opts.Hashes = checksumHashes(obj, rq.r.Header)
	out, err := s.objects.CopyObject(ctx, obj, tmpl, opts)
	if err != nil {
		return s.writeFailed(ctx, rq, opts, bucketErr(err))
	}
	setCopySourceVersion(rq.w, obj)
	setVersion(rq.w, out, rq.bucketRec)
	setSSEHeaders(rq.w, out)
	return writeXML(rq.w, copyObjectResult{NS: s3NS, ETag: out.GetEtag(), LastModified: isoTime(out.GetMtimeUnixNano())})
}

func setCopySourceVersion(w http.ResponseWriter, src *metapb.Object) {
	if v := src.GetVersionId(); v != "" && v != "null" {
		w.Header().Set("X-Amz-Copy-Source-Version-Id", v)
	}
}

// sourceRange reads x-amz-copy-source-range ("bytes=first-last") against
// the source's size; absent, the whole source.
func sourceRange(spec string, size int64) (off, length int64, err error) {
	if spec == "" {
		return 0, size, nil
	}
	bad := apiErr(sigv4.CodeInvalidArgument, "the x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy")
	rest, ok := strings.CutPrefix(spec, "bytes=")
	if !ok {
		return 0, 0, bad
	}
	a, b, ok := strings.Cut(rest, "-")
	if !ok {
		return 0, 0, bad
	}
	first, err1 := strconv.ParseInt(a, 10, 64)
	last, err2 := strconv.ParseInt(b, 10, 64)
	if err1 != nil || err2 != nil || first < 0 || last < first {
		return 0, 0, bad
	}
	if last >= size {
		return 0, 0, apiErr(codeInvalidRange, "range specified is not valid for source object of size: "+strconv.FormatInt(size, 10))
	}
	return first, last - first + 1, nil
}

func (s *Server) uploadPartCopy(ctx context.Context, rq *request) error {
	n, err := partNumber(rq.q)
	if err != nil {
		return err
	}
	if err := checkKey(rq.key); err != nil {
		return err
	}
	_, obj, err := s.copySourceObject(ctx, rq)
	if err != nil {
		return err
	}
	srcKey, err := readKey(rq.r.Header, ssecCopyPrefix, obj)
	if err != nil {
		return err
	}
	up, err := s.upload(ctx, rq)
	if err != nil {
		return err
	}
	dstKey, err := readKey(rq.r.Header, ssecPrefix, up.GetTmpl())
	if err != nil {
		return err
	}
	off, length, err := sourceRange(rq.r.Header.Get("X-Amz-Copy-Source-Range"), obj.GetSize())
	if err != nil {
		return err
	}
	// The part is the source's plaintext, decrypted with the source's
	// key and sealed with the upload's, hashed for the upload's checksum.
	var body io.ReadCloser = io.NopCloser(bytes.NewReader(nil))
	if length > 0 {
		if body, err = s.objects.OpenObjectWith(ctx, obj, off, length, core.ReadOptions{CustomerKey: srcKey}); err != nil {
			return bucketErr(err)
		}
	}
	defer body.Close()
	part, err := s.objects.UploadPartWith(ctx, rq.bucket, rq.key, rq.q.Get("uploadId"), n, body, length,
		core.PartOptions{Hashes: checksumOf(up).copyHashes(), CustomerKey: dstKey})
	if err != nil {
		return s.missing(ctx, rq.bucket, err, codeNoSuchUpload)
	}
	setCopySourceVersion(rq.w, obj)
	setSSEHeaders(rq.w, up.GetTmpl())
	return writeXML(rq.w, copyPartResult{NS: s3NS, ETag: part.GetEtag(), LastModified: isoTime(part.GetMtimeUnixNano()),
		resultChecksums: checksumElements(part.GetChecksums())})
}
