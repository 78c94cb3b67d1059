package core

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"testing"

	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/meta/metapb"
)

func multipartETag(parts ...[]byte) string {
	h := md5.New()
	for _, p := range parts {
		sum := md5.Sum(p)
		h.Write(sum[:])
	}
	return fmt.Sprintf(`"%s-%d"`, hex.EncodeToString(h.Sum(nil)), len(parts))
}

func TestMultipart(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, testConfig(), 6)
	id, err := e.s.CreateMultipartUpload(ctx, &metapb.Object{Bucket: testBucket, Key: "mp", ContentType: "a/b"})
	if err != nil {
		t.Fatal(err)
	}
	sizes := []int{testStripe + 5, 3, 2 * testStripe, testShard - 1, 777}
	parts := make([][]byte, len(sizes))
	upload := func(n int, data []byte, size int64) *metapb.Part {
		t.Helper()
		p, err := e.s.UploadPart(ctx, testBucket, "mp", id, int32(n), oneByteReader{bytes.NewReader(data)}, size)
		if err != nil {
			t.Fatalf("UploadPart(%d): %v", n, err)
		}
		return p
	}
	for i, n := range sizes {
		parts[i] = payload(uint64(100+i), n)
		size := int64(n)
		if i%2 == 1 {
			size = -1
		}
		p := upload(i+1, parts[i], size)
		if p.GetEtag() != etagOf(parts[i]) || p.GetSize() != int64(n) || len(p.GetStripes()) == 0 {
			t.Fatalf("part %d: etag %s size %d stripes %d", i+1, p.GetEtag(), p.GetSize(), len(p.GetStripes()))
		}
	}
	// Upload part 2 again: the first upload's chunks are freed.
	oldPart2, err := e.s.ListParts(ctx, &metapb.ListPartsRequest{Bucket: testBucket, Key: "mp", UploadId: id, PartNumberMarker: 1, MaxParts: 1})
	if err != nil {
		t.Fatal(err)
	}
	parts[1] = payload(200, 11)
	upload(2, parts[1], 11)
	// Part 4 will be left out of the completed object.
	unused := e.chunksOf(lastPart(t, e, id, 4).GetStripes())

	ups, err := e.s.ListMultipartUploads(ctx, &metapb.ListUploadsRequest{Bucket: testBucket})
	if err != nil || len(ups.GetUploads()) != 1 || ups.GetUploads()[0].GetUploadId() != id {
		t.Fatalf("ListMultipartUploads: %v %v", ups, err)
	}
	var done []*metapb.CompletedPart
	var want []byte
	var used [][]byte
	for i, p := range parts {
		if i == 3 {
			continue
		}
		done = append(done, &metapb.CompletedPart{Number: int32(i + 1), Etag: etagOf(p)})
		want = append(want, p...)
		used = append(used, p)
	}
	obj, err := e.s.CompleteMultipartUpload(ctx, testBucket, "mp", id, done)
	if err != nil {
		t.Fatal(err)
	}
	if obj.GetSize() != int64(len(want)) || obj.GetEtag() != multipartETag(used...) || obj.GetContentType() != "a/b" {
		t.Fatalf("object size %d etag %s type %q", obj.GetSize(), obj.GetEtag(), obj.GetContentType())
	}
	got, err := e.read(e.head("mp"), 0, -1)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("read back: %v", err)
	}
	// Ranges crossing part boundaries.
	bounds := []int64{0}
	for _, p := range used {
		bounds = append(bounds, bounds[len(bounds)-1]+int64(len(p)))
	}
	for _, b := range bounds[1 : len(bounds)-1] {
		for _, r := range [][2]int64{{b - 1, 2}, {b - 3, 10}, {b, 1}, {b - 1, testStripe + 2}} {
			off, n := max(r[0], 0), r[1]
			end := min(off+n, int64(len(want)))
			got, err := e.read(obj, off, n)
			if err != nil || !bytes.Equal(got, want[off:end]) {
				t.Fatalf("read(%d, %d) across part boundary %d: %v", off, n, b, err)
			}
		}
	}
	e.s.free.waitIdle()
	for _, c := range append(e.chunksOf(oldPart2.GetParts()[0].GetStripes()), unused...) {
		if e.stored(c) {
			t.Fatalf("chunk %s of a replaced or unused part still stored", c)
		}
	}
	// The object's stripes stay in its segments, its parts.
	segs := e.meta.Segments()[obj.GetSegmentsUploadId()]
	if len(obj.GetStripes()) != 0 || len(segs) != len(used) {
		t.Fatalf("object holds %d stripes and %d segments, want 0 and %d", len(obj.GetStripes()), len(segs), len(used))
	}
	for _, p := range segs {
		for _, c := range e.chunksOf(p.GetStripes()) {
			if !e.stored(c) {
				t.Fatalf("chunk %s of segment %d missing", c, p.GetNumber())
			}
		}
	}
	// Replacing the object frees all its segments' chunks, then the
	// segments.
	e.put("mp", []byte("tiny"))
	e.s.free.waitIdle()
	if left := e.shards.Chunks(); len(left) != 0 {
		t.Fatalf("chunks left: %v", left)
	}
	if left := e.meta.Segments(); len(left) != 0 {
		t.Fatalf("segments left: %v", left)
	}
}

