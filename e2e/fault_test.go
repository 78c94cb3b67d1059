package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// superblockSpan is left alone at both ends of a disk file: the chunk
// server keeps its superblocks there.
const superblockSpan = 8 << 10

// storedObject is an object the fault tests wrote: randomBytes(size, seed),
// or for multipart objects the parts one after the other.
type storedObject struct {
	key   string
	parts []int // part sizes; one entry for a plain PUT
	seed  uint64
}

func (o storedObject) body() []byte {
	var b []byte
	for i, n := range o.parts {
		b = append(b, randomBytes(n, o.seed+uint64(i))...)
	}
	return b
}

// loadObjects writes inline-sized, striped and multipart objects.
func loadObjects(t *testing.T, cl *s3.Client, bucket string) []storedObject {
	t.Helper()
	ctx := context.Background()
	if _, err := cl.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatalf("CreateBucket: %v", err)
	}
	var objs []storedObject
	for i, n := range []int{0, 100, 4 << 10, 100 << 10, 1<<20 + 1, 5 << 20, 16 << 20, 33<<20 + 7} {
		o := storedObject{key: fmt.Sprintf("plain/%02d-%d", i, n), parts: []int{n}, seed: uint64(1000 + i)}
		if _, err := cl.PutObject(ctx, &s3.PutObjectInput{
			Bucket: aws.String(bucket), Key: aws.String(o.key),
			Body: bytes.NewReader(o.body()), ContentLength: aws.Int64(int64(n)),
		}); err != nil {
			t.Fatalf("PutObject %s: %v", o.key, err)
		}
		objs = append(objs, o)
	}
	mp := storedObject{key: "multipart/obj", parts: []int{5 << 20, 5 << 20, 1<<20 + 3}, seed: 2000}
	putMultipart(t, cl, bucket, mp)
	objs = append(objs, mp)
	t.Logf("wrote %d objects", len(objs))
	return objs
}

func putMultipart(t *testing.T, cl *s3.Client, bucket string, o storedObject) {
	t.Helper()
	ctx := context.Background()
	up, err := cl.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String(o.key)})
	if err != nil {
		t.Fatalf("CreateMultipartUpload: %v", err)
	}
	var done []types.CompletedPart
	for i, n := range o.parts {
		num := aws.Int32(int32(i + 1))
		p, err := cl.UploadPart(ctx, &s3.UploadPartInput{
			Bucket: aws.String(bucket), Key: aws.String(o.key), UploadId: up.UploadId, PartNumber: num,
			Body: bytes.NewReader(randomBytes(n, o.seed+uint64(i))), ContentLength: aws.Int64(int64(n)),
		})
		if err != nil {
			t.Fatalf("UploadPart %d: %v", i+1, err)
		}
		done = append(done, types.CompletedPart{ETag: p.ETag, PartNumber: num})
	}
	if _, err := cl.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket: aws.String(bucket), Key: aws.String(o.key), UploadId: up.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: done},
	}); err != nil {
		t.Fatalf("CompleteMultipartUpload: %v", err)
	}
}

// verifyObjects reads every object back, whole and one range.
func verifyObjects(t *testing.T, cl *s3.Client, bucket string, objs []storedObject) {
	t.Helper()
	ctx := context.Background()
	for _, o := range objs {
		want := o.body()
		got, err := getAll(ctx, cl, bucket, o.key)
		if err != nil {
			t.Errorf("GetObject %s: %v", o.key, err)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: read %d bytes (sha256 %s), wrote %d (sha256 %s)", o.key, len(got), sha256Hex(got), len(want), sha256Hex(want))
			continue
		}
		if len(want) < 3 {
			continue
		}
		from, to := len(want)/3, 2*len(want)/3
		out, err := cl.GetObject(ctx, &s3.GetObjectInput{
			Bucket: aws.String(bucket), Key: aws.String(o.key), Range: aws.String(fmt.Sprintf("bytes=%d-%d", from, to)),
		})
		if err != nil {
			t.Errorf("ranged GetObject %s: %v", o.key, err)
			continue
		}
		part, err := io.ReadAll(out.Body)
		out.Body.Close()
		if err != nil || !bytes.Equal(part, want[from:to+1]) {
			t.Errorf("ranged GetObject %s bytes=%d-%d: %d bytes, err %v, content equal %v", o.key, from, to, len(part), err, bytes.Equal(part, want[from:to+1]))
		}
	}
}

// diskFiles finds the chunk servers' disk files, DIR/chunks/*/*.img.
func diskFiles(t *testing.T, dir string) []string {
	t.Helper()
	disks, err := filepath.Glob(filepath.Join(dir, "chunks", "*", "*.img"))
	if err != nil {
		t.Fatal(err)
	}
	if len(disks) < 6 {
		t.Fatalf("found %d disk files under %s/chunks/*/*.img, want at least 6 (4+2 on six chunk servers):\n%s",
			len(disks), dir, treeListing(dir))
	}
	sort.Strings(disks)
	return disks
}

// pickTwo returns two distinct disks from different chunk servers.
func pickTwo(t *testing.T, disks []string, r *rand.Rand) [2]string {
	t.Helper()
	for range 100 {
		a, b := disks[r.IntN(len(disks))], disks[r.IntN(len(disks))]
		if filepath.Dir(a) != filepath.Dir(b) {
			return [2]string{a, b}
		}
	}
	t.Fatalf("no two disks on different chunk servers among %v", disks)
	return [2]string{}
}

// TestFaultTolerance checks 4+2 erasure coding on six chunk servers: two
// lost disks, or two disks with corrupted data, lose no object.
func TestFaultTolerance(t *testing.T) {
	wolkeBin(t) // skip or fail before anything else
	seed := uint64(time.Now().UnixNano())
	t.Logf("random seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 2))

	t.Run("TwoDisksDeleted", func(t *testing.T) {
		c := StartCluster(t)
		objs := loadObjects(t, c.S3(3), "lost")
		c.Stop()
		victims := pickTwo(t, diskFiles(t, c.Dir), r)
		for _, d := range victims {
			if err := os.Remove(d); err != nil {
				t.Fatal(err)
			}
		}
		t.Logf("deleted %v", victims)
		c.Start()
		if code, err := c.Health(); err != nil || code != 200 {
			t.Fatalf("health after losing two disks: %d, %v", code, err)
		}
		verifyObjects(t, c.S3(3), "lost", objs)
	})

	t.Run("TwoDisksCorrupted", func(t *testing.T) {
		c := StartCluster(t)
		objs := loadObjects(t, c.S3(3), "rot")
		c.Stop()
		for _, d := range pickTwo(t, diskFiles(t, c.Dir), r) {
			n := corruptDisk(t, d, r)
			if n == 0 {
				t.Fatalf("%s: no written data found between the superblocks to corrupt", d)
			}
			t.Logf("corrupted %d blocks of %s", n, d)
		}
		c.Start()
		verifyObjects(t, c.S3(3), "rot", objs)
		// A second pass reads whatever a repair may have rewritten.
		verifyObjects(t, c.S3(3), "rot", objs)
		if code, err := c.Health(); err != nil || code != 200 {
			t.Errorf("health after bitrot: %d, %v", code, err)
		}
	})
}

// treeListing lists files under dir, for failure messages.
func treeListing(dir string) string {
	var b strings.Builder
	filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			fmt.Fprintf(&b, "  %s (%d bytes)\n", rel, info.Size())
		}
		return nil
	})
	if b.Len() == 0 {
		return "  (no files)"
	}
	return b.String()
}
