package core

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"hash"
	"io"

	"google.golang.org/protobuf/proto"

	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/meta/metapb"
)

// PutObject stores body as the newest version of tmpl.Bucket/tmpl.Key and
// returns the committed manifest. tmpl carries the metadata (content type,
// user metadata, headers, storage class, optionally the version id and the
// erasure code); size is the body length, or -1 when unknown.
//
// A body with more or fewer bytes than size fails with errs.Invalid; a body
// that returns an error fails with that error. Either way nothing is
// committed and the shards written are deleted. Fewer than WriteQuorum
// durable shards in a stripe fail the PUT with errs.Unavailable.
func (s *Store) PutObject(ctx context.Context, tmpl *metapb.Object, body io.Reader, size int64) (*metapb.Object, error) {
	return s.PutObjectWith(ctx, tmpl, body, size, PutOptions{})
}

// PutObjectWith is PutObject with conditions on the version it replaces
// (see PutOptions); a failed condition is errs.Precondition and commits
// nothing.
func (s *Store) PutObjectWith(ctx context.Context, tmpl *metapb.Object, body io.Reader, size int64, opts PutOptions) (*metapb.Object, error) {
	const op = "core.PutObject"
	start := s.now()
	defer func() { s.metrics.putSeconds.Observe(s.now().Sub(start).Seconds()) }()
	if tmpl.GetBucket() == "" || tmpl.GetKey() == "" {
		return nil, errs.E(op, errs.Invalid, "bucket and key are required")
	}
	obj := s.newManifest(tmpl)
	h := md5.New()
	plain := opts.Encryption == nil
	if !plain {
		body = hashBody(body, opts.Hashes)
	}
	hs := bodyHashes(h, opts.Hashes, plain)
	if opts.Encryption != nil {
		seal, err := s.newSealer(body, size, opts.Encryption)
		if err != nil {
			return nil, err
		}
		body, size, opts.seal = seal, seal.record.GetStoredSize(), seal
	}

	inline, prefix, err := s.readSmall(body, size, hs)
	if err != nil {
		return nil, errs.E(op, errs.Other, err)
	}
	if inline != nil {
		obj.Inline = inline
		obj.Size = int64(len(inline))
		obj.Etag = quotedETag(h)
		return s.commitObject(ctx, obj, opts, nil)
	}

	b, err := s.GetBucket(ctx, obj.GetBucket())
	if err != nil {
		return nil, errs.E(op, errs.Other, err)
	}
	k, m := s.writeShape(obj, b)
	c, err := s.codecFor(k, m)
	if err != nil {
		return nil, err
	}
	if len(prefix) > 0 {
		body = io.MultiReader(bytes.NewReader(prefix), body)
	}
	it := s.newIntent(ctx)
	stripes, n, err := s.writeBody(ctx, c, body, size, hs, it)
	if err != nil {
		it.close(ctx, false)
		return nil, errs.E(op, errs.Other, err)
	}
	obj.EcData, obj.EcParity = int32(k), int32(m)
	obj.Stripes = stripes
	obj.Size = n
	obj.Etag = quotedETag(h)
	return s.commitObject(ctx, obj, opts, it)
}

// newManifest copies the template and fills what the Store chooses.
func (s *Store) newManifest(tmpl *metapb.Object) *metapb.Object {
	obj := proto.Clone(tmpl).(*metapb.Object)
	now := s.now()
	obj.Size, obj.Etag, obj.Inline, obj.Stripes = 0, "", nil, nil
	obj.DeleteMarker, obj.IsLatest = false, false
	obj.Checksums, obj.PartSizes = nil, nil
	obj.EcData, obj.EcParity = tmpl.GetEcData(), tmpl.GetEcParity()
	obj.MtimeUnixNano = now.UnixNano()
	if obj.VersionId == "" {
		obj.VersionId = newVersionID(now)
	}
	return obj
}

