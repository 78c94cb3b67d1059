package core

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/md5"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"hash"
	"io"

	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/meta/metapb"
)

// Encryption at rest (S3 SSE-S3 and SSE-C). Each object gets a random
// 32-byte data key, stored in its manifest sealed by the cluster master key
// (SSE-S3) or by the customer's key (SSE-C). The content is cut into blocks
// of sealBlock plaintext bytes; block i is AES-256-GCM sealed with nonce
// (0000 || i) and one byte of additional data that marks the last block,
// so blocks cannot be reordered, swapped between objects or cut off.
const (
	sealBlock = 64 << 10
	sealTag   = 16
	// Algorithms as stored in metapb.Encryption.
	AlgSSES3 = "AES256"
	AlgSSEC  = "SSE-C"
)

// Encryption asks for an object to be encrypted at rest.
type Encryption struct {
	// CustomerKey is the 32-byte SSE-C key; nil means SSE-S3 with the
	// cluster's master key.
	CustomerKey []byte
}

// ReadOptions are what a read of an object may need.
type ReadOptions struct {
	CustomerKey []byte // the SSE-C key of an SSE-C object
}

func sealedSize(n int64) int64 {
	return n + sealTag*((n+sealBlock-1)/sealBlock)
}

func newGCM(key []byte) (cipher.AEAD, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, errs.E("core.sse", errs.Invalid, "bad key", err)
	}
	g, err := cipher.NewGCM(b)
	if err != nil {
		return nil, errs.E("core.sse", errs.Internal, err)
	}
	return g, nil
}

func blockNonce(prefix uint32, i int64) []byte {
	var n [12]byte
	binary.BigEndian.PutUint32(n[:4], prefix)
	binary.BigEndian.PutUint64(n[4:], uint64(i))
	return n[:]
}

func lastFlag(last bool) []byte {
	if last {
		return []byte{1}
	}
	return []byte{0}
}

func keyMD5(key []byte) string {
	s := md5.Sum(key)
	return base64.StdEncoding.EncodeToString(s[:])
}

// wrappingKey is the key that seals an object's data key.
func (s *Store) wrappingKey(alg string, customer []byte) ([]byte, error) {
	const op = "core.sse"
	switch alg {
	case AlgSSES3:
		if len(s.cfg.MasterKey) != 32 {
			return nil, errs.E(op, errs.Invalid, "server-side encryption needs a master key, and none is configured")
		}
		return s.cfg.MasterKey, nil
	case AlgSSEC:
		if len(customer) == 0 {
			return nil, errs.E(op, errs.Invalid, "the object is encrypted with a customer key, and none was given")
		}
		if len(customer) != 32 {
			return nil, errs.E(op, errs.Invalid, "a customer key has 32 bytes")
		}
		return customer, nil
	}
	return nil, errs.Errorf(op, errs.Internal, "unknown encryption %q", alg)
}

// sealer encrypts a body of known size block by block as it is read, and
// keeps the plaintext's MD5 and length.
type sealer struct {
	src    io.Reader
	aead   cipher.AEAD
	size   int64 // plaintext bytes expected
	prefix uint32
	read   int64
	index  int64
	md5    hash.Hash
	plain  []byte
	sealed []byte
	out    []byte // sealed bytes not yet handed out
	err    error
	record *metapb.Encryption
}

// newSealRecord makes a data key for enc and the record that keeps it
// sealed by the master or customer key.
func (s *Store) newSealRecord(enc *Encryption) (*metapb.Encryption, []byte, error) {
	alg := AlgSSES3
	if enc.CustomerKey != nil {
		alg = AlgSSEC
	}
	wk, err := s.wrappingKey(alg, enc.CustomerKey)
	if err != nil {
		return nil, nil, err
	}
	wrap, err := newGCM(wk)
	if err != nil {
		return nil, nil, err
	}
	dataKey := randomID(32)
	nonce := randomID(wrap.NonceSize())
	rec := &metapb.Encryption{Algorithm: alg, WrappedKey: wrap.Seal(nonce, nonce, dataKey, []byte(alg)), BlockSize: sealBlock}
	if alg == AlgSSEC {
		rec.CustomerKeyMd5 = keyMD5(enc.CustomerKey)
	}
	return rec, dataKey, nil
}

