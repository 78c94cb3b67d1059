package fsm

import (
	"context"
	"crypto/md5"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/meta/internal/kv"
	"github.com/wolke-cloud/wolke/meta/metaerr"
	"github.com/wolke-cloud/wolke/meta/metapb"
	"google.golang.org/protobuf/proto"
)

// MaxPartNumber is the largest part number S3 accepts.
const MaxPartNumber = 10000

func getUpload(r reader, op, bucket, key, id string) (*metapb.Upload, error) {
	if _, err := getBucket(r, op, bucket); err != nil {
		return nil, err
	}
	if err := checkObjectKey(op, key); err != nil {
		return nil, err
	}
	if err := checkID(op, "upload id", id); err != nil {
		return nil, errs.E(op, errs.NotFound, "upload "+id, metaerr.ErrNoSuchUpload)
	}
	u := &metapb.Upload{}
	found, err := getProto(r, uploadKey(bucket, key, id), u)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, errs.E(op, errs.NotFound, "upload "+id+" of "+key, metaerr.ErrNoSuchUpload)
	}
	return u, nil
}

// listParts returns an upload's parts in number order. A page (limit > 0)
// also ends once it holds segPageStripes stripes, so that an answer stays
// a few MiB (S3 lets ListParts return fewer parts than asked for).
func listParts(r reader, bucket, key, id string, after int32, limit int) ([]*metapb.Part, bool, error) {
	p := partPrefix(bucket, key, id)
	it, err := newIter(r, p, kv.PrefixEnd(p))
	if err != nil {
		return nil, false, err
	}
	defer it.Close()
	var parts []*metapb.Part
	stripes := 0
	for ok := it.SeekGE(binary.BigEndian.AppendUint32(append([]byte(nil), p...), uint32(after)+1)); ok; ok = it.Next() {
		if limit > 0 && (len(parts) == limit || stripes >= segPageStripes) {
			return parts, true, iterErr(it)
		}
		part := &metapb.Part{}
		if err := proto.Unmarshal(it.Value(), part); err != nil {
			return nil, false, errs.E("fsm.listParts", errs.Corrupt, err)
		}
		parts = append(parts, part)
		stripes += len(part.Stripes)
	}
	return parts, false, iterErr(it)
}

func (t *tx) createUpload(req *metapb.CreateUploadRequest) (proto.Message, error) {
	const op = "meta.CreateUpload"
	u := req.GetUpload()
	if u == nil {
		return nil, errs.E(op, errs.Invalid, "missing upload")
	}
	if _, err := getBucket(t.r, op, u.Bucket); err != nil {
		return nil, err
	}
	if err := checkObjectKey(op, u.Key); err != nil {
		return nil, err
	}
	if err := checkID(op, "upload id", u.UploadId); err != nil {
		return nil, err
	}
	_, found, err := getRaw(t.r, uploadKey(u.Bucket, u.Key, u.UploadId))
	if err != nil {
		return nil, err
	}
	if found {
		return nil, errs.Errorf(op, errs.Exists, "upload %s exists", u.UploadId)
	}
	if err := checkNoSegments(t.r, op, u.Bucket, u.Key, u.UploadId); err != nil {
		return nil, err
	}
	u = proto.CloneOf(u)
	if u.InitiatedUnixNano == 0 {
		u.InitiatedUnixNano = t.now
	}
	if err := t.set(op, uploadKey(u.Bucket, u.Key, u.UploadId), u); err != nil {
		return nil, err
	}
	return &metapb.CreateUploadResponse{Upload: u}, nil
}

func (t *tx) putPart(req *metapb.PutPartRequest) (proto.Message, error) {
	const op = "meta.PutPart"
	if _, err := getUpload(t.r, op, req.Bucket, req.Key, req.UploadId); err != nil {
		return nil, err
	}
	part := req.GetPart()
	if part == nil || part.Number < 1 || part.Number > MaxPartNumber {
		return nil, errs.Errorf(op, errs.Invalid, "part number must be 1..%d", MaxPartNumber)
	}
	if part.Size < 0 {
		return nil, errs.E(op, errs.Invalid, "negative part size")
	}
	key := partKey(req.Bucket, req.Key, req.UploadId, part.Number)
	old := &metapb.Part{}
	found, err := getProto(t.r, key, old)
	if err != nil {
		return nil, err
	}
	part = proto.CloneOf(part)
	if part.MtimeUnixNano == 0 {
		part.MtimeUnixNano = t.now
	}
	if err := t.set(op, key, part); err != nil {
		return nil, err
	}
	if err := t.consumeIntent(op, req.IntentId); err != nil {
		return nil, err
	}
	ref := &metapb.StripeRef{Bucket: req.Bucket, Key: req.Key, UploadId: req.UploadId, PartNumber: part.Number}
	if err := t.hintStale(op, part.Stripes, ref); err != nil {
		return nil, err
	}
	resp := &metapb.PutPartResponse{}
	if found {
		resp.Replaced = old
	}
	return resp, nil
}