func lastPart(t *testing.T, e *env, id string, n int32) *metapb.Part {
	t.Helper()
	resp, err := e.s.ListParts(context.Background(), &metapb.ListPartsRequest{Bucket: testBucket, Key: "mp", UploadId: id, PartNumberMarker: n - 1, MaxParts: 1})
	if err != nil || len(resp.GetParts()) != 1 {
		t.Fatalf("ListParts: %v", err)
	}
	return resp.GetParts()[0]
}

func TestMultipartAbort(t *testing.T) {
	t.Run("parts listed", func(t *testing.T) { testMultipartAbort(t, false) })
	t.Run("parts left as garbage segments", func(t *testing.T) { testMultipartAbort(t, true) })
}

func testMultipartAbort(t *testing.T, garbage bool) {
	ctx := context.Background()
	e := newEnv(t, testConfig(), 6)
	e.meta.AbortAsGarbage(garbage)
	id, err := e.s.CreateMultipartUpload(ctx, &metapb.Object{Bucket: testBucket, Key: "mp"})
	if err != nil {
		t.Fatal(err)
	}
	for i, n := range []int{1, 2 * testStripe, 0} {
		data := payload(uint64(i), n)
		if _, err := e.s.UploadPart(ctx, testBucket, "mp", id, int32(i+1), bytes.NewReader(data), int64(n)); err != nil {
			t.Fatal(err)
		}
	}
	if len(e.shards.Chunks()) == 0 {
		t.Fatal("parts were not striped")
	}
	if err := e.s.AbortMultipartUpload(ctx, testBucket, "mp", id); err != nil {
		t.Fatal(err)
	}
	e.s.free.waitIdle()
	if left := e.shards.Chunks(); len(left) != 0 {
		t.Fatalf("chunks left after abort: %v", left)
	}
	if left := e.meta.Segments(); len(left) != 0 {
		t.Fatalf("segments left after abort: %v", left)
	}
	if _, err := e.s.UploadPart(ctx, testBucket, "mp", id, 1, bytes.NewReader([]byte("x")), 1); !errs.Is(err, errs.NotFound) {
		t.Fatalf("UploadPart after abort: %v", err)
	}
	if e.shards.Ops("WriteShard") != 6*3 {
		t.Fatalf("%d shard writes: a part for an aborted upload was striped", e.shards.Ops("WriteShard"))
	}
}

func TestMultipartErrors(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, testConfig(), 6)
	cfg := testConfig()
	cfg.MinPartSize = testStripe
	strict := newEnv(t, cfg, 6)
	if _, err := e.s.CreateMultipartUpload(ctx, &metapb.Object{Bucket: "nope", Key: "k"}); !errs.Is(err, errs.NotFound) {
		t.Fatalf("upload to missing bucket: %v", err)
	}
	id, err := strict.s.CreateMultipartUpload(ctx, &metapb.Object{Bucket: testBucket, Key: "k"})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int32{0, maxPartNumber + 1} {
		if _, err := strict.s.UploadPart(ctx, testBucket, "k", id, n, bytes.NewReader(nil), 0); !errs.Is(err, errs.Invalid) {
			t.Fatalf("part number %d: %v", n, err)
		}
	}
	small := payload(1, 10)
	for i := int32(1); i <= 2; i++ {
		if _, err := strict.s.UploadPart(ctx, testBucket, "k", id, i, bytes.NewReader(small), 10); err != nil {
			t.Fatal(err)
		}
	}
	parts := []*metapb.CompletedPart{{Number: 1, Etag: etagOf(small)}, {Number: 2, Etag: etagOf(small)}}
	if _, err := strict.s.CompleteMultipartUpload(ctx, testBucket, "k", id, parts); !errs.Is(err, errs.Invalid) {
		t.Fatalf("complete with a small part: %v", err)
	}
	// A failing body in a part leaves nothing behind.
	boom := errs.E("body", errs.Invalid, "checksum")
	before := strict.shards.Chunks()
	_, err = strict.s.UploadPart(ctx, testBucket, "k", id, 3, &failingReader{bytes.NewReader(payload(2, 3*testStripe)), boom}, -1)
	if !errs.Is(err, errs.Invalid) {
		t.Fatalf("failing part body: %v", err)
	}
	if after := strict.shards.Chunks(); len(after) != len(before) {
		t.Fatalf("failed part left %d chunks", len(after)-len(before))
	}
}
