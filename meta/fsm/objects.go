package fsm

import (
	"context"
	"strings"

	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/meta/internal/kv"
	"github.com/wolke-cloud/wolke/meta/metaerr"
	"github.com/wolke-cloud/wolke/meta/metapb"
	"google.golang.org/protobuf/proto"
)

// NullVersion is the version id of objects written while versioning is
// not enabled.
const NullVersion = "null"

// version is one stored version of a key.
type version struct {
	obj *metapb.Object
	seq uint64
}

// latestVersion returns the newest version of key, nil if there is none.
func latestVersion(r reader, bucket, key string) (*version, error) {
	p := objKeyPrefix(bucket, key)
	it, err := newIter(r, p, kv.PrefixEnd(p))
	if err != nil {
		return nil, err
	}
	defer it.Close()
	if !it.First() {
		return nil, iterErr(it)
	}
	_, seq, ok := splitVersionKey(objPrefix(bucket), it.Key())
	if !ok {
		return nil, errs.E("fsm.latestVersion", errs.Corrupt, "bad version key")
	}
	o := &metapb.Object{}
	if err := proto.Unmarshal(it.Value(), o); err != nil {
		return nil, errs.E("fsm.latestVersion", errs.Corrupt, err)
	}
	return &version{obj: o, seq: seq}, nil
}

// findVersion returns the version vid of key, nil if there is none.
func findVersion(r reader, bucket, key, vid string) (*version, error) {
	v, found, err := getRaw(r, vidxKey(bucket, key, vid))
	if err != nil || !found {
		return nil, err
	}
	if len(v) != 8 {
		return nil, errs.E("fsm.findVersion", errs.Corrupt, "bad version index")
	}
	seq := beUint64(v)
	o := &metapb.Object{}
	found, err = getProto(r, versionKey(bucket, key, seq), o)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, errs.E("fsm.findVersion", errs.Corrupt, "version index points nowhere")
	}
	return &version{obj: o, seq: seq}, nil
}

func (t *tx) removeVersion(op, bucket, key string, v *version) error {
	if err := t.del(op, versionKey(bucket, key, v.seq)); err != nil {
		return err
	}
	if err := t.markSegmentsGarbage(op, v.obj); err != nil {
		return err
	}
	return t.del(op, vidxKey(bucket, key, v.obj.VersionId))
}

// writeVersion stores o as the newest version of its key at seq t.idx.
func (t *tx) writeVersion(op string, o *metapb.Object) error {
	o.IsLatest = false
	if err := t.set(op, versionKey(o.Bucket, o.Key, t.idx), o); err != nil {
		return err
	}
	if err := t.w.Set(vidxKey(o.Bucket, o.Key, o.VersionId), be64(t.idx), nil); err != nil {
		return errs.E(op, errs.Internal, err)
	}
	return nil
}

func trimETag(s string) string { return strings.Trim(strings.TrimSpace(s), `"`) }

// checkConditions applies If-Match / If-None-Match against the latest
// version (a delete marker counts as no object).
func checkConditions(op string, latest *version, ifMatch, ifNoneMatch string) error {
	exists := latest != nil && !latest.obj.DeleteMarker
	if ifMatch != "" {
		if !exists {
			return errs.E(op, errs.Precondition, "If-Match: object does not exist", metaerr.ErrPreconditionFailed)
		}
		if ifMatch != "*" && trimETag(ifMatch) != trimETag(latest.obj.Etag) {
			return errs.E(op, errs.Precondition, "If-Match: etag differs", metaerr.ErrPreconditionFailed)
		}
	}
	if ifNoneMatch != "" && exists {
		if ifNoneMatch == "*" || trimETag(ifNoneMatch) == trimETag(latest.obj.Etag) {
			return errs.E(op, errs.Precondition, "If-None-Match: object exists", metaerr.ErrPreconditionFailed)
		}
	}
	return nil
}

// commitObject stores o as the newest version of its key following the
// bucket's versioning, and returns the stored object and the versions it
// replaced. o is not modified.
func (t *tx) commitObject(op string, o *metapb.Object, ifMatch, ifNoneMatch string) (*metapb.Object, []*metapb.Object, error) {
	if o == nil {
		return nil, nil, errs.E(op, errs.Invalid, "missing object")
	}
	b, err := getBucket(t.r, op, o.Bucket)
	if err != nil {
		return nil, nil, err
	}
	if err := checkObjectKey(op, o.Key); err != nil {
		return nil, nil, err
	}
	if o.Size < 0 {
		return nil, nil, errs.E(op, errs.Invalid, "negative size")
	}
	latest, err := latestVersion(t.r, o.Bucket, o.Key)
	if err != nil {
		return nil, nil, err
	}
	if err := checkConditions(op, latest, ifMatch, ifNoneMatch); err != nil {
		return nil, nil, err
	}
	o = proto.CloneOf(o)
	if o.MtimeUnixNano == 0 {
		o.MtimeUnixNano = t.now
	}
	var replaced []*metapb.Object
	if b.Versioning == "Enabled" {
		if err := checkID(op, "version id", o.VersionId); err != nil {
			return nil, nil, err
		}
		if o.VersionId == NullVersion {
			return nil, nil, errs.E(op, errs.Invalid, "version id null in a versioned bucket")
		}
		old, err := findVersion(t.r, o.Bucket, o.Key, o.VersionId)
		if err != nil {
			return nil, nil, err
		}
		if old != nil {
			return nil, nil, errs.Errorf(op, errs.Exists, "version %s exists", o.VersionId)
		}
	} else {
		o.VersionId = NullVersion
		old, err := findVersion(t.r, o.Bucket, o.Key, NullVersion)
		if err != nil {
			return nil, nil, err
		}
		if old != nil {
			if err := t.removeVersion(op, o.Bucket, o.Key, old); err != nil {
				return nil, nil, err
			}
			if !old.obj.DeleteMarker {
				replaced = append(replaced, old.obj)
			}
		}
	}
	if err := t.writeVersion(op, o); err != nil {
		return nil, nil, err
	}
	o.IsLatest = true
	return o, replaced, nil
}

