package chaos

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/wolke-cloud/wolke/cluster"
)

// TestDiskFull fills six 64 MiB disks with 4 MiB objects until a PUT is
// refused. The refusal must be a clear 507 XWolkeStorageFull, the refused
// key must not exist (nothing half-written is visible) and everything
// acknowledged before must read back.
func TestDiskFull(t *testing.T) {
	c := cluster.Start(t, cluster.Options{DiskSize: 64 << 20})
	mc := s3Client(t, c)
	ctx := context.Background()
	if err := mc.MakeBucket(ctx, "full", minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	led := NewLedger()
	var refused error
	for i := 0; i < 120 && refused == nil; i++ {
		key := fmt.Sprintf("fill/%03d", i)
		b := Body{Size: 4 << 20, Seed: uint64(i)}
		pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		_, err := mc.PutObject(pctx, "full", key, b.Reader(), b.Size, minio.PutObjectOptions{DisableMultipart: true})
		cancel()
		if err != nil {
			refused = err
			resp := minio.ToErrorResponse(err)
			t.Logf("PUT %s refused after %d MiB acknowledged: HTTP %d %s: %s", key, 4*i, resp.StatusCode, resp.Code, resp.Message)
			if resp.StatusCode != http.StatusInsufficientStorage || resp.Code != "XWolkeStorageFull" {
				t.Errorf("full disks gave HTTP %d %s (%v), want 507 XWolkeStorageFull", resp.StatusCode, resp.Code, err)
			}
			if _, err := mc.StatObject(ctx, "full", key, minio.StatObjectOptions{}); minio.ToErrorResponse(err).Code != "NoSuchKey" {
				t.Errorf("refused PUT %s: HEAD gives %v, want NoSuchKey", key, err)
			}
			break
		}
		led.Put(key, b.Size, b.Sum(), nil)
	}
	if refused == nil {
		t.Fatal("480 MiB went into 384 MiB of disks without a refusal")
	}
	verify(t, mc, "full", led)
	// Deleting makes room again (space is freed when the chunks go).
	for i := range 8 {
		key := fmt.Sprintf("fill/%03d", i)
		led.Delete(key, mc.RemoveObject(ctx, "full", key, minio.RemoveObjectOptions{}))
	}
	b := Body{Size: 4 << 20, Seed: 999}
	var err error
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
		if _, err = mc.PutObject(ctx, "full", "after-delete", b.Reader(), b.Size, minio.PutObjectOptions{DisableMultipart: true}); err == nil {
			led.Put("after-delete", b.Size, b.Sum(), nil)
			break
		}
	}
	t.Logf("PUT after deleting 32 MiB: %v", err)
	verify(t, mc, "full", led)
}

// TestDiskVanishes truncates a chunk server's disk file to nothing while
// it runs (every read of it then fails, as a pulled disk's would), then
// reads every object back under a write load: reads reconstruct from the
// other shards.
func TestDiskVanishes(t *testing.T) {
	c := cluster.Start(t, cluster.Options{})
	mc := s3Client(t, c)
	ctx := context.Background()
	if err := mc.MakeBucket(ctx, "gone", minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	led := NewLedger()
	st := Load(ctx, mc, "gone", led, LoadConfig{Workers: 2, Ops: pick(40, 200), Keys: 64, Duration: 20 * time.Second,
		MaxSize: pick[int64](2<<20, 16<<20), MultipartPct: 5, Seed: 7})
	t.Logf("load before: %v", st)
	disk := filepath.Join(c.ChunkDir(2), "disk0.img")
	if err := os.Truncate(disk, 0); err != nil {
		t.Fatal(err)
	}
	st = Load(ctx, mc, "gone", led, LoadConfig{Workers: 2, Ops: pick(40, 200), Keys: 64, Duration: 20 * time.Second,
		MaxSize: pick[int64](2<<20, 16<<20), Seed: 8, Prefix: "after/"})
	t.Logf("load with %s gone: %v", disk, st)
	verify(t, mc, "gone", led)
}
