package cluster

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/wolke-cloud/wolke/meta/metapb"
)

// heldBody serves data but stops at byte at until release is closed.
type heldBody struct {
	data     []byte
	off, at  int
	release  chan struct{}
	reached  chan struct{}
	reachedO sync.Once
}

func (h *heldBody) Read(p []byte) (int, error) {
	if h.off == h.at {
		h.reachedO.Do(func() { close(h.reached) })
		<-h.release
	}
	if h.off < h.at {
		p = p[:min(len(p), h.at-h.off)]
	}
	n := copy(p, h.data[h.off:])
	h.off += n
	if n == 0 {
		return 0, io.EOF
	}
	return n, nil
}

// shardChunks counts the chunks on every disk of the cluster.
func shardChunks(t *testing.T, c *Cluster) int {
	t.Helper()
	n := 0
	for _, cs := range c.chunks {
		for _, d := range cs.srv.Disks() {
			page, err := c.dur.shards.ListChunks(context.Background(), d.ID, "", "", 10000)
			if err != nil {
				t.Fatal(err)
			}
			n += len(page)
		}
	}
	return n
}

// TestGCKeepsStripesOfSlowWrites holds a PUT and an UploadPart mid-body,
// after their first stripe is on disk, runs a repair pass that collects
// garbage at once, then lets the writes finish: the objects must read back
// whole. Without write intents the pass deletes the first stripes and the
// commits acknowledge unreadable objects.
func TestGCKeepsStripesOfSlowWrites(t *testing.T) {
	c := Start(t, durabilityOpts(t.TempDir()))
	mc := s3Client(t, c)
	ctx := context.Background()
	if err := mc.MakeBucket(ctx, "slow", minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(7, 7))
	data := make([]byte, 10<<20) // two full 4 MiB stripes and a bit
	for i := range data {
		data[i] = byte(r.Uint32())
	}
	store := c.gw.store
	up, err := store.CreateMultipartUpload(ctx, &metapb.Object{Bucket: "slow", Key: "multi"})
	if err != nil {
		t.Fatal(err)
	}
	bodies := []*heldBody{
		{data: data, at: 9 << 20, release: make(chan struct{}), reached: make(chan struct{})},
		{data: data, at: 9 << 20, release: make(chan struct{}), reached: make(chan struct{})},
	}
	errc := make(chan error, 2)
	go func() {
		_, err := store.PutObject(ctx, &metapb.Object{Bucket: "slow", Key: "put"}, bodies[0], int64(len(data)))
		errc <- err
	}()
	go func() {
		_, err := store.UploadPart(ctx, "slow", "multi", up, 1, bodies[1], int64(len(data)))
		errc <- err
	}()
	for _, b := range bodies {
		<-b.reached
	}
	// Two stripes of each write on disk (quorum at least: 4 of 6 shards).
	deadline := time.Now().Add(10 * time.Second)
	for shardChunks(t, c) < 2*2*4 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond) // stragglers
	pass(t, c)
	if st := c.Repair().Status(); st.GCDeleted != 0 {
		t.Fatalf("GC deleted %d chunks of writes in progress", st.GCDeleted)
	}
	for _, b := range bodies {
		close(b.release)
	}
	for range bodies {
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
	core := minio.Core{Client: mc}
	parts, err := core.ListObjectParts(ctx, "slow", "multi", up, 0, 10)
	if err != nil || len(parts.ObjectParts) != 1 {
		t.Fatalf("parts %v: %v", parts, err)
	}
	if _, err := core.CompleteMultipartUpload(ctx, "slow", "multi", up,
		[]minio.CompletePart{{PartNumber: 1, ETag: parts.ObjectParts[0].ETag}}, minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	pass(t, c) // committed now: still nothing to collect
	for _, key := range []string{"put", "multi"} {
		o, err := mc.GetObject(ctx, "slow", key, minio.GetObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(o)
		o.Close()
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("%s read back %d bytes (%v), want the %d written", key, len(got), err, len(data))
		}
	}
	resp, err := c.Meta().ListIntents(ctx, &metapb.ListIntentsRequest{})
	if err != nil || len(resp.Intents) != 0 {
		t.Fatalf("intents left: %v %v", resp, err)
	}
}
