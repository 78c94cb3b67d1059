package fsm

import (
	"unicode/utf8"

	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/meta/metaerr"
	"github.com/wolke-cloud/wolke/meta/metapb"
	"google.golang.org/protobuf/proto"
)

// Limits of S3 object tags.
const (
	MaxObjectTags  = 10
	MaxTagKeyLen   = 128
	MaxTagValueLen = 256
)

// CheckTags applies S3's limits to an object's tag set: at most 10 tags,
// keys of 1 to 128 and values of at most 256 Unicode characters.
func CheckTags(op string, tags map[string]string) error {
	if len(tags) > MaxObjectTags {
		return errs.Errorf(op, errs.Invalid, "%d tags, at most %d are allowed", len(tags), MaxObjectTags)
	}
	for k, v := range tags {
		if n := utf8.RuneCountInString(k); n == 0 || n > MaxTagKeyLen {
			return errs.Errorf(op, errs.Invalid, "tag key of %d characters", n)
		}
		if n := utf8.RuneCountInString(v); n > MaxTagValueLen {
			return errs.Errorf(op, errs.Invalid, "tag value of %d characters", n)
		}
	}
	return nil
}

// setObjectTags replaces the tags of one version in place: the version
// keeps its place (seq) among the key's versions.
func (t *tx) setObjectTags(req *metapb.SetObjectTagsRequest) (proto.Message, error) {
	const op = "meta.SetObjectTags"
	if _, err := getBucket(t.r, op, req.Bucket); err != nil {
		return nil, err
	}
	if err := checkObjectKey(op, req.Key); err != nil {
		return nil, err
	}
	if err := CheckTags(op, req.Tags); err != nil {
		return nil, err
	}
	v, err := t.targetVersion(op, req.Bucket, req.Key, req.VersionId)
	if err != nil {
		return nil, err
	}
	if v.obj.DeleteMarker {
		return nil, errs.E(op, errs.Invalid, "a delete marker has no tags")
	}
	o := v.obj
	o.Tags = nil
	if len(req.Tags) > 0 {
		o.Tags = make(map[string]string, len(req.Tags))
		for k, val := range req.Tags {
			o.Tags[k] = val
		}
	}
	o.IsLatest = false
	if err := t.set(op, versionKey(req.Bucket, req.Key, v.seq), o); err != nil {
		return nil, err
	}
	return &metapb.SetObjectTagsResponse{Object: o}, nil
}

// targetVersion is the version a per-version call addresses: vid, or the
// latest when vid is empty (a latest delete marker is NoSuchKey).
func (t *tx) targetVersion(op, bucket, key, vid string) (*version, error) {
	if vid == "" {
		v, err := latestVersion(t.r, bucket, key)
		if err == nil && (v == nil || v.obj.DeleteMarker) {
			return nil, errs.E(op, errs.NotFound, "key "+key, metaerr.ErrNoSuchKey)
		}
		return v, err
	}
	v, err := findVersion(t.r, bucket, key, vid)
	if err == nil && v == nil {
		return nil, errs.E(op, errs.NotFound, "version "+vid+" of "+key, metaerr.ErrNoSuchVersion)
	}
	return v, err
}

// CheckACL accepts the canned object ACLs meta stores.
func CheckACL(op, acl string) error {
	switch acl {
	case "", "public-read":
		return nil
	}
	return errs.Errorf(op, errs.Invalid, "unknown object ACL %q", acl)
}

// setObjectACL sets the canned ACL of one version in place.
func (t *tx) setObjectACL(req *metapb.SetObjectAclRequest) (proto.Message, error) {
	const op = "meta.SetObjectAcl"
	if _, err := getBucket(t.r, op, req.Bucket); err != nil {
		return nil, err
	}
	if err := checkObjectKey(op, req.Key); err != nil {
		return nil, err
	}
	if err := CheckACL(op, req.Acl); err != nil {
		return nil, err
	}
	v, err := t.targetVersion(op, req.Bucket, req.Key, req.VersionId)
	if err != nil {
		return nil, err
	}
	if v.obj.DeleteMarker {
		return nil, errs.E(op, errs.Invalid, "a delete marker has no ACL")
	}
	o := v.obj
	o.Acl = req.Acl
	o.IsLatest = false
	if err := t.set(op, versionKey(req.Bucket, req.Key, v.seq), o); err != nil {
		return nil, err
	}
	return &metapb.SetObjectAclResponse{Object: o}, nil
}
