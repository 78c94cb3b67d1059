package gatewaytest

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/wolke-cloud/wolke/gateway"
	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/meta/metapb"
)

// RunObjectsSuite checks that a store has the semantics the gateway relies
// on. open returns a new, empty store. Every implementation of
// gateway.Objects (core.Store, Memory) should pass it.
func RunObjectsSuite(t *testing.T, open func(t *testing.T) gateway.Objects) {
	t.Run("Buckets", func(t *testing.T) { suiteBuckets(t, open(t)) })
	t.Run("Objects", func(t *testing.T) { suiteObjects(t, open(t)) })
	t.Run("FailingBody", func(t *testing.T) { suiteFailingBody(t, open(t)) })
	t.Run("List", func(t *testing.T) { suiteList(t, open(t)) })
	t.Run("Multipart", func(t *testing.T) { suiteMultipart(t, open(t)) })
}

func wantKind(t *testing.T, what string, err error, k errs.Kind) {
	t.Helper()
	if !errs.Is(err, k) {
		t.Errorf("%s: err = %v, want kind %v", what, err, k)
	}
}

func put(t *testing.T, s gateway.Objects, bucket, key string, data []byte) *metapb.Object {
	t.Helper()
	obj, err := s.PutObject(context.Background(), &metapb.Object{Bucket: bucket, Key: key, ContentType: "text/plain"},
		bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatalf("PutObject %s/%s: %v", bucket, key, err)
	}
	return obj
}