// dataKey opens the data key of rec with the master key or customer.
func (s *Store) dataKey(rec *metapb.Encryption, customer []byte) ([]byte, error) {
	const op = "core.sse"
	if rec.GetAlgorithm() == AlgSSEC && customer != nil && subtle.ConstantTimeCompare([]byte(keyMD5(customer)), []byte(rec.GetCustomerKeyMd5())) != 1 {
		return nil, errs.E(op, errs.Permission, "the customer key does not match the object's")
	}
	wk, err := s.wrappingKey(rec.GetAlgorithm(), customer)
	if err != nil {
		return nil, err
	}
	wrap, err := newGCM(wk)
	if err != nil {
		return nil, err
	}
	w := rec.GetWrappedKey()
	if len(w) < wrap.NonceSize() {
		return nil, errs.E(op, errs.Corrupt, "wrapped key too short")
	}
	key, err := wrap.Open(nil, w[:wrap.NonceSize()], w[wrap.NonceSize():], []byte(rec.GetAlgorithm()))
	if err != nil {
		return nil, errs.E(op, errs.Permission, "the key does not open the object's data key")
	}
	return key, nil
}

// newSealer starts encrypting body (of size bytes) for enc.
func (s *Store) newSealer(body io.Reader, size int64, enc *Encryption) (*sealer, error) {
	rec, key, err := s.newSealRecord(enc)
	if err != nil {
		return nil, err
	}
	rec.StoredSize = sealedSize(max(size, 0))
	return sealerWith(body, size, key, 0, rec)
}

// sealerWith encrypts body with key; prefix (the part number of a part,
// 0 for a whole object) goes into every block nonce.
func sealerWith(body io.Reader, size int64, key []byte, prefix uint32, rec *metapb.Encryption) (*sealer, error) {
	if size < 0 {
		return nil, errs.E("core.sse", errs.Invalid, "an encrypted object needs a known length")
	}
	aead, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	return &sealer{src: body, aead: aead, size: size, prefix: prefix, md5: md5.New(), plain: make([]byte, sealBlock),
		sealed: make([]byte, 0, sealBlock+sealTag), record: rec}, nil
}

func (z *sealer) Read(p []byte) (int, error) {
	for len(z.out) == 0 {
		if z.err != nil {
			return 0, z.err
		}
		if z.read == z.size {
			// Reading past the end lets the body verify its checksums.
			if err := expectEOF(z.src); err != nil {
				z.err = err
				return 0, err
			}
			z.err = io.EOF
			return 0, io.EOF
		}
		want := min(int64(sealBlock), z.size-z.read)
		n, err := io.ReadFull(z.src, z.plain[:want])
		if err != nil {
			z.err = bodyError("core.sse", err)
			return 0, z.err
		}
		z.md5.Write(z.plain[:n])
		z.read += int64(n)
		z.out = z.aead.Seal(z.sealed[:0], blockNonce(z.prefix, z.index), z.plain[:n], lastFlag(z.read == z.size))
		z.index++
	}
	n := copy(p, z.out)
	z.out = z.out[n:]
	return n, nil
}

// finish turns the manifest of the sealed bytes into the object's: the
// plaintext size, the plaintext MD5 as ETag (SSE-S3; an SSE-C ETag stays
// the MD5 of the sealed bytes, which tells nothing of the content) and
// the encryption record.
func (z *sealer) finish(obj *metapb.Object) error {
	if obj.GetSize() != z.record.GetStoredSize() || z.read != z.size {
		return errs.Errorf("core.sse", errs.Internal, "sealed %d of %d bytes, stored %d", z.read, z.size, obj.GetSize())
	}
	obj.Encryption = z.record
	obj.Size = z.size
	if z.record.GetAlgorithm() == AlgSSES3 {
		obj.Etag = quotedETag(z.md5)
	}
	return nil
}