// readSmall reads a body that may fit inline. It returns the whole content
// when the object is to be inline (never nil then, maybe empty), else the
// bytes already read (when size is unknown) that must go first into stripes.
func (s *Store) readSmall(body io.Reader, size int64, hs []hash.Hash) (inline, prefix []byte, err error) {
	const op = "core.readBody"
	limit := max(s.cfg.InlineMax, 0)
	switch {
	case size >= 0 && size < limit:
		buf := make([]byte, size)
		if _, err := io.ReadFull(body, buf); err != nil {
			return nil, nil, bodyError(op, err)
		}
		if err := expectEOF(body); err != nil {
			return nil, nil, err
		}
		feed(hs, buf)
		return buf, nil, nil
	case size < 0 && limit > 0:
		buf := make([]byte, limit)
		n, err := io.ReadFull(body, buf)
		switch err {
		case nil:
			return nil, buf, nil
		case io.EOF, io.ErrUnexpectedEOF:
			feed(hs, buf[:n])
			return buf[:n:n], nil, nil
		default:
			return nil, nil, errs.E(op, errs.Other, err)
		}
	}
	return nil, nil, nil
}

// feed writes p to every hash.
func feed(hs []hash.Hash, p []byte) {
	for _, h := range hs {
		h.Write(p)
	}
}

// writeBody cuts body into stripes and writes them, reading the next
// stripe while earlier ones are hashed (every hash of hs in a goroutine of
// its own), encoded and written. On error every stripe written is deleted
// before it returns. The hashes hold the whole body when it returns.
func (s *Store) writeBody(ctx context.Context, c *codec, body io.Reader, size int64, hs []hash.Hash, it *intent) ([]*metapb.Stripe, int64, error) {
	const op = "core.readBody"
	digest := newDigester(s.cfg.StripesInFlight+1, hs)
	defer digest.close()
	sink := s.newSink(ctx, c, it)
	full := c.k * s.cfg.ShardSize
	var total int64
	fail := func(err error) ([]*metapb.Stripe, int64, error) {
		sink.abort(ctx)
		return nil, 0, err
	}
	for {
		want := full
		if size >= 0 {
			if rem := size - total; rem < int64(want) {
				want = int(rem)
			}
			if want == 0 {
				if err := expectEOF(body); err != nil {
					return fail(err)
				}
				break
			}
		}
		buf := c.pool.Get().(*[]byte)
		n, err := io.ReadFull(body, (*buf)[:want])
		hashed := digest.add((*buf)[:n])
		total += int64(n)
		eof := false
		switch {
		case err == nil:
		case size < 0 && (err == io.EOF || err == io.ErrUnexpectedEOF):
			eof = true
		default:
			<-hashed
			c.pool.Put(buf)
			return fail(bodyError(op, err))
		}
		if n == 0 {
			<-hashed
			c.pool.Put(buf)
		} else if err := sink.submit(buf, n, hashed); err != nil {
			return fail(err)
		}
		if eof {
			break
		}
	}
	stripes, err := sink.finish()
	if err != nil {
		return fail(err)
	}
	s.metrics.putBytes.Add(float64(total))
	return stripes, total, nil
}

// bodyError classifies a failed read of a body of known size: running out
// of bytes is the client's fault (errs.Invalid, S3's IncompleteBody); any
// other error is the body's own and keeps its kind.
func bodyError(op string, err error) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return errs.E(op, errs.Invalid, "body shorter than its declared size")
	}
	return errs.E(op, errs.Other, err)
}

// expectEOF checks that body has nothing left. Reading to the end also lets
// wrappers that verify a checksum at EOF report a mismatch.
func expectEOF(body io.Reader) error {
	const op = "core.readBody"
	var one [1]byte
	for {
		n, err := body.Read(one[:])
		if n > 0 {
			return errs.E(op, errs.Invalid, "body longer than its declared size")
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return errs.E(op, errs.Other, err)
		}
	}
}

func quotedETag(h hash.Hash) string {
	return `"` + hex.EncodeToString(h.Sum(nil)) + `"`
}

