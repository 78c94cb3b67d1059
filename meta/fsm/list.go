package fsm

import (
	"context"
	"strings"

	"github.com/cockroachdb/pebble/v2"
	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/meta/internal/kv"
	"github.com/wolke-cloud/wolke/meta/metapb"
	"google.golang.org/protobuf/proto"
)

// MaxKeys is the default and the largest page of a listing.
const MaxKeys = 1000

func pageSize(op string, n int32) (int, error) {
	switch {
	case n < 0:
		return 0, errs.Errorf(op, errs.Invalid, "negative page size %d", n)
	case n == 0 || n > MaxKeys:
		return MaxKeys, nil
	}
	return int(n), nil
}

// bucketPrefixIter checks that bucket exists and opens an iterator over
// the keys under base (one of the bucket's key ranges) that continue with
// prefix.
func bucketPrefixIter(r reader, op, bucket string, base []byte, prefix string) (*pebble.Iterator, error) {
	if _, err := getBucket(r, op, bucket); err != nil {
		return nil, err
	}
	lo := append(append([]byte(nil), base...), prefix...)
	return newIter(r, lo, kv.PrefixEnd(base))
}

// ListObjects lists the latest, non-deleted version of keys after
// start_after with the prefix, grouping keys by delimiter into common
// prefixes. A common prefix not greater than start_after was returned by
// an earlier page and is skipped.
func (f *FSM) ListObjects(_ context.Context, req *metapb.ListObjectsRequest) (*metapb.ListObjectsResponse, error) {
	const op = "meta.ListObjects"
	limit, err := pageSize(op, req.MaxKeys)
	if err != nil {
		return nil, err
	}
	resp := &metapb.ListObjectsResponse{}
	err = f.view(func(r reader) error {
		base := objPrefix(req.Bucket)
		it, err := bucketPrefixIter(r, op, req.Bucket, base, req.Prefix)
		if err != nil {
			return err
		}
		defer it.Close()
		ok := it.First()
		if req.StartAfter != "" && req.StartAfter >= req.Prefix {
			// Keys strictly after start_after: start_after+"\x01" is the
			// smallest (keys hold no NUL).
			ok = it.SeekGE(append(append(append([]byte(nil), base...), req.StartAfter...), 1))
		}
		n := 0
		for ok {
			key, _, valid := splitVersionKey(base, it.Key())
			if !valid {
				return errs.E(op, errs.Corrupt, "bad version key")
			}
			if !strings.HasPrefix(key, req.Prefix) {
				break
			}
			if req.Delimiter != "" {
				if i := strings.Index(key[len(req.Prefix):], req.Delimiter); i >= 0 {
					cp := key[:len(req.Prefix)+i+len(req.Delimiter)]
					next := kv.PrefixEnd(append(append([]byte(nil), base...), cp...))
					if cp <= req.StartAfter {
						ok = it.SeekGE(next)
						continue
					}
					if n == limit {
						resp.Truncated = true
						break
					}
					resp.CommonPrefixes = append(resp.CommonPrefixes, cp)
					resp.NextStartAfter = cp
					n++
					ok = it.SeekGE(next)
					continue
				}
			}
			// The first entry of a key is its latest version.
			o := &metapb.Object{}
			if err := proto.Unmarshal(it.Value(), o); err != nil {
				return errs.E(op, errs.Corrupt, err)
			}
			if !o.DeleteMarker {
				if n == limit {
					resp.Truncated = true
					break
				}
				o.IsLatest = true
				o.Stripes = nil // listings never need a manifest's stripes
				resp.Objects = append(resp.Objects, o)
				resp.NextStartAfter = key
				n++
			}
			ok = it.SeekGE(kv.PrefixEnd(objKeyPrefix(req.Bucket, key)))
		}
		return iterErr(it)
	})
	if err != nil {
		return nil, err
	}
	if !resp.Truncated {
		resp.NextStartAfter = ""
	}
	return resp, nil
}

// ListObjectVersions lists every version and delete marker with the
// prefix, keys in order and each key's versions newest first, starting
// after (key_marker, version_id_marker) as S3 does. With a delimiter, keys
// holding it after the prefix are grouped into common prefixes, each one
// entry of the page; a common prefix not greater than key_marker was
// returned by an earlier page and is skipped.
func (f *FSM) ListObjectVersions(_ context.Context, req *metapb.ListObjectVersionsRequest) (*metapb.ListObjectVersionsResponse, error) {
	const op = "meta.ListObjectVersions"
	limit, err := pageSize(op, req.MaxKeys)
	if err != nil {
		return nil, err
	}
	resp := &metapb.ListObjectVersionsResponse{}
	err = f.view(func(r reader) error {
		base := objPrefix(req.Bucket)
		it, err := bucketPrefixIter(r, op, req.Bucket, base, req.Prefix)
		if err != nil {
			return err
		}
		defer it.Close()
		ok := it.First()
		prevKey := ""
		if req.KeyMarker != "" {
			start := append(append(append([]byte(nil), base...), req.KeyMarker...), 1)
			if req.VersionIdMarker != "" {
				v, err := findVersion(r, req.Bucket, req.KeyMarker, req.VersionIdMarker)
				if err != nil {
					return err
				}
				if v != nil {
					start = kv.PrefixEnd(versionKey(req.Bucket, req.KeyMarker, v.seq))
					prevKey = req.KeyMarker
				}
			}
			if string(start) > string(base)+req.Prefix {
				ok = it.SeekGE(start)
			}
		}
		for ok {
			key, _, valid := splitVersionKey(base, it.Key())
			if !valid {
				return errs.E(op, errs.Corrupt, "bad version key")
			}
			if !strings.HasPrefix(key, req.Prefix) {
				break
			}
			if req.Delimiter != "" {
				if i := strings.Index(key[len(req.Prefix):], req.Delimiter); i >= 0 {
					cp := key[:len(req.Prefix)+i+len(req.Delimiter)]
					next := kv.PrefixEnd(append(append([]byte(nil), base...), cp...))
					if cp <= req.KeyMarker {
						ok = it.SeekGE(next) // returned by an earlier page
						continue
					}
					if len(resp.Versions)+len(resp.CommonPrefixes) == limit {
						resp.Truncated = true
						break
					}
					resp.CommonPrefixes = append(resp.CommonPrefixes, cp)
					resp.NextKeyMarker, resp.NextVersionIdMarker = cp, ""
					ok = it.SeekGE(next)
					continue
				}
			}
			if len(resp.Versions)+len(resp.CommonPrefixes) == limit {
				resp.Truncated = true
				break
			}
			o := &metapb.Object{}
			if err := proto.Unmarshal(it.Value(), o); err != nil {
				return errs.E(op, errs.Corrupt, err)
			}
			// The first entry seen of a key is its latest, unless the page
			// started in the middle of that key.
			o.IsLatest = key != prevKey
			o.Stripes = nil
			prevKey = key
			resp.Versions = append(resp.Versions, o)
			resp.NextKeyMarker, resp.NextVersionIdMarker = key, o.VersionId
			ok = it.Next()
		}
		return iterErr(it)
	})
	if err != nil {
		return nil, err
	}
	if !resp.Truncated {
		resp.NextKeyMarker, resp.NextVersionIdMarker = "", ""
	}
	return resp, nil
}