// sealedPart is one run of sealed blocks of an object: the whole object,
// or one part of a multipart one.
type sealedPart struct {
	prefix    uint32 // block nonce prefix: the part number, 0 for a whole object
	plain     int64  // plaintext bytes
	storedOff int64  // where its sealed blocks start in the stored bytes
}

// sealedParts lays out the sealed runs of an encrypted object.
func sealedParts(obj *metapb.Object) ([]sealedPart, error) {
	rec := obj.GetEncryption()
	nums, sizes := obj.GetPartNumbers(), obj.GetPartSizes()
	if len(nums) == 0 {
		if sealedSize(obj.GetSize()) != rec.GetStoredSize() {
			return nil, errs.E("core.OpenObject", errs.Corrupt, "bad encryption record")
		}
		return []sealedPart{{plain: obj.GetSize()}}, nil
	}
	if len(nums) != len(sizes) {
		return nil, errs.E("core.OpenObject", errs.Corrupt, "part numbers and sizes differ")
	}
	parts := make([]sealedPart, len(nums))
	var stored, plain int64
	for i, n := range nums {
		parts[i] = sealedPart{prefix: uint32(n), plain: sizes[i], storedOff: stored}
		stored += sealedSize(sizes[i])
		plain += sizes[i]
	}
	if stored != rec.GetStoredSize() || plain != obj.GetSize() {
		return nil, errs.E("core.OpenObject", errs.Corrupt, "bad encryption record")
	}
	return parts, nil
}

// openSealed reads [off, off+length) of an encrypted object, opening the
// blocks of each part it covers in turn.
func (s *Store) openSealed(ctx context.Context, obj *metapb.Object, off, length int64, ro ReadOptions) (io.ReadCloser, error) {
	const op = "core.OpenObject"
	rec := obj.GetEncryption()
	key, err := s.dataKey(rec, ro.CustomerKey)
	if err != nil {
		return nil, err
	}
	aead, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	if rec.GetBlockSize() != sealBlock {
		return nil, errs.E(op, errs.Corrupt, "bad encryption block size")
	}
	parts, err := sealedParts(obj)
	if err != nil {
		return nil, err
	}
	size := obj.GetSize()
	if off < 0 || off > size {
		return nil, errs.Errorf(op, errs.Invalid, "offset %d outside object of %d bytes", off, size)
	}
	end := size
	if length >= 0 && length < size-off {
		end = off + length
	}
	raw := &metapb.Object{Bucket: obj.GetBucket(), Key: obj.GetKey(), VersionId: obj.GetVersionId(), Size: rec.GetStoredSize(),
		Inline: obj.GetInline(), EcData: obj.GetEcData(), EcParity: obj.GetEcParity(), Stripes: obj.GetStripes(),
		SegmentsUploadId: obj.GetSegmentsUploadId(), PartNumbers: obj.GetPartNumbers(), PartSizes: obj.GetPartSizes(), Encryption: rec}
	r := &partsReader{}
	var base int64 // plaintext offset of the part
	for _, p := range parts {
		lo, hi := max(off, base)-base, min(end, base+p.plain)-base
		base += p.plain
		if lo >= hi {
			continue
		}
		p, lo, hi := p, lo, hi
		r.open = append(r.open, func() (io.ReadCloser, error) { return s.openSealedRun(ctx, raw, aead, p, lo, hi) })
	}
	if err := r.next(); err != nil { // fail here, where the caller can still answer with an error
		return nil, err
	}
	return r, nil
}

