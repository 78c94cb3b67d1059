package fsm

import (
	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/meta/metaerr"
	"github.com/wolke-cloud/wolke/meta/metapb"
	"google.golang.org/protobuf/proto"
)

// Object lock modes.
const (
	LockGovernance = "GOVERNANCE"
	LockCompliance = "COMPLIANCE"
)

// checkRetentionChange applies S3's rules to replacing a retention that
// may still hold at now.
func checkRetentionChange(op string, o *metapb.Object, req *metapb.SetObjectLockRequest, now int64) error {
	switch req.Mode {
	case "":
	case LockGovernance, LockCompliance:
		if req.RetainUntilUnixNano <= now {
			return errs.E(op, errs.Invalid, "the retain-until date must be in the future")
		}
	default:
		return errs.Errorf(op, errs.Invalid, "unknown object lock mode %q", req.Mode)
	}
	if o.LockMode == "" || o.LockRetainUntilUnixNano <= now {
		return nil // nothing holds
	}
	weaker := req.Mode == "" || req.RetainUntilUnixNano < o.LockRetainUntilUnixNano
	switch {
	case o.LockMode == LockCompliance && (weaker || req.Mode != LockCompliance):
		return errs.E(op, errs.Permission, "a COMPLIANCE retention can only be extended")
	case o.LockMode == LockGovernance && weaker && !req.BypassGovernance:
		return errs.E(op, errs.Permission, "shortening a GOVERNANCE retention needs the bypass")
	}
	return nil
}

// setObjectLock changes the retention or legal hold of one version, in a
// bucket created with object lock.
func (t *tx) setObjectLock(req *metapb.SetObjectLockRequest) (proto.Message, error) {
	const op = "meta.SetObjectLock"
	b, err := getBucket(t.r, op, req.Bucket)
	if err != nil {
		return nil, err
	}
	if len(b.Config["object-lock"]) == 0 {
		return nil, errs.E(op, errs.Precondition, "the bucket has no object lock configuration")
	}
	if err := checkObjectKey(op, req.Key); err != nil {
		return nil, err
	}
	var v *version
	if req.VersionId == "" {
		v, err = latestVersion(t.r, req.Bucket, req.Key)
		if err == nil && (v == nil || v.obj.DeleteMarker) {
			return nil, errs.E(op, errs.NotFound, "key "+req.Key, metaerr.ErrNoSuchKey)
		}
	} else {
		v, err = findVersion(t.r, req.Bucket, req.Key, req.VersionId)
		if err == nil && v == nil {
			return nil, errs.E(op, errs.NotFound, "version "+req.VersionId+" of "+req.Key, metaerr.ErrNoSuchVersion)
		}
	}
	if err != nil {
		return nil, err
	}
	o := v.obj
	if o.DeleteMarker {
		return nil, errs.E(op, errs.Invalid, "a delete marker cannot be locked")
	}
	if req.SetRetention {
		if err := checkRetentionChange(op, o, req, t.now); err != nil {
			return nil, err
		}
		o.LockMode, o.LockRetainUntilUnixNano = req.Mode, req.RetainUntilUnixNano
		if req.Mode == "" {
			o.LockRetainUntilUnixNano = 0
		}
	}
	if req.SetLegalHold {
		o.LegalHold = req.LegalHold
	}
	o.IsLatest = false
	if err := t.set(op, versionKey(req.Bucket, req.Key, v.seq), o); err != nil {
		return nil, err
	}
	return &metapb.SetObjectLockResponse{Object: o}, nil
}
