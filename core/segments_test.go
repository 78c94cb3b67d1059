package core

import (
	"bytes"
	"context"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/meta/metapb"
)

// TestSegmentPaging: a read asks meta only for the segments its range
// covers, page by page, and a manifest whose parts disagree with its
// segments fails rather than returning wrong bytes.
func TestSegmentPaging(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, testConfig(), 6)
	id, err := e.s.CreateMultipartUpload(ctx, &metapb.Object{Bucket: testBucket, Key: "mp"})
	if err != nil {
		t.Fatal(err)
	}
	const parts, size = 5, 2*testStripe + 3
	var want []byte
	var done []*metapb.CompletedPart
	for n := int32(1); n <= parts; n++ {
		data := payload(uint64(n), size)
		if _, err := e.s.UploadPart(ctx, testBucket, "mp", id, n, bytes.NewReader(data), size); err != nil {
			t.Fatal(err)
		}
		want = append(want, data...)
		done = append(done, &metapb.CompletedPart{Number: n, Etag: etagOf(data)})
	}
	obj, err := e.s.CompleteMultipartUpload(ctx, testBucket, "mp", id, done)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		off, n    int64
		wantCalls int
	}{
		{"whole", 0, -1, 3},                     // the fake answers 2 parts a page
		{"in the last part", 4*size + 5, 10, 1}, // parts 1-4 are never asked for
		{"parts 2 and 3", size + 1, size, 1},
		{"empty at the end", parts * size, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := e.meta.Calls("GetObjectSegments")
			got, err := e.read(obj, tc.off, tc.n)
			end := int64(len(want))
			if tc.n >= 0 {
				end = tc.off + tc.n
			}
			if err != nil || !bytes.Equal(got, want[tc.off:end]) {
				t.Fatalf("read %d+%d: %v", tc.off, tc.n, err)
			}
			if calls := e.meta.Calls("GetObjectSegments") - before; calls != tc.wantCalls {
				t.Fatalf("%d pages asked for, want %d", calls, tc.wantCalls)
			}
		})
	}
	bad := proto.CloneOf(obj)
	bad.PartSizes[1]++
	bad.PartSizes[2]--
	if _, err := e.read(bad, 0, -1); !errs.Is(err, errs.Corrupt) {
		t.Fatalf("read with part sizes that differ from the segments: %v, want Corrupt", err)
	}
	bad.PartSizes[2]++
	if _, err := e.read(bad, 0, -1); !errs.Is(err, errs.Corrupt) {
		t.Fatalf("read with part sizes that do not add up: %v, want Corrupt", err)
	}
}
