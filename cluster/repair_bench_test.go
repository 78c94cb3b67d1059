package cluster

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
)

// BenchmarkRepairLostDisk measures rebuilding a lost disk's shards: 32
// objects of 4 MiB (128 MiB, 32 MiB of shards on the lost disk with 4+2),
// unthrottled. Reports rebuilt MB/s.
//
//	go test -run XXX -bench RepairLostDisk -benchtime 1x ./cluster/
func BenchmarkRepairLostDisk(b *testing.B) {
	b.StopTimer()
	for range b.N {
		dir := b.TempDir()
		opts := durabilityOpts(dir)
		opts.DiskSize = 256 << 20
		c := Start(b, opts)
		mc := s3Client(b, c)
		ctx := context.Background()
		if err := mc.MakeBucket(ctx, "bench", minio.MakeBucketOptions{}); err != nil {
			b.Fatal(err)
		}
		data := payload(1, 4<<20)
		for i := range 32 {
			if _, err := mc.PutObject(ctx, "bench", fmt.Sprintf("o%d", i), bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{DisableMultipart: true}); err != nil {
				b.Fatal(err)
			}
		}
		if err := c.Close(); err != nil {
			b.Fatal(err)
		}
		if err := os.Remove(filepath.Join(dir, "chunks", "c0", "disk0.img")); err != nil {
			b.Fatal(err)
		}
		c = Start(b, opts)
		b.StartTimer()
		start := time.Now()
		if err := c.Repair().Pass(ctx); err != nil {
			b.Fatal(err)
		}
		took := time.Since(start)
		b.StopTimer()
		st := c.Repair().Status()
		b.ReportMetric(float64(st.BytesRebuilt)/took.Seconds()/1e6, "MB/s")
		b.ReportMetric(float64(st.ShardsRebuilt), "shards")
		_ = c.Close()
	}
}

// BenchmarkDrainDisk measures draining a disk: the same 32 objects of
// 4 MiB on 7 servers, the shards of one disk copied (not reconstructed)
// to the disks that take its places, unthrottled. Reports moved MB/s; the
// baseline is BenchmarkRepairLostDisk (reconstruction from k shards).
//
//	go test -run XXX -bench 'DrainDisk|RepairLostDisk' -benchtime 1x ./cluster/
func BenchmarkDrainDisk(b *testing.B) {
	b.StopTimer()
	for range b.N {
		opts := durabilityOpts(b.TempDir())
		opts.DiskSize = 256 << 20
		opts.ChunkServers = 7
		c := Start(b, opts)
		mc := s3Client(b, c)
		ctx := context.Background()
		if err := mc.MakeBucket(ctx, "bench", minio.MakeBucketOptions{}); err != nil {
			b.Fatal(err)
		}
		data := payload(1, 4<<20)
		for i := range 32 {
			if _, err := mc.PutObject(ctx, "bench", fmt.Sprintf("o%d", i), bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{DisableMultipart: true}); err != nil {
				b.Fatal(err)
			}
		}
		adm, err := DialAdmin(ctx, c.EtcdEndpoints(), c.ClusterID())
		if err != nil {
			b.Fatal(err)
		}
		if err := adm.DrainDisk(ctx, c.chunks[0].srv.Disks()[0].ID); err != nil {
			b.Fatal(err)
		}
		adm.Close()
		b.StartTimer()
		start := time.Now()
		if err := c.Repair().Pass(ctx); err != nil {
			b.Fatal(err)
		}
		took := time.Since(start)
		b.StopTimer()
		st := c.Repair().Status()
		b.ReportMetric(float64(st.BytesCopied)/took.Seconds()/1e6, "MB/s")
		b.ReportMetric(float64(st.ShardsCopied), "shards")
		b.ReportMetric(float64(st.ShardsRebuilt-st.ShardsCopied), "reconstructed")
		_ = c.Close()
	}
}