// openSealedRun reads plaintext [lo, hi) of one sealed run.
func (s *Store) openSealedRun(ctx context.Context, raw *metapb.Object, aead cipher.AEAD, p sealedPart, lo, hi int64) (io.ReadCloser, error) {
	const bs = sealBlock
	first, last := lo/bs, (hi-1)/bs
	soff := p.storedOff + first*(bs+sealTag)
	send := p.storedOff + min(sealedSize(p.plain), (last+1)*(bs+sealTag))
	rc, err := s.openRaw(ctx, raw, soff, send-soff)
	if err != nil {
		return nil, err
	}
	return &sealedReader{rc: rc, aead: aead, prefix: p.prefix, bs: bs, index: first, blocks: (p.plain + bs - 1) / bs,
		skip: lo - first*bs, remain: hi - lo, buf: make([]byte, bs+sealTag)}, nil
}

// partsReader reads the runs of a sealed object one after the other,
// opening each when the previous one is done.
type partsReader struct {
	open []func() (io.ReadCloser, error)
	cur  io.ReadCloser
}

func (r *partsReader) next() error {
	if r.cur != nil {
		r.cur.Close()
		r.cur = nil
	}
	if len(r.open) == 0 {
		return nil
	}
	rc, err := r.open[0]()
	if err != nil {
		return err
	}
	r.open, r.cur = r.open[1:], rc
	return nil
}

func (r *partsReader) Read(p []byte) (int, error) {
	for r.cur != nil {
		n, err := r.cur.Read(p)
		if err == io.EOF {
			if nerr := r.next(); nerr != nil {
				return n, nerr
			}
			if n > 0 {
				return n, nil
			}
			continue
		}
		return n, err
	}
	return 0, io.EOF
}

func (r *partsReader) Close() error {
	if r.cur != nil {
		return r.cur.Close()
	}
	return nil
}

// sealedReader opens sealed blocks read from rc.
type sealedReader struct {
	rc     io.ReadCloser
	aead   cipher.AEAD
	prefix uint32
	bs     int64
	index  int64 // of the next block
	blocks int64
	skip   int64 // plaintext bytes to drop from the next block
	remain int64 // plaintext bytes still to hand out
	buf    []byte
	out    []byte
	err    error
}

func (r *sealedReader) Read(p []byte) (int, error) {
	for len(r.out) == 0 {
		if r.remain == 0 {
			return 0, io.EOF
		}
		if r.err != nil {
			return 0, r.err
		}
		n, err := io.ReadFull(r.rc, r.buf)
		if err != nil && err != io.ErrUnexpectedEOF || n <= sealTag {
			if err == nil || err == io.ErrUnexpectedEOF || err == io.EOF {
				err = errs.E("core.OpenObject", errs.Corrupt, "sealed block cut short")
			}
			r.err = err
			return 0, err
		}
		plain, oerr := r.aead.Open(r.buf[:0], blockNonce(r.prefix, r.index), r.buf[:n], lastFlag(r.index == r.blocks-1))
		if oerr != nil {
			r.err = errs.E("core.OpenObject", errs.Corrupt, "sealed block does not authenticate")
			return 0, r.err
		}
		r.index++
		plain = plain[min(r.skip, int64(len(plain))):]
		r.skip = 0
		if int64(len(plain)) > r.remain {
			plain = plain[:r.remain]
		}
		r.out = plain
	}
	n := copy(p, r.out)
	r.out = r.out[n:]
	r.remain -= int64(n)
	return n, nil
}

func (r *sealedReader) Close() error {
	if r.rc == nil {
		return nil
	}
	return r.rc.Close()
}

// OpenObjectWith is OpenObject for objects that may be encrypted: an
// SSE-S3 object is decrypted with the master key, an SSE-C object with
// ro.CustomerKey (missing: errs.Invalid; wrong: errs.Permission).
func (s *Store) OpenObjectWith(ctx context.Context, obj *metapb.Object, off, length int64, ro ReadOptions) (io.ReadCloser, error) {
	if obj.GetEncryption() == nil {
		return s.openRaw(ctx, obj, off, length)
	}
	if obj.GetDeleteMarker() {
		return nil, errs.E("core.OpenObject", errs.NotFound, "version is a delete marker")
	}
	return s.openSealed(ctx, obj, off, length, ro)
}