// multipartETag is S3's ETag of a completed upload: the MD5 of the
// concatenated binary MD5s of the parts, a dash and the part count.
func multipartETag(md5s [][]byte) string {
	h := md5.New()
	for _, m := range md5s {
		h.Write(m)
	}
	return fmt.Sprintf(`"%s-%d"`, hex.EncodeToString(h.Sum(nil)), len(md5s))
}

func (t *tx) completeUpload(req *metapb.CompleteUploadRequest) (proto.Message, error) {
	const op = "meta.CompleteUpload"
	u, err := getUpload(t.r, op, req.Bucket, req.Key, req.UploadId)
	if err != nil {
		return nil, err
	}
	if len(req.Parts) == 0 {
		return nil, errs.E(op, errs.Invalid, "no parts listed", metaerr.ErrInvalidPart)
	}
	all, err := partSummaries(t.r, req.Bucket, req.Key, req.UploadId)
	if err != nil {
		return nil, err
	}
	byNum := make(map[int32]*metapb.Part, len(all))
	for _, p := range all {
		byNum[p.Number] = p
	}
	obj := &metapb.Object{}
	if u.Tmpl != nil {
		obj = proto.CloneOf(u.Tmpl)
	}
	obj.Bucket, obj.Key, obj.VersionId = req.Bucket, req.Key, req.VersionId
	obj.MtimeUnixNano = req.MtimeUnixNano
	obj.Inline, obj.Stripes, obj.Size, obj.DeleteMarker, obj.PartSizes, obj.PartNumbers = nil, nil, 0, false, nil, nil
	// The parts become the object's segments where they are: completing
	// copies no stripe, whatever the number of parts.
	obj.SegmentsUploadId = req.UploadId
	var sealed int64
	md5s := make([][]byte, 0, len(req.Parts))
	used := make(map[int32]bool, len(req.Parts))
	for i, cp := range req.Parts {
		if i > 0 && cp.Number <= req.Parts[i-1].Number {
			return nil, errs.E(op, errs.Invalid, fmt.Sprintf("part %d listed after part %d", cp.Number, req.Parts[i-1].Number), metaerr.ErrInvalidPartOrder)
		}
		p, ok := byNum[cp.Number]
		if !ok {
			return nil, errs.E(op, errs.Invalid, fmt.Sprintf("part %d was not uploaded", cp.Number), metaerr.ErrInvalidPart)
		}
		if trimETag(cp.Etag) != trimETag(p.Etag) {
			return nil, errs.E(op, errs.Invalid, fmt.Sprintf("part %d: etag %s does not match %s", cp.Number, cp.Etag, p.Etag), metaerr.ErrInvalidPart)
		}
		sum, err := hex.DecodeString(strings.ToLower(trimETag(p.Etag)))
		if err != nil || len(sum) != md5.Size {
			return nil, errs.E(op, errs.Invalid, fmt.Sprintf("part %d: etag %s is not an MD5", cp.Number, p.Etag), metaerr.ErrInvalidPart)
		}
		if i < len(req.Parts)-1 && p.Size < req.MinPartSize {
			return nil, errs.E(op, errs.Invalid, fmt.Sprintf("part %d is %d bytes, less than the minimum %d", cp.Number, p.Size, req.MinPartSize), metaerr.ErrEntityTooSmall)
		}
		md5s = append(md5s, sum)
		used[cp.Number] = true
		obj.Size += p.Size
		obj.PartNumbers = append(obj.PartNumbers, cp.Number)
		if obj.Encryption != nil {
			sealed += p.Size
			obj.PartSizes = append(obj.PartSizes, p.PlainSize)
		} else {
			obj.PartSizes = append(obj.PartSizes, p.Size)
		}
	}
	if obj.Encryption != nil {
		// Encrypted parts: the stripes hold sealed blocks, clients see the
		// plaintext sizes.
		obj.Encryption.StoredSize = sealed
		obj.Size = 0
		for _, n := range obj.PartSizes {
			obj.Size += n
		}
	}
	obj.Etag = multipartETag(md5s)
	obj.Checksums = req.Checksums
	stored, replaced, err := t.commitObject(op, obj, req.IfMatch, req.IfNoneMatch)
	if err != nil {
		return nil, err
	}
	resp := &metapb.CompleteUploadResponse{Object: stored, Replaced: replaced}
	for _, p := range all {
		if used[p.Number] {
			continue // a segment of the object now
		}
		key := partKey(req.Bucket, req.Key, req.UploadId, p.Number)
		full := &metapb.Part{}
		if _, err := getProto(t.r, key, full); err != nil {
			return nil, err
		}
		resp.Unused = append(resp.Unused, full)
		if err := t.del(op, key); err != nil {
			return nil, err
		}
	}
	if err := t.del(op, uploadKey(req.Bucket, req.Key, req.UploadId)); err != nil {
		return nil, err
	}
	return resp, nil
}

