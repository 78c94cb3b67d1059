package store

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/wolke-cloud/wolke/chunk/disk"
)

const benchChunk = 1 << 20

func benchStore(b *testing.B) *Store {
	b.Helper()
	dir := b.TempDir()
	d, err := disk.CreateFile(filepath.Join(dir, "disk"), 128<<20)
	if err != nil {
		b.Fatal(err)
	}
	s, err := Format(context.Background(), d, filepath.Join(dir, "disk.index"), testCluster, "bench", Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	return s
}

// BenchmarkStorePut writes 1 MiB chunks one at a time (each Put synced):
// one disk's MB/s through the chunk store.
func BenchmarkStorePut(b *testing.B) {
	s := benchStore(b)
	data := randBytes(benchChunk, 1)
	ctx := context.Background()
	b.SetBytes(benchChunk)
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if err := s.Put(ctx, fmt.Sprintf("c%d", i%32), data); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStorePutParallel writes 1 MiB chunks from many goroutines, so
// Puts share group commits.
func BenchmarkStorePutParallel(b *testing.B) {
	s := benchStore(b)
	data := randBytes(benchChunk, 1)
	ctx := context.Background()
	var n atomic.Int64
	b.SetBytes(benchChunk)
	b.SetParallelism(4)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := s.Put(ctx, fmt.Sprintf("c%d", n.Add(1)%64), data); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkStoreGet reads 1 MiB chunks, verifying every block checksum.
func BenchmarkStoreGet(b *testing.B) {
	s := benchStore(b)
	data := randBytes(benchChunk, 1)
	ctx := context.Background()
	for i := range 32 {
		if err := s.Put(ctx, fmt.Sprintf("c%d", i), data); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(benchChunk)
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if _, err := s.Get(ctx, fmt.Sprintf("c%d", i%32)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStorePatchNoSync: unsynced 4 KiB patches of 64 chunks of
// 1 MiB, many at once, as a volume's random writes arrive.
func BenchmarkStorePatchNoSync(b *testing.B) {
	s := benchStore(b)
	ctx := context.Background()
	const chunks = 64
	var gens [chunks]struct {
		sync.Mutex
		g uint64
	}
	for i := range chunks {
		if err := s.Put(ctx, fmt.Sprint("c", i), make([]byte, 1<<20)); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(4096)
	b.SetParallelism(8)
	b.ResetTimer()
	var next atomic.Uint64
	b.RunParallel(func(pb *testing.PB) {
		p := make([]byte, 4096)
		for pb.Next() {
			n := next.Add(1)
			c := &gens[n%chunks]
			c.Lock()
			g, err := s.PatchNoSync(ctx, fmt.Sprint("c", n%chunks), int64(n*7919%256)*4096, p, c.g)
			if err == nil {
				c.g = g
			}
			c.Unlock()
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkStorePatch16 writes back 16 dirty 4 KiB blocks of a 1 MiB
// chunk, unsynced: as 16 PatchNoSync calls ("single") or as one
// PatchRangesNoSync of 16 ranges ("ranges"). One op is 16 blocks.
func BenchmarkStorePatch16(b *testing.B) {
	for _, mode := range []string{"single", "ranges"} {
		b.Run(mode, func(b *testing.B) {
			s := benchStore(b)
			ctx := context.Background()
			const chunks = 32
			gens := make([]uint64, chunks)
			for i := range chunks {
				if err := s.Put(ctx, fmt.Sprint("c", i), make([]byte, benchChunk)); err != nil {
					b.Fatal(err)
				}
			}
			p := make([]byte, 4096)
			ranges := make([]Range, 16)
			b.SetBytes(16 * 4096)
			b.ReportAllocs()
			for n := 0; b.Loop(); n++ {
				c := n % chunks
				id := fmt.Sprint("c", c)
				for i := range ranges { // one block in each 64 KiB
					ranges[i] = Range{Off: int64(i*16+(n*7+i)%16) * 4096, Data: p}
				}
				if mode == "ranges" {
					g, err := s.PatchRangesNoSync(ctx, id, ranges, gens[c])
					if err != nil {
						b.Fatal(err)
					}
					gens[c] = g
					continue
				}
				for _, r := range ranges {
					g, err := s.PatchNoSync(ctx, id, r.Off, r.Data, gens[c])
					if err != nil {
						b.Fatal(err)
					}
					gens[c] = g
				}
			}
		})
	}
}