func (t *tx) putObject(req *metapb.PutObjectRequest) (proto.Message, error) {
	o := req.GetObject()
	if o != nil && o.DeleteMarker {
		return nil, errs.E("meta.PutObject", errs.Invalid, "cannot put a delete marker")
	}
	if o.GetSegmentsUploadId() != "" {
		// Only CompleteUpload makes segments; a manifest copied from one
		// must not share (and later free) another version's.
		return nil, errs.E("meta.PutObject", errs.Invalid, "a put object cannot name segments")
	}
	stored, replaced, err := t.commitObject("meta.PutObject", o, req.IfMatch, req.IfNoneMatch)
	if err != nil {
		return nil, err
	}
	if err := t.consumeIntent("meta.PutObject", req.IntentId); err != nil {
		return nil, err
	}
	ref := &metapb.StripeRef{Bucket: stored.Bucket, Key: stored.Key, VersionId: stored.VersionId}
	if err := t.hintStale("meta.PutObject", stored.Stripes, ref); err != nil {
		return nil, err
	}
	return &metapb.PutObjectResponse{Object: stored, Replaced: replaced}, nil
}

func (t *tx) deleteObject(req *metapb.DeleteObjectRequest) (proto.Message, error) {
	const op = "meta.DeleteObject"
	b, err := getBucket(t.r, op, req.Bucket)
	if err != nil {
		return nil, err
	}
	if err := checkObjectKey(op, req.Key); err != nil {
		return nil, err
	}
	resp := &metapb.DeleteObjectResponse{}
	if req.VersionId != "" {
		v, err := findVersion(t.r, req.Bucket, req.Key, req.VersionId)
		if err != nil || v == nil {
			return resp, err // deleting a missing version is a no-op
		}
		if err := t.removeVersion(op, req.Bucket, req.Key, v); err != nil {
			return nil, err
		}
		resp.Removed = []*metapb.Object{v.obj}
		return resp, nil
	}
	switch b.Versioning {
	case "Enabled":
		if err := checkID(op, "delete marker version id", t.id); err != nil {
			return nil, err
		}
	default:
		old, err := findVersion(t.r, req.Bucket, req.Key, NullVersion)
		if err != nil {
			return nil, err
		}
		if old != nil {
			if err := t.removeVersion(op, req.Bucket, req.Key, old); err != nil {
				return nil, err
			}
			resp.Removed = []*metapb.Object{old.obj}
		}
		if b.Versioning == "" {
			return resp, nil
		}
	}
	marker := &metapb.Object{Bucket: req.Bucket, Key: req.Key, DeleteMarker: true, MtimeUnixNano: t.now, VersionId: t.id}
	if b.Versioning == "Suspended" {
		marker.VersionId = NullVersion
	}
	if err := t.writeVersion(op, marker); err != nil {
		return nil, err
	}
	marker.IsLatest = true
	resp.DeleteMarker = marker
	return resp, nil
}

// GetObject returns the latest version of a key, or the version asked for.
// The latest version being a delete marker reads as errs.NotFound
// (NoSuchKey); a delete marker asked for by version id is returned with
// DeleteMarker set.
func (f *FSM) GetObject(_ context.Context, req *metapb.GetObjectRequest) (*metapb.GetObjectResponse, error) {
	const op = "meta.GetObject"
	var resp *metapb.GetObjectResponse
	err := f.view(func(r reader) error {
		if _, err := getBucket(r, op, req.Bucket); err != nil {
			return err
		}
		if err := checkObjectKey(op, req.Key); err != nil {
			return err
		}
		latest, err := latestVersion(r, req.Bucket, req.Key)
		if err != nil {
			return err
		}
		if req.VersionId == "" {
			if latest == nil {
				return errs.E(op, errs.NotFound, "key "+req.Key, metaerr.ErrNoSuchKey)
			}
			if latest.obj.DeleteMarker {
				return errs.E(op, errs.NotFound, "key "+req.Key+" is deleted (delete marker)", metaerr.ErrNoSuchKey)
			}
			latest.obj.IsLatest = true
			resp = &metapb.GetObjectResponse{Object: latest.obj}
			return nil
		}
		v, err := findVersion(r, req.Bucket, req.Key, req.VersionId)
		if err != nil {
			return err
		}
		if v == nil {
			return errs.E(op, errs.NotFound, "version "+req.VersionId+" of "+req.Key, metaerr.ErrNoSuchVersion)
		}
		v.obj.IsLatest = latest != nil && latest.seq == v.seq
		resp = &metapb.GetObjectResponse{Object: v.obj}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return resp, nil
}