func read(t *testing.T, s gateway.Objects, obj *metapb.Object, off, n int64) []byte {
	t.Helper()
	rc, err := s.OpenObject(context.Background(), obj, off, n)
	if err != nil {
		t.Fatalf("OpenObject: %v", err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return b
}

func suiteBuckets(t *testing.T, s gateway.Objects) {
	ctx := context.Background()
	for _, name := range []string{"zeta", "alpha"} {
		if err := s.CreateBucket(ctx, &metapb.Bucket{Name: name, Owner: "AK", Region: "us-east-1", CreatedUnixNano: 1}); err != nil {
			t.Fatal(err)
		}
	}
	wantKind(t, "create twice", s.CreateBucket(ctx, &metapb.Bucket{Name: "alpha", Owner: "other"}), errs.Exists)
	b, err := s.GetBucket(ctx, "alpha")
	if err != nil || b.GetOwner() != "AK" || b.GetRegion() != "us-east-1" {
		t.Fatalf("GetBucket: %v %v", b, err)
	}
	_, err = s.GetBucket(ctx, "nope")
	wantKind(t, "get missing", err, errs.NotFound)
	bs, err := s.ListBuckets(ctx)
	if err != nil || len(bs) != 2 || bs[0].GetName() != "alpha" || bs[1].GetName() != "zeta" {
		t.Fatalf("ListBuckets: %v %v", bs, err)
	}
	put(t, s, "alpha", "k", []byte("x"))
	wantKind(t, "delete non-empty", s.DeleteBucket(ctx, "alpha"), errs.Precondition)
	wantKind(t, "delete missing", s.DeleteBucket(ctx, "nope"), errs.NotFound)
	if err := s.DeleteBucket(ctx, "zeta"); err != nil {
		t.Fatal(err)
	}
	_, err = s.GetBucket(ctx, "zeta")
	wantKind(t, "get deleted", err, errs.NotFound)
}

func suiteObjects(t *testing.T, s gateway.Objects) {
	ctx := context.Background()
	if err := s.CreateBucket(ctx, &metapb.Bucket{Name: "b", Owner: "AK"}); err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("0123456789"), 1000)
	tmpl := &metapb.Object{Bucket: "b", Key: "a//../k", ContentType: "text/plain",
		UserMeta: map[string]string{"color": "blue"}, Headers: map[string]string{"Cache-Control": "no-cache"}}
	obj, err := s.PutObject(ctx, tmpl, bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	sum := md5.Sum(data)
	if obj.GetEtag() != `"`+hex.EncodeToString(sum[:])+`"` || obj.GetSize() != int64(len(data)) || obj.GetMtimeUnixNano() == 0 {
		t.Errorf("put result %v", obj)
	}
	h, err := s.HeadObject(ctx, "b", "a//../k", "")
	if err != nil || h.GetEtag() != obj.GetEtag() || h.GetContentType() != "text/plain" ||
		h.GetUserMeta()["color"] != "blue" || h.GetHeaders()["Cache-Control"] != "no-cache" {
		t.Fatalf("HeadObject: %v %v", h, err)
	}
	if got := read(t, s, h, 0, h.GetSize()); !bytes.Equal(got, data) {
		t.Error("whole read differs")
	}
	if got := read(t, s, h, 9995, 5); string(got) != "56789" {
		t.Errorf("ranged read %q", got)
	}
	_, err = s.HeadObject(ctx, "b", "missing", "")
	wantKind(t, "head missing", err, errs.NotFound)
	_, err = s.PutObject(ctx, &metapb.Object{Bucket: "nob", Key: "k"}, strings.NewReader("x"), 1)
	wantKind(t, "put into missing bucket", err, errs.NotFound)
	empty := put(t, s, "b", "empty", nil)
	if empty.GetSize() != 0 {
		t.Errorf("empty object size %d", empty.GetSize())
	}
	if err := s.DeleteObject(ctx, "b", "a//../k", ""); err != nil {
		t.Fatal(err)
	}
	// Deleting a missing key may succeed or be NotFound (the gateway answers
	// 204 either way), but a missing bucket must be NotFound.
	if err := s.DeleteObject(ctx, "b", "a//../k", ""); err != nil && !errs.Is(err, errs.NotFound) {
		t.Errorf("delete again: %v", err)
	}
	wantKind(t, "delete in missing bucket", s.DeleteObject(ctx, "nob", "k", ""), errs.NotFound)
	_, err = s.HeadObject(ctx, "b", "a//../k", "")
	wantKind(t, "head deleted", err, errs.NotFound)
}

var errBody = errors.New("body verification failed")

// lastBytesFail serves its data but fails instead of handing out the last
// bytes, as the gateway's verifying readers do on a bad checksum.
type lastBytesFail struct {
	data []byte
	off  int
}

func (r *lastBytesFail) Read(p []byte) (int, error) {
	n := copy(p, r.data[r.off:])
	if r.off+n == len(r.data) {
		return 0, errBody
	}
	r.off += n
	return n, nil
}

func suiteFailingBody(t *testing.T, s gateway.Objects) {
	ctx := context.Background()
	if err := s.CreateBucket(ctx, &metapb.Bucket{Name: "b", Owner: "AK"}); err != nil {
		t.Fatal(err)
	}
	old := put(t, s, "b", "k", []byte("old"))
	for _, size := range []int{1, 100, 300 << 10} {
		data := bytes.Repeat([]byte{'n'}, size)
		if _, err := s.PutObject(ctx, &metapb.Object{Bucket: "b", Key: "k"}, &lastBytesFail{data: data}, int64(size)); err == nil {
			t.Errorf("size %d: PutObject succeeded with a failing body", size)
		}
		if _, err := s.PutObject(ctx, &metapb.Object{Bucket: "b", Key: "new"}, &lastBytesFail{data: data}, int64(size)); err == nil {
			t.Errorf("size %d: PutObject of a new key succeeded with a failing body", size)
		}
		h, err := s.HeadObject(ctx, "b", "k", "")
		if err != nil || h.GetEtag() != old.GetEtag() {
			t.Errorf("size %d: failed put replaced the object: %v %v", size, h, err)
		}
		_, err = s.HeadObject(ctx, "b", "new", "")
		wantKind(t, fmt.Sprintf("size %d: failed put committed", size), err, errs.NotFound)
	}
	id, err := s.CreateMultipartUpload(ctx, &metapb.Object{Bucket: "b", Key: "mp"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.UploadPart(ctx, "b", "mp", id, 1, &lastBytesFail{data: []byte("part")}, 4); err == nil {
		t.Error("UploadPart succeeded with a failing body")
	}
	parts, err := s.ListParts(ctx, &metapb.ListPartsRequest{Bucket: "b", Key: "mp", UploadId: id})
	if err != nil || len(parts.GetParts()) != 0 {
		t.Errorf("failed part recorded: %v %v", parts, err)
	}
}

func suiteList(t *testing.T, s gateway.Objects) {
	ctx := context.Background()
	if err := s.CreateBucket(ctx, &metapb.Bucket{Name: "b", Owner: "AK"}); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"a/1", "a/2", "a/b/3", "b", "c/1", "d"} {
		put(t, s, "b", k, []byte(k))
	}
	cases := []struct {
		prefix, delim, after string
		max                  int32
		keys, prefixes       []string
		truncated            bool
		next                 string
	}{
		{"", "", "", 100, []string{"a/1", "a/2", "a/b/3", "b", "c/1", "d"}, nil, false, ""},
		{"", "", "", 2, []string{"a/1", "a/2"}, nil, true, "a/2"},
		{"", "/", "", 100, []string{"b", "d"}, []string{"a/", "c/"}, false, ""},
		{"", "/", "", 2, []string{"b"}, []string{"a/"}, true, "b"},
		{"", "/", "a/", 100, []string{"b", "d"}, []string{"c/"}, false, ""},
		{"a/", "/", "", 100, []string{"a/1", "a/2"}, []string{"a/b/"}, false, ""},
		{"a/", "", "a/1", 100, []string{"a/2", "a/b/3"}, nil, false, ""},
		{"x", "", "", 100, nil, nil, false, ""},
	}
	for _, c := range cases {
		resp, err := s.ListObjects(ctx, &metapb.ListObjectsRequest{Bucket: "b", Prefix: c.prefix, Delimiter: c.delim, StartAfter: c.after, MaxKeys: c.max})
		if err != nil {
			t.Fatal(err)
		}
		var keys []string
		for _, o := range resp.GetObjects() {
			keys = append(keys, o.GetKey())
		}
		if !slices.Equal(keys, c.keys) || !slices.Equal(resp.GetCommonPrefixes(), c.prefixes) || resp.GetTruncated() != c.truncated ||
			c.truncated && resp.GetNextStartAfter() != c.next {
			t.Errorf("%+v: keys %q prefixes %q truncated %v next %q", c, keys, resp.GetCommonPrefixes(), resp.GetTruncated(), resp.GetNextStartAfter())
		}
	}
	_, err := s.ListObjects(ctx, &metapb.ListObjectsRequest{Bucket: "nob"})
	wantKind(t, "list missing bucket", err, errs.NotFound)
}

func suiteMultipart(t *testing.T, s gateway.Objects) {
	ctx := context.Background()
	if err := s.CreateBucket(ctx, &metapb.Bucket{Name: "b", Owner: "AK"}); err != nil {
		t.Fatal(err)
	}
	id, err := s.CreateMultipartUpload(ctx, &metapb.Object{Bucket: "b", Key: "mp", ContentType: "video/mp4"})
	if err != nil || id == "" {
		t.Fatalf("CreateMultipartUpload: %q %v", id, err)
	}
	p1 := bytes.Repeat([]byte{'1'}, gateway.MinPartSize)
	p2 := []byte("tail")
	var etags []string
	for i, data := range [][]byte{p1, p2} {
		part, err := s.UploadPart(ctx, "b", "mp", id, int32(i+1), bytes.NewReader(data), int64(len(data)))
		if err != nil {
			t.Fatal(err)
		}
		if part.GetSize() != int64(len(data)) || part.GetEtag() == "" {
			t.Errorf("part %d: %v", i+1, part)
		}
		etags = append(etags, part.GetEtag())
	}
	_, err = s.UploadPart(ctx, "b", "mp", "nope", 1, bytes.NewReader(p2), int64(len(p2)))
	wantKind(t, "part of unknown upload", err, errs.NotFound)
	lp, err := s.ListParts(ctx, &metapb.ListPartsRequest{Bucket: "b", Key: "mp", UploadId: id, MaxParts: 1})
	if err != nil || len(lp.GetParts()) != 1 || !lp.GetTruncated() || lp.GetNextPartNumberMarker() != 1 {
		t.Fatalf("ListParts page: %v %v", lp, err)
	}
	ups, err := s.ListMultipartUploads(ctx, &metapb.ListUploadsRequest{Bucket: "b"})
	if err != nil || len(ups.GetUploads()) != 1 || ups.GetUploads()[0].GetUploadId() != id {
		t.Fatalf("ListMultipartUploads: %v %v", ups, err)
	}
	obj, err := s.CompleteMultipartUpload(ctx, "b", "mp", id, []*metapb.CompletedPart{{Number: 1, Etag: etags[0]}, {Number: 2, Etag: etags[1]}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(obj.GetEtag(), `-2"`) || obj.GetSize() != int64(len(p1)+len(p2)) || obj.GetContentType() != "video/mp4" {
		t.Errorf("completed %v", obj)
	}
	h, err := s.HeadObject(ctx, "b", "mp", "")
	if err != nil {
		t.Fatal(err)
	}
	if got := read(t, s, h, int64(len(p1))-2, 6); string(got) != "11tail" {
		t.Errorf("read across parts %q", got)
	}
	_, err = s.ListParts(ctx, &metapb.ListPartsRequest{Bucket: "b", Key: "mp", UploadId: id})
	wantKind(t, "parts of a completed upload", err, errs.NotFound)

	id2, err := s.CreateMultipartUpload(ctx, &metapb.Object{Bucket: "b", Key: "ab"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.AbortMultipartUpload(ctx, "b", "ab", id2); err != nil {
		t.Fatal(err)
	}
	wantKind(t, "abort twice", s.AbortMultipartUpload(ctx, "b", "ab", id2), errs.NotFound)
	_, err = s.CreateMultipartUpload(ctx, &metapb.Object{Bucket: "nob", Key: "k"})
	wantKind(t, "upload into missing bucket", err, errs.NotFound)
}
