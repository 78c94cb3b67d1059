package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/wolke-cloud/wolke/cluster"
)

// `wolke admin disk drain ID --wait` draws its progress and returns once
// the repair worker (passes every 100ms) has set the disk REMOVED; status
// then shows the disk removed and the drain done.
func TestAdminDrainWait(t *testing.T) {
	c := cluster.Start(t, cluster.Options{DiskSize: 64 << 20, ChunkServers: 7, RepairAfter: -1,
		Durability: cluster.DurabilityOptions{Interval: 100 * time.Millisecond, GCGrace: 5 * time.Second, DrainSettle: -1}})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	root := c.Root()
	mc, err := minio.New(strings.TrimPrefix(c.S3Endpoint(), "http://"), &minio.Options{
		Creds: credentials.NewStaticV4(root.AccessKey, root.SecretKey, ""), Region: "us-east-1", BucketLookup: minio.BucketLookupPath})
	if err != nil {
		t.Fatal(err)
	}
	if err := mc.MakeBucket(ctx, "drainb", minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	data := strings.Repeat("wolke drains ", 300_000) // ~4 MiB: one stripe on 6 of 7 disks
	for _, key := range []string{"k1", "k2", "k3"} {
		if _, err := mc.PutObject(ctx, "drainb", key, strings.NewReader(data), int64(len(data)), minio.PutObjectOptions{DisableMultipart: true}); err != nil {
			t.Fatal(err)
		}
	}
	etcd := strings.Join(c.EtcdEndpoints(), ",")
	r, err := func() (*cluster.Report, error) {
		adm, err := cluster.DialAdmin(ctx, c.EtcdEndpoints(), c.ClusterID())
		if err != nil {
			return nil, err
		}
		defer adm.Close()
		return adm.Status(ctx)
	}()
	if err != nil {
		t.Fatal(err)
	}
	disk := r.Disks[3].ID
	out, err := runAdmin(t, "disk", "drain", disk, "--wait", "--timeout", "20s", "--cluster", c.ClusterID(), "--etcd", etcd)
	t.Logf("drain --wait:\n%s", out)
	if err != nil || !strings.Contains(out, "disk "+disk+" is drained and removed") || !strings.Contains(out, "[###") {
		t.Fatalf("drain --wait: %v", err)
	}
	out, err = runAdmin(t, "status", "--cluster", c.ClusterID(), "--etcd", etcd)
	t.Logf("status:\n%s", out)
	if err != nil || !strings.Contains(out, "removed") || !strings.Contains(out, "drain (removed): "+disk) {
		t.Fatalf("status after the drain: %v", err)
	}
	for _, key := range []string{"k1", "k2", "k3"} {
		obj, err := mc.GetObject(ctx, "drainb", key, minio.GetObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		st, err := obj.Stat()
		obj.Close()
		if err != nil || st.Size != int64(len(data)) {
			t.Fatalf("%s after the drain: %v, %d bytes", key, err, st.Size)
		}
	}
}

func TestDrainLine(t *testing.T) {
	tests := []struct {
		p    cluster.DrainProgress
		want string
	}{
		{cluster.DrainProgress{Disk: "d", State: "draining", InGroups: 4}, "d waiting for the repair worker's next pass (in 4 placement groups)"},
		{cluster.DrainProgress{Disk: "d", State: "draining", Reported: true, ShardsMoved: 1, ShardsTotal: 4, BytesMoved: 1 << 20, BytesTotal: 4 << 20},
			"d [#######.......................] 1/4 shards, 1.0 MiB/4.0 MiB moved"},
		{cluster.DrainProgress{Disk: "d", State: "draining", Reported: true, ShardsMoved: 4, ShardsTotal: 4, BytesMoved: 4 << 20, BytesTotal: 4 << 20},
			"d [##############################] 4/4 shards, 4.0 MiB/4.0 MiB moved, verifying"},
	}
	for _, tc := range tests {
		if got := drainLine(&tc.p); got != tc.want {
			t.Errorf("drainLine(%+v)\n got %q\nwant %q", tc.p, got, tc.want)
		}
	}
}
