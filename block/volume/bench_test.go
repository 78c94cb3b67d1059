package volume_test

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/wolke-cloud/wolke/cluster"
)

// BenchmarkVolume measures the volume's own I/O path (no NBD) on a local
// cluster, for profiles:
//
//	go test -run '^$' -bench Volume -cpuprofile cpu.out ./block/volume/
func BenchmarkVolume(b *testing.B) {
	e := &env{c: cluster.Start(b, cluster.Options{}), ctx: context.Background()}
	const size = 64 << 20
	vid := e.create(b, size, "")
	x, _, err := e.c.Volumes().Open(e.ctx, vid, false)
	if err != nil {
		b.Fatal(err)
	}
	defer x.Close()
	for off := int64(0); off < size; off += 1 << 20 {
		if err := x.WriteAt(e.ctx, make([]byte, 1<<20), off, false); err != nil {
			b.Fatal(err)
		}
	}
	bench := func(name string, n int, write bool) {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(n))
			b.SetParallelism(8) // 16 requests in flight on 2 CPUs, like an NBD client at depth 16
			b.RunParallel(func(pb *testing.PB) {
				r := rand.New(rand.NewPCG(rand.Uint64(), 1))
				p := make([]byte, n)
				for pb.Next() {
					off := int64(r.IntN(size/n)) * int64(n)
					var err error
					if write {
						err = x.WriteAt(e.ctx, p, off, false)
					} else {
						err = x.ReadAt(e.ctx, p, off)
					}
					if err != nil {
						b.Error(err)
						return
					}
				}
			})
			if err := x.Flush(e.ctx); err != nil {
				b.Fatal(err)
			}
		})
	}
	bench("write4k", 4096, true)
	bench("read4k", 4096, false)
	bench("write1m", 1<<20, true)
	bench("read1m", 1<<20, false)
}
