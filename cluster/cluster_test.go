package cluster

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// s3Client returns a minio-go client on the cluster's S3 endpoint.
func s3Client(t testing.TB, c *Cluster) *minio.Client {
	t.Helper()
	u, err := url.Parse(c.S3Endpoint())
	if err != nil {
		t.Fatal(err)
	}
	root := c.Root()
	mc, err := minio.New(u.Host, &minio.Options{
		Creds:        credentials.NewStaticV4(root.AccessKey, root.SecretKey, ""),
		Region:       "us-east-1",
		BucketLookup: minio.BucketLookupPath,
		MaxRetries:   1,
	})
	if err != nil {
		t.Fatal(err)
	}
	return mc
}

// payload makes n deterministic pseudo-random bytes.
func payload(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		v := r.Uint64()
		for j := 0; j < 8; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	for i := n &^ 7; i < n; i++ {
		b[i] = byte(r.Uint32())
	}
	return b
}

type object struct {
	key string
	sum [32]byte
	n   int
}

// putObjects writes objects of sizes that cover inline, one stripe and
// several stripes, and returns what was acknowledged.
func putObjects(t *testing.T, mc *minio.Client, bucket string) []object {
	t.Helper()
	ctx := context.Background()
	sizes := []int{0, 1, 100 << 10, 1 << 20, 4<<20 + 17, 9 << 20}
	var objs []object
	for i, n := range sizes {
		data := payload(uint64(i+1), n)
		key := fmt.Sprintf("dir/obj-%d", i)
		if _, err := mc.PutObject(ctx, bucket, key, bytes.NewReader(data), int64(n), minio.PutObjectOptions{DisableMultipart: true}); err != nil {
			t.Fatalf("put %s (%d bytes): %v", key, n, err)
		}
		objs = append(objs, object{key: key, sum: sha256.Sum256(data), n: n})
	}
	return objs
}

func checkObjects(t *testing.T, mc *minio.Client, bucket string, objs []object) {
	t.Helper()
	ctx := context.Background()
	for _, o := range objs {
		r, err := mc.GetObject(ctx, bucket, o.key, minio.GetObjectOptions{})
		if err != nil {
			t.Fatalf("get %s: %v", o.key, err)
		}
		got, err := io.ReadAll(r)
		r.Close()
		if err != nil {
			t.Fatalf("read %s: %v", o.key, err)
		}
		if len(got) != o.n || sha256.Sum256(got) != o.sum {
			t.Fatalf("%s: read %d bytes that differ from the %d written", o.key, len(got), o.n)
		}
	}
}

func health(t *testing.T, c *Cluster) int {
	t.Helper()
	resp, err := http.Get(c.S3Endpoint() + "/_wolke/health")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// waitHealth waits up to 10s for the health endpoint to answer want.
func waitHealth(t *testing.T, c *Cluster, want int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := health(t, c)
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("health = %d, want %d", got, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestTwoChunkServersDown(t *testing.T) {
	c := Start(t, Options{})
	mc := s3Client(t, c)
	ctx := context.Background()
	if err := mc.MakeBucket(ctx, "bucket-one", minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	objs := putObjects(t, mc, "bucket-one")
	waitHealth(t, c, 200)

	for _, i := range []int{1, 4} {
		if err := c.StopChunk(i); err != nil {
			t.Fatal(err)
		}
	}
	checkObjects(t, mc, "bucket-one", objs)
	waitHealth(t, c, 200)
	// Writes still work with two servers down (write quorum k).
	more := payload(99, 5<<20)
	if _, err := mc.PutObject(ctx, "bucket-one", "while-degraded", bytes.NewReader(more), int64(len(more)), minio.PutObjectOptions{DisableMultipart: true}); err != nil {
		t.Fatalf("put with two servers down: %v", err)
	}
	objs = append(objs, object{key: "while-degraded", sum: sha256.Sum256(more), n: len(more)})

	// A third failure: reads of striped objects fail with 503, never wrong data.
	if err := c.StopChunk(2); err != nil {
		t.Fatal(err)
	}
	waitHealth(t, c, 503)
	r, err := mc.GetObject(ctx, "bucket-one", objs[4].key, minio.GetObjectOptions{})
	if err == nil {
		_, err = io.ReadAll(r)
		r.Close()
	}
	var er minio.ErrorResponse
	if !errors.As(err, &er) || er.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("read with three servers down: err = %v, want a 503", err)
	}

	for _, i := range []int{1, 2, 4} {
		if err := c.StartChunk(ctx, i); err != nil {
			t.Fatal(err)
		}
	}
	waitHealth(t, c, 200)
	checkObjects(t, mc, "bucket-one", objs)
}

func TestRestartAndDamagedDisks(t *testing.T) {
	dir := t.TempDir()
	opts := Options{Dir: dir}
	c := Start(t, opts)
	mc := s3Client(t, c)
	if err := mc.MakeBucket(context.Background(), "bucket-two", minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	objs := putObjects(t, mc, "bucket-two")
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}

	// Restart keeps everything.
	c = Start(t, opts)
	mc = s3Client(t, c)
	checkObjects(t, mc, "bucket-two", objs)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}

	// Random bytes over the data area of two disk files: detected, repaired
	// by reconstruction on read, never served.
	disks, _ := filepath.Glob(filepath.Join(dir, "chunks", "*", "*.img"))
	if len(disks) != 6 {
		t.Fatalf("found %d disk files, want 6", len(disks))
	}
	for _, p := range disks[:2] {
		scribble(t, p)
	}
	c = Start(t, opts)
	mc = s3Client(t, c)
	checkObjects(t, mc, "bucket-two", objs)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}

	// Two disk files deleted: fresh disks take their place.
	for _, p := range disks[:2] { // the scribbled ones: two failures at a time
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
	}
	c = Start(t, opts)
	mc = s3Client(t, c)
	waitHealth(t, c, 200)
	checkObjects(t, mc, "bucket-two", objs)
}

// scribble overwrites random 4 KiB blocks in the first 64 MiB of a disk
// file, sparing the superblocks at its start and end.
func scribble(t *testing.T, path string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, _ := f.Stat()
	r := rand.New(rand.NewPCG(1, 2))
	junk := payload(7, 4096)
	limit := min(fi.Size()-16<<10, 64<<20)
	for i := 0; i < 4000; i++ {
		off := 16<<10 + r.Int64N(limit-16<<10)
		if _, err := f.WriteAt(junk[:512], off&^511); err != nil {
			t.Fatal(err)
		}
	}
}

// TestWreckedDiskFiles overwrites two disk files whole (superblocks too):
// the cluster still starts, moves them aside, and serves every object.
func TestWreckedDiskFiles(t *testing.T) {
	dir := t.TempDir()
	c := Start(t, Options{Dir: dir})
	mc := s3Client(t, c)
	if err := mc.MakeBucket(context.Background(), "wrecked", minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	objs := putObjects(t, mc, "wrecked")
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	disks, _ := filepath.Glob(filepath.Join(dir, "chunks", "*", "*.img"))
	for _, p := range disks[1:3] {
		if err := os.WriteFile(p, payload(3, 1<<20), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	c = Start(t, Options{Dir: dir})
	mc = s3Client(t, c)
	waitHealth(t, c, 200)
	checkObjects(t, mc, "wrecked", objs)
	for _, p := range disks[1:3] {
		if _, err := os.Stat(p + ".damaged"); err != nil {
			t.Errorf("damaged disk file not kept aside: %v", err)
		}
	}
}
