package fsm

import (
	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/meta/metapb"
	"google.golang.org/protobuf/proto"
)

// MaxBucketConfig bounds one stored bucket subresource (S3 caps a bucket
// policy at 20 KiB; the XML configurations are smaller than this too).
const MaxBucketConfig = 64 << 10

// BucketConfigKeys are the names a bucket's config map may hold.
func BucketConfigKeys() []string {
	return []string{"cors", "policy", "lifecycle", "tagging", "ownership", "acl", "object-lock"}
}

func checkConfigKey(op, key string) error {
	for _, k := range BucketConfigKeys() {
		if k == key {
			return nil
		}
	}
	return errs.Errorf(op, errs.Invalid, "unknown bucket config %q", key)
}

// setBucketConfig stores or removes one subresource of a bucket.
func (t *tx) setBucketConfig(req *metapb.SetBucketConfigRequest) (proto.Message, error) {
	const op = "meta.SetBucketConfig"
	if err := checkConfigKey(op, req.Key); err != nil {
		return nil, err
	}
	switch {
	case req.Delete && len(req.Value) > 0:
		return nil, errs.E(op, errs.Invalid, "a delete carries no value")
	case !req.Delete && len(req.Value) == 0:
		return nil, errs.E(op, errs.Invalid, "an empty config value")
	case len(req.Value) > MaxBucketConfig:
		return nil, errs.Errorf(op, errs.Invalid, "config %q of %d bytes exceeds %d", req.Key, len(req.Value), MaxBucketConfig)
	}
	b, err := getBucket(t.r, op, req.Name)
	if err != nil {
		return nil, err
	}
	if req.Delete {
		delete(b.Config, req.Key)
	} else {
		if b.Config == nil {
			b.Config = map[string][]byte{}
		}
		b.Config[req.Key] = req.Value
	}
	if err := t.set(op, bucketKey(b.Name), b); err != nil {
		return nil, err
	}
	return &metapb.SetBucketConfigResponse{Bucket: b}, nil
}