func (t *tx) abortUpload(req *metapb.AbortUploadRequest) (proto.Message, error) {
	const op = "meta.AbortUpload"
	if _, err := getUpload(t.r, op, req.Bucket, req.Key, req.UploadId); err != nil {
		return nil, err
	}
	if big, err := partsTooBig(t.r, req.Bucket, req.Key, req.UploadId); err != nil || big {
		if err != nil {
			return nil, err
		}
		// Too many to answer with: the parts stay, as garbage segments.
		head := &metapb.Object{Bucket: req.Bucket, Key: req.Key, SegmentsUploadId: req.UploadId}
		if err := t.markSegmentsGarbage(op, head); err != nil {
			return nil, err
		}
		if err := t.del(op, uploadKey(req.Bucket, req.Key, req.UploadId)); err != nil {
			return nil, err
		}
		return &metapb.AbortUploadResponse{SegmentsGarbage: true}, nil
	}
	parts, _, err := listParts(t.r, req.Bucket, req.Key, req.UploadId, 0, 0)
	if err != nil {
		return nil, err
	}
	for _, p := range parts {
		if err := t.del(op, partKey(req.Bucket, req.Key, req.UploadId, p.Number)); err != nil {
			return nil, err
		}
	}
	if err := t.del(op, uploadKey(req.Bucket, req.Key, req.UploadId)); err != nil {
		return nil, err
	}
	return &metapb.AbortUploadResponse{Parts: parts}, nil
}

// GetUpload returns an upload in progress.
func (f *FSM) GetUpload(_ context.Context, req *metapb.GetUploadRequest) (*metapb.GetUploadResponse, error) {
	var resp *metapb.GetUploadResponse
	err := f.view(func(r reader) error {
		u, err := getUpload(r, "meta.GetUpload", req.Bucket, req.Key, req.UploadId)
		resp = &metapb.GetUploadResponse{Upload: u}
		return err
	})
	if err != nil {
		return nil, err
	}
	return resp, nil
}

// ListParts lists an upload's parts after part_number_marker.
func (f *FSM) ListParts(_ context.Context, req *metapb.ListPartsRequest) (*metapb.ListPartsResponse, error) {
	const op = "meta.ListParts"
	limit, err := pageSize(op, req.MaxParts)
	if err != nil {
		return nil, err
	}
	if req.PartNumberMarker < 0 {
		return nil, errs.E(op, errs.Invalid, "negative part number marker")
	}
	resp := &metapb.ListPartsResponse{}
	err = f.view(func(r reader) error {
		u, err := getUpload(r, op, req.Bucket, req.Key, req.UploadId)
		if err != nil {
			return err
		}
		resp.Upload = u
		resp.Parts, resp.Truncated, err = listParts(r, req.Bucket, req.Key, req.UploadId, req.PartNumberMarker, limit)
		return err
	})
	if err != nil {
		return nil, err
	}
	if resp.Truncated && len(resp.Parts) > 0 {
		resp.NextPartNumberMarker = resp.Parts[len(resp.Parts)-1].Number
	}
	return resp, nil
}

// ListUploads lists uploads in progress by key, then upload id, after
// (key_marker, upload_id_marker) as S3 does.
func (f *FSM) ListUploads(_ context.Context, req *metapb.ListUploadsRequest) (*metapb.ListUploadsResponse, error) {
	const op = "meta.ListUploads"
	limit, err := pageSize(op, req.MaxUploads)
	if err != nil {
		return nil, err
	}
	resp := &metapb.ListUploadsResponse{}
	err = f.view(func(r reader) error {
		base := uploadPrefix(req.Bucket)
		it, err := bucketPrefixIter(r, op, req.Bucket, base, req.Prefix)
		if err != nil {
			return err
		}
		defer it.Close()
		ok := it.First()
		if req.KeyMarker != "" {
			start := append(append(append([]byte(nil), base...), req.KeyMarker...), 1)
			if req.UploadIdMarker != "" {
				start = append(uploadKey(req.Bucket, req.KeyMarker, req.UploadIdMarker), 0)
			}
			if string(start) > string(base)+req.Prefix {
				ok = it.SeekGE(start)
			}
		}
		for ; ok; ok = it.Next() {
			if len(resp.Uploads) == limit {
				resp.Truncated = true
				break
			}
			u := &metapb.Upload{}
			if err := proto.Unmarshal(it.Value(), u); err != nil {
				return errs.E(op, errs.Corrupt, err)
			}
			if !strings.HasPrefix(u.Key, req.Prefix) {
				break
			}
			resp.Uploads = append(resp.Uploads, u)
			resp.NextKeyMarker, resp.NextUploadIdMarker = u.Key, u.UploadId
		}
		return iterErr(it)
	})
	if err != nil {
		return nil, err
	}
	if !resp.Truncated {
		resp.NextKeyMarker, resp.NextUploadIdMarker = "", ""
	}
	return resp, nil
}
