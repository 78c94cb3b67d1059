package fsm

import (
	"testing"

	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/meta/metapb"
)

func TestSetObjectLock(t *testing.T) {
	h := newHarness(t)
	h.bucket("plain", "Enabled")
	h.put("plain", "k", "e1", "v1")
	if _, err := h.do(OpSetObjectLock, &metapb.SetObjectLockRequest{Bucket: "plain", Key: "k", SetLegalHold: true, LegalHold: true}); !errs.Is(err, errs.Precondition) {
		t.Fatalf("lock in a bucket without object lock: %v", err)
	}
	h.bucket("bk", "Enabled")
	h.must(OpSetBucketConfig, &metapb.SetBucketConfigRequest{Name: "bk", Key: "object-lock", Value: []byte("<ObjectLockConfiguration/>")})
	h.put("bk", "k", "e1", "v1")
	far := int64(1) << 60
	tests := []struct {
		name string
		req  *metapb.SetObjectLockRequest
		kind errs.Kind
	}{
		{"governance", &metapb.SetObjectLockRequest{SetRetention: true, Mode: LockGovernance, RetainUntilUnixNano: far}, errs.Other},
		{"past date", &metapb.SetObjectLockRequest{SetRetention: true, Mode: LockGovernance, RetainUntilUnixNano: 5}, errs.Invalid},
		{"bad mode", &metapb.SetObjectLockRequest{SetRetention: true, Mode: "FOREVER", RetainUntilUnixNano: far}, errs.Invalid},
		{"shorten governance", &metapb.SetObjectLockRequest{SetRetention: true, Mode: LockGovernance, RetainUntilUnixNano: far - 10}, errs.Permission},
		{"remove governance", &metapb.SetObjectLockRequest{SetRetention: true}, errs.Permission},
		{"shorten with bypass", &metapb.SetObjectLockRequest{SetRetention: true, Mode: LockGovernance, RetainUntilUnixNano: far - 10, BypassGovernance: true}, errs.Other},
		{"to compliance", &metapb.SetObjectLockRequest{SetRetention: true, Mode: LockCompliance, RetainUntilUnixNano: far}, errs.Other},
		{"shorten compliance with bypass", &metapb.SetObjectLockRequest{SetRetention: true, Mode: LockCompliance, RetainUntilUnixNano: far - 20, BypassGovernance: true}, errs.Permission},
		{"compliance to governance", &metapb.SetObjectLockRequest{SetRetention: true, Mode: LockGovernance, RetainUntilUnixNano: far, BypassGovernance: true}, errs.Permission},
		{"extend compliance", &metapb.SetObjectLockRequest{SetRetention: true, Mode: LockCompliance, RetainUntilUnixNano: far + 1}, errs.Other},
		{"legal hold", &metapb.SetObjectLockRequest{SetLegalHold: true, LegalHold: true}, errs.Other},
		{"missing version", &metapb.SetObjectLockRequest{VersionId: "nope", SetLegalHold: true}, errs.NotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.req.Bucket, tc.req.Key = "bk", "k"
			_, err := h.do(OpSetObjectLock, tc.req)
			checkErr(t, err, tc.kind, nil)
		})
	}
	if _, err := h.do(OpSetBucketVersioning, &metapb.SetBucketVersioningRequest{Name: "bk", Versioning: "Suspended"}); !errs.Is(err, errs.Precondition) {
		t.Fatalf("suspending versioning under object lock: %v", err)
	}
	resp, err := h.f.GetObject(ctx, &metapb.GetObjectRequest{Bucket: "bk", Key: "k", VersionId: "v1"})
	if err != nil {
		t.Fatal(err)
	}
	o := resp.Object
	if o.LockMode != LockCompliance || o.LockRetainUntilUnixNano != far+1 || !o.LegalHold || o.Etag != "e1" {
		t.Fatalf("locked version %v", o)
	}
}
