package fsm

import (
	"bytes"
	"context"

	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/meta/internal/kv"
	"github.com/wolke-cloud/wolke/meta/metaerr"
	"github.com/wolke-cloud/wolke/meta/metapb"
	"google.golang.org/protobuf/proto"
)

func checkVersioning(op, v string) error {
	switch v {
	case "", "Enabled", "Suspended":
		return nil
	}
	return errs.Errorf(op, errs.Invalid, "invalid versioning state %q", v)
}

func (t *tx) createBucket(req *metapb.CreateBucketRequest) (proto.Message, error) {
	const op = "meta.CreateBucket"
	b := req.GetBucket()
	if b == nil {
		return nil, errs.E(op, errs.Invalid, "missing bucket")
	}
	if err := checkBucketName(op, b.Name); err != nil {
		return nil, err
	}
	if err := checkVersioning(op, b.Versioning); err != nil {
		return nil, err
	}
	if b.EcData < 0 || b.EcParity < 0 {
		return nil, errs.E(op, errs.Invalid, "negative erasure code shape")
	}
	_, found, err := getRaw(t.r, bucketKey(b.Name))
	if err != nil {
		return nil, err
	}
	if found {
		return nil, errs.E(op, errs.Exists, "bucket "+b.Name+" exists", metaerr.ErrBucketExists)
	}
	b = proto.CloneOf(b)
	if b.CreatedUnixNano == 0 {
		b.CreatedUnixNano = t.now
	}
	if err := t.set(op, bucketKey(b.Name), b); err != nil {
		return nil, err
	}
	return &metapb.CreateBucketResponse{}, nil
}

func (t *tx) setBucketVersioning(req *metapb.SetBucketVersioningRequest) (proto.Message, error) {
	const op = "meta.SetBucketVersioning"
	if req.Versioning != "Enabled" && req.Versioning != "Suspended" {
		return nil, errs.Errorf(op, errs.Invalid, "versioning must be Enabled or Suspended, not %q", req.Versioning)
	}
	b, err := getBucket(t.r, op, req.Name)
	if err != nil {
		return nil, err
	}
	if len(b.Config["object-lock"]) > 0 && req.Versioning != "Enabled" {
		// Locked versions must never be replaced in place (objectlock.go).
		return nil, errs.E(op, errs.Precondition, "versioning cannot be suspended on a bucket with object lock")
	}
	b.Versioning = req.Versioning
	if err := t.set(op, bucketKey(b.Name), b); err != nil {
		return nil, err
	}
	return &metapb.SetBucketVersioningResponse{Bucket: b}, nil
}

// getBucket reads a bucket, errs.NotFound (NoSuchBucket) when missing.
func getBucket(r reader, op, name string) (*metapb.Bucket, error) {
	if err := checkBucketName(op, name); err != nil {
		return nil, err
	}
	b := &metapb.Bucket{}
	found, err := getProto(r, bucketKey(name), b)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, errs.E(op, errs.NotFound, "bucket "+name, metaerr.ErrNoSuchBucket)
	}
	return b, nil
}

func (t *tx) deleteBucket(req *metapb.DeleteBucketRequest) (proto.Message, error) {
	const op = "meta.DeleteBucket"
	if _, err := getBucket(t.r, op, req.Name); err != nil {
		return nil, err
	}
	// Objects (versions and delete markers included) or uploads. Part
	// records without an upload are the segments of removed multipart
	// objects waiting to be freed: they do not count.
	start := bucketKey(req.Name)
	for _, p := range [][]byte{objPrefix(req.Name), uploadPrefix(req.Name)} {
		it, err := newIter(t.r, p, kv.PrefixEnd(p))
		if err != nil {
			return nil, err
		}
		nonEmpty := it.First()
		if err := iterErr(it); err != nil {
			it.Close()
			return nil, err
		}
		it.Close()
		if nonEmpty {
			return nil, errs.E(op, errs.Precondition, "bucket "+req.Name+" is not empty", metaerr.ErrBucketNotEmpty)
		}
	}
	if err := t.del(op, start); err != nil {
		return nil, err
	}
	return &metapb.DeleteBucketResponse{}, nil
}

// GetBucket returns a bucket.
func (f *FSM) GetBucket(_ context.Context, req *metapb.GetBucketRequest) (*metapb.GetBucketResponse, error) {
	var resp *metapb.GetBucketResponse
	err := f.view(func(r reader) error {
		b, err := getBucket(r, "meta.GetBucket", req.Name)
		resp = &metapb.GetBucketResponse{Bucket: b}
		return err
	})
	if err != nil {
		return nil, err
	}
	return resp, nil
}

// ListBuckets returns all buckets in name order.
func (f *FSM) ListBuckets(_ context.Context, _ *metapb.ListBucketsRequest) (*metapb.ListBucketsResponse, error) {
	resp := &metapb.ListBucketsResponse{}
	err := f.view(func(r reader) error {
		lo := []byte(prefixBuckets)
		it, err := newIter(r, lo, kv.PrefixEnd(lo))
		if err != nil {
			return err
		}
		defer it.Close()
		// Each bucket's record is the first key of its range; after reading
		// it, skip the rest of the range.
		for ok := it.First(); ok; {
			k := append([]byte(nil), it.Key()...)
			slash := bytes.IndexByte(k[len(lo):], '/')
			if slash < 0 || len(lo)+slash+1 != len(k) {
				// Not a bucket record: a range without one. Skip it.
				if slash < 0 {
					ok = it.Next()
					continue
				}
				ok = it.SeekGE(kv.PrefixEnd(k[:len(lo)+slash+1]))
				continue
			}
			b := &metapb.Bucket{}
			if err := proto.Unmarshal(it.Value(), b); err != nil {
				return errs.E("meta.ListBuckets", errs.Corrupt, err)
			}
			resp.Buckets = append(resp.Buckets, b)
			ok = it.SeekGE(kv.PrefixEnd(k))
		}
		return iterErr(it)
	})
	if err != nil {
		return nil, err
	}
	return resp, nil
}
