package cluster

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
)

// TestMetaLeaderLoss runs three meta nodes, stops the leader under the S3
// endpoint, and checks that everything acknowledged before and after reads
// back and that the old leader rejoins when it restarts.
func TestMetaLeaderLoss(t *testing.T) {
	c := Start(t, Options{MetaNodes: 3})
	mc := s3Client(t, c)
	ctx := context.Background()
	if err := mc.MakeBucket(ctx, "ha-bucket", minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	objs := putObjects(t, mc, "ha-bucket")

	leader := -1
	for i, m := range c.metas {
		if m != nil && m.node.IsLeader() {
			leader = i
		}
	}
	if leader < 0 {
		t.Fatal("no meta leader")
	}
	if err := c.StopMeta(leader); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for i := 0; i < 5; i++ {
		data := payload(uint64(100+i), 200<<10)
		key := fmt.Sprintf("after-failover-%d", i)
		if _, err := mc.PutObject(ctx, "ha-bucket", key, bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{DisableMultipart: true}); err != nil {
			t.Fatalf("put after leader loss: %v", err)
		}
		objs = append(objs, object{key: key, sum: sha256.Sum256(data), n: len(data)})
	}
	t.Logf("five writes after the leader stopped took %v", time.Since(start))
	checkObjects(t, mc, "ha-bucket", objs)

	if err := c.StartMeta(ctx, leader, false); err != nil {
		t.Fatal(err)
	}
	waitHealth(t, c, 200)
	checkObjects(t, mc, "ha-bucket", objs)
}
