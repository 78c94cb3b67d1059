package cluster

import (
	"bytes"
	"context"
	"crypto/sha256"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/meta/metapb"
)

// TestMultipartSegments: a multipart object (its parts kept as segments,
// no stripe in its manifest) uploads, reads whole and by ranges across
// parts, copies, is rebuilt after a lost disk, and once deleted leaves
// neither chunks nor segments behind.
func TestMultipartSegments(t *testing.T) {
	dir := t.TempDir()
	opts := durabilityOpts(dir)
	c := Start(t, opts)
	mc := s3Client(t, c)
	ctx := context.Background()
	if err := mc.MakeBucket(ctx, "mpseg", minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	const partSize = 5 << 20
	data := payload(42, 2*partSize+(1<<20)+3) // parts of 5, 5 and 1 MiB
	info, err := mc.PutObject(ctx, "mpseg", "big", bytes.NewReader(data), int64(len(data)),
		minio.PutObjectOptions{PartSize: partSize})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(strings.Trim(info.ETag, `"`), "-3") {
		t.Fatalf("etag %s: not a 3-part upload", info.ETag)
	}
	head, err := c.Meta().GetObject(ctx, &metapb.GetObjectRequest{Bucket: "mpseg", Key: "big"})
	if err != nil {
		t.Fatal(err)
	}
	if o := head.Object; len(o.Stripes) != 0 || o.SegmentsUploadId == "" || len(o.PartNumbers) != 3 {
		t.Fatalf("manifest holds %d stripes, segments of %q, %d parts", len(o.Stripes), o.SegmentsUploadId, len(o.PartNumbers))
	}
	readRange := func(key string, off, n int64) []byte {
		t.Helper()
		o := minio.GetObjectOptions{}
		if n > 0 {
			if err := o.SetRange(off, off+n-1); err != nil {
				t.Fatal(err)
			}
		}
		r, err := mc.GetObject(ctx, "mpseg", key, o)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		got, err := io.ReadAll(r)
		if err != nil {
			t.Fatalf("read %s %d+%d: %v", key, off, n, err)
		}
		return got
	}
	check := func(key string) {
		t.Helper()
		if got := readRange(key, 0, 0); sha256.Sum256(got) != sha256.Sum256(data) {
			t.Fatalf("%s: read %d bytes that differ from the %d written", key, len(got), len(data))
		}
		for _, r := range [][2]int64{{partSize - 10, 20}, {2*partSize - 1, 2}, {2*partSize + 7, 100}, {3, 4 << 20}} {
			if got := readRange(key, r[0], r[1]); !bytes.Equal(got, data[r[0]:r[0]+r[1]]) {
				t.Fatalf("%s: range %d+%d differs", key, r[0], r[1])
			}
		}
	}
	check("big")
	if _, err := mc.CopyObject(ctx, minio.CopyDestOptions{Bucket: "mpseg", Object: "copy"},
		minio.CopySrcOptions{Bucket: "mpseg", Object: "big"}); err != nil {
		t.Fatal(err)
	}
	check("copy")

	// A lost disk: the segments' shards are rebuilt.
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "chunks", "c1", "disk0.img")); err != nil {
		t.Fatal(err)
	}
	c = Start(t, opts)
	mc = s3Client(t, c)
	want := expectedShards(t, c, "mpseg")
	lost := missingShards(t, c, want)
	if len(lost) == 0 {
		t.Fatal("no shard missing after the disk file was deleted")
	}
	pass(t, c)
	if left := missingShards(t, c, want); len(left) != 0 {
		t.Fatalf("%d of %d lost shards still missing after repair", len(left), len(lost))
	}
	check("big")

	// Deleted: the chunks are freed and the segments dropped.
	for _, key := range []string{"big", "copy"} {
		if err := mc.RemoveObject(ctx, "mpseg", key, minio.RemoveObjectOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		left := expectedShards(t, c, "mpseg")
		gone := 0
		for _, s := range want {
			if _, _, err := c.dur.shards.StatShard(ctx, s.disk, s.chunk); errs.Is(err, errs.NotFound) {
				gone++
			}
		}
		if len(left) == 0 && gone == len(want) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after delete: %d shards still referenced, %d of %d chunks freed", len(left), gone, len(want))
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := mc.RemoveBucket(ctx, "mpseg"); err != nil {
		t.Fatal(err)
	}
}
