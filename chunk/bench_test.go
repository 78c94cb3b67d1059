package chunk_test

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/wolke-cloud/wolke/chunk"
)

// BenchmarkServerWriteRead writes then reads 1 MiB shards through the client,
// HTTP and the chunk store of one file disk.
func BenchmarkServerWriteRead(b *testing.B) {
	dir := b.TempDir()
	h := start(b, chunk.Config{ID: "bench", ClusterID: cluster,
		Disks: []chunk.DiskConfig{{Path: filepath.Join(dir, "disk"), Size: 128 << 20}}})
	id := h.srv.Disks()[0].ID
	data := bytes.Repeat([]byte("wolke!!!"), 1<<17)
	ctx := context.Background()
	b.Run("Write", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for i := 0; b.Loop(); i++ {
			if err := h.cli.WriteShard(ctx, id, fmt.Sprintf("c.%d", i%32), data); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Read", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for i := 0; b.Loop(); i++ {
			if _, err := h.cli.ReadShard(ctx, id, "c.0"); err != nil {
				b.Fatal(err)
			}
		}
	})
}
