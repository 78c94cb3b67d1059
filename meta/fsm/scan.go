package fsm

import (
	"bytes"
	"context"
	"encoding/binary"
	"slices"

	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/meta/internal/kv"
	"github.com/wolke-cloud/wolke/meta/metapb"
	"google.golang.org/protobuf/proto"
)

// Scan page bounds.
const (
	scanDefaultLimit = 1000
	scanMaxLimit     = 10000
	// scanMaxStripes ends a page early, after the key that reached it, so
	// that an answer stays a few MiB however big the manifests are.
	scanMaxStripes = 64 << 10
)

// ScanStripes walks object versions (b/<bucket>/o/...) and uploaded parts
// (b/<bucket>/p/...) in key order and returns the stripes they reference.
// It visits at most req.Limit keys per call, fewer once the page holds
// scanMaxStripes stripes; Next is the cursor of the next call, empty once
// every key has been visited. The segments of completed multipart objects
// are part records: they are visited as parts (with the upload id that
// the object's segments_upload_id names).
func (f *FSM) ScanStripes(_ context.Context, req *metapb.ScanStripesRequest) (*metapb.ScanStripesResponse, error) {
	const op = "meta.ScanStripes"
	var groups map[uint64]bool
	if len(req.PlacementGroups) > 0 {
		groups = make(map[uint64]bool, len(req.PlacementGroups))
		for _, g := range req.PlacementGroups {
			groups[g] = true
		}
	}
	resp := &metapb.ScanStripesResponse{}
	next, err := f.scanPage(op, prefixBuckets, req.After, req.Limit, func(k, v []byte) (bool, error) {
		refs, err := stripesOf(op, k, v)
		if err != nil {
			return false, err
		}
		for _, ref := range refs {
			if groups == nil || groups[ref.Stripe.GetPlacementGroup()] {
				resp.Stripes = append(resp.Stripes, ref)
			}
		}
		return len(resp.Stripes) >= scanMaxStripes, nil
	})
	if err != nil {
		return nil, err
	}
	resp.Next = next
	return resp, nil
}

// scanPage visits the records under prefix in key order, starting after
// the cursor after, at most limit of them (scanDefaultLimit when not
// positive, never more than scanMaxLimit), stopping early once visit says
// the page is full. It returns the cursor of the next page: the last key
// visited, nil once every record has been visited.
func (f *FSM) scanPage(op, prefix string, after []byte, limit int32, visit func(k, v []byte) (full bool, err error)) ([]byte, error) {
	n := int(limit)
	if n <= 0 {
		n = scanDefaultLimit
	}
	n = min(n, scanMaxLimit)
	lo := []byte(prefix)
	if len(after) > 0 {
		if !bytes.HasPrefix(after, lo) {
			return nil, errs.E(op, errs.Invalid, "bad scan cursor")
		}
		lo = append(slices.Clone(after), 0)
	}
	var next []byte
	err := f.view(func(r reader) error {
		it, err := newIter(r, lo, kv.PrefixEnd([]byte(prefix)))
		if err != nil {
			return err
		}
		defer it.Close()
		visited := 0
		var last []byte
		for ok := it.First(); ok; ok = it.Next() {
			if visited == n {
				next = last // more records follow
				break
			}
			visited++
			full, err := visit(it.Key(), it.Value())
			if err != nil {
				return err
			}
			last = slices.Clone(it.Key())
			if full {
				next = last // maybe more records follow
				break
			}
		}
		return iterErr(it)
	})
	if err != nil {
		return nil, err
	}
	return next, nil
}

// stripesOf returns the stripes of the manifest at key k, none when k is
// not an object version or a part.
func stripesOf(op string, k, v []byte) ([]*metapb.StripeRef, error) {
	rest := k[len(prefixBuckets):]
	slash := bytes.IndexByte(rest, '/')
	if slash < 0 || len(rest) < slash+3 {
		return nil, nil // a bucket record
	}
	bucket := string(rest[:slash])
	kind, body := string(rest[slash+1:slash+3]), rest[slash+3:]
	switch kind {
	case "o/":
		o := &metapb.Object{}
		if err := proto.Unmarshal(v, o); err != nil {
			return nil, errs.E(op, errs.Corrupt, err)
		}
		out := make([]*metapb.StripeRef, 0, len(o.Stripes))
		for _, st := range o.Stripes {
			out = append(out, &metapb.StripeRef{Stripe: st, Bucket: bucket, Key: o.Key, VersionId: o.VersionId})
		}
		return out, nil
	case "p/":
		// <key>\x00<upload id>\x00<part BE32>
		if len(body) < 5 {
			return nil, errs.E(op, errs.Corrupt, "bad part key")
		}
		head := body[:len(body)-5]
		key, upload, _ := bytes.Cut(head, []byte{0})
		p := &metapb.Part{}
		if err := proto.Unmarshal(v, p); err != nil {
			return nil, errs.E(op, errs.Corrupt, err)
		}
		n := int32(binary.BigEndian.Uint32(body[len(body)-4:]))
		out := make([]*metapb.StripeRef, 0, len(p.Stripes))
		for _, st := range p.Stripes {
			out = append(out, &metapb.StripeRef{Stripe: st, Bucket: bucket, Key: string(key), UploadId: string(upload), PartNumber: n})
		}
		return out, nil
	}
	return nil, nil
}