// commitObject records obj in meta, with the write intent it (nil for
// inline objects) that protected its stripes, and schedules the chunks of
// the versions it replaced to be freed. If the commit fails the object's
// shards are deleted, unless meta may have committed it after all.
func (s *Store) commitObject(ctx context.Context, obj *metapb.Object, opts PutOptions, it *intent) (*metapb.Object, error) {
	const op = "core.PutObject"
	obj.Checksums = checksums(opts)
	if opts.seal != nil {
		if err := opts.seal.finish(obj); err != nil {
			s.deleteStripes(ctx, obj.GetStripes())
			it.close(ctx, false)
			return nil, err
		}
	}
	intentID, err := it.seal()
	if err != nil {
		s.deleteStripes(ctx, obj.GetStripes())
		it.close(ctx, false)
		return nil, errs.E(op, errs.Other, err)
	}
	resp, err := s.meta.PutObject(ctx, &metapb.PutObjectRequest{Object: obj, IfMatch: opts.IfMatch, IfNoneMatch: opts.IfNoneMatch, IntentId: intentID})
	if err != nil {
		stored, ok := s.settleObject(ctx, obj, err, it)
		it.close(ctx, ok)
		if ok {
			return stored, nil
		}
		return nil, errs.E(op, errs.Other, err)
	}
	it.close(ctx, true)
	stored := resp.GetObject()
	if stored == nil {
		stored = obj
	}
	s.freeObjects(ctx, "replaced", stored, resp.GetReplaced())
	return stored, nil
}

// settleObject decides what to do with the shards of obj after meta
// PutObject failed with err. A definite refusal means the shards are
// garbage. After an ambiguous failure the request may have been applied,
// or may still be (its raft entry can commit after the request gave up):
// meta is asked whether obj is there, which settles it only once the
// commit's write intent is deleted (see intent.fence). Shards whose
// commit stays unsettled are left to garbage collection, which keeps them
// while young and for as long as a manifest names them. It returns the
// stored manifest when the commit happened.
func (s *Store) settleObject(ctx context.Context, obj *metapb.Object, err error, it *intent) (*metapb.Object, bool) {
	if len(obj.GetStripes()) == 0 {
		return nil, false
	}
	if definite(err) {
		s.deleteStripes(ctx, obj.GetStripes())
		return nil, false
	}
	fenced := it.fence(ctx)
	stored, found, lookErr := s.findObject(ctx, obj)
	switch {
	case lookErr == nil && found:
		return stored, true
	case lookErr == nil && fenced:
		s.deleteStripes(ctx, obj.GetStripes())
		return nil, false
	}
	s.log.Warn("commit outcome unknown; shards left for garbage collection",
		"bucket", obj.GetBucket(), "key", obj.GetKey(), "stripes", len(obj.GetStripes()), "err", err, "lookup_err", lookErr)
	s.metrics.unsettled.Inc()
	return nil, false
}

// findObject looks for the version of obj whose first stripe is obj's.
func (s *Store) findObject(ctx context.Context, obj *metapb.Object) (*metapb.Object, bool, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), freeTimeout)
	defer cancel()
	for _, v := range []string{obj.GetVersionId(), ""} {
		resp, err := s.meta.GetObject(ctx, &metapb.GetObjectRequest{Bucket: obj.GetBucket(), Key: obj.GetKey(), VersionId: v})
		if errs.Is(err, errs.NotFound) {
			continue
		}
		if err != nil {
			return nil, false, err
		}
		if sameFirstStripe(resp.GetObject().GetStripes(), obj.GetStripes()) {
			return resp.GetObject(), true, nil
		}
	}
	return nil, false, nil
}

func sameFirstStripe(a, b []*metapb.Stripe) bool {
	return len(a) > 0 && len(b) > 0 && bytes.Equal(a[0].GetId(), b[0].GetId())
}

// definite reports whether a failed meta write certainly did not apply.
func definite(err error) bool {
	switch errs.KindOf(err) {
	case errs.NotFound, errs.Exists, errs.Precondition, errs.Invalid, errs.Permission, errs.NoSpace:
		return true
	}
	return false
}
