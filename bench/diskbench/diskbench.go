// Package diskbench measures one disk through a chunk store: it writes a
// number of chunks with the store's own Put (each durable on return) and
// reads them back with Get (each block's checksum verified by the store),
// and reports MB/s for both, to set against fio on the same file system.
//
// The store is any implementation of the small Store interface; the wolke
// command wires in chunk/store on a file disk (`wolke bench disk`).
package diskbench

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wolke-cloud/wolke/internal/errs"
)

// Store is what the benchmark needs of a chunk store.
type Store interface {
	// Put stores data as chunk id; it is durable when Put returns.
	Put(ctx context.Context, id string, data []byte) error
	// Get returns the whole chunk id.
	Get(ctx context.Context, id string) ([]byte, error)
}

// Config is one run.
type Config struct {
	Size       int64 // bytes to write and then read, rounded down to whole chunks
	ChunkSize  int64 // bytes per chunk; default 1 MiB
	Concurrent int   // Puts (then Gets) in flight; default 1, like fio's psync
	Seed       uint64
}

// Phase is the outcome of the write or the read pass.
type Phase struct {
	Chunks int           `json:"chunks"`
	Bytes  int64         `json:"bytes"`
	Time   time.Duration `json:"time_ns"`
	MBps   float64       `json:"mb_per_sec"` // 10^6 bytes per second, as fio's MB/s
	MiBps  float64       `json:"mib_per_sec"`
}

// Result is a whole run.
type Result struct {
	ChunkSize  int64 `json:"chunk_size"`
	Concurrent int   `json:"concurrent"`
	Write      Phase `json:"write"`
	Read       Phase `json:"read"`
}

func (c Config) withDefaults() Config {
	if c.ChunkSize == 0 {
		c.ChunkSize = 1 << 20
	}
	if c.Concurrent == 0 {
		c.Concurrent = 1
	}
	return c
}

// Validate reports what is wrong with c (after defaults), with errs.Invalid.
func (c Config) Validate() error {
	c = c.withDefaults()
	switch {
	case c.ChunkSize < 1:
		return errs.Errorf("diskbench", errs.Invalid, "chunk size %d: want at least 1 byte", c.ChunkSize)
	case c.Size < c.ChunkSize:
		return errs.Errorf("diskbench", errs.Invalid, "size %d: want at least one chunk of %d bytes", c.Size, c.ChunkSize)
	case c.Concurrent < 1:
		return errs.Errorf("diskbench", errs.Invalid, "concurrency %d: want at least 1", c.Concurrent)
	}
	return nil
}

// Run writes Size/ChunkSize chunks of pseudo-random content to s, then
// reads every one back and checks its length and its first and last 4 KiB
// against what was written (the store verifies every block's checksum
// itself; comparing every byte would time memcmp too): a mismatch fails
// the run with errs.Corrupt. Chunk contents are made before the clock
// starts, so the figures are the store's alone.
func Run(ctx context.Context, s Store, cfg Config) (Result, error) {
	if err := cfg.Validate(); err != nil {
		return Result{}, err
	}
	cfg = cfg.withDefaults()
	n := int(cfg.Size / cfg.ChunkSize)
	// A few distinct buffers, reused round robin: content differs between
	// neighbouring chunks without holding Size bytes in memory.
	bufs := make([][]byte, min(n, 8))
	rng := rand.New(rand.NewPCG(cfg.Seed, 0xd15c))
	for i := range bufs {
		bufs[i] = make([]byte, cfg.ChunkSize)
		for j := 0; j < len(bufs[i]); j += 8 {
			v := rng.Uint64()
			for k := 0; k < 8 && j+k < len(bufs[i]); k++ {
				bufs[i][j+k] = byte(v >> (8 * k))
			}
		}
	}
	id := func(i int) string { return fmt.Sprintf("bench-%08d", i) }
	res := Result{ChunkSize: cfg.ChunkSize, Concurrent: cfg.Concurrent}
	var err error
	res.Write, err = phase(ctx, n, cfg, func(ctx context.Context, i int) error {
		return s.Put(ctx, id(i), bufs[i%len(bufs)])
	})
	if err != nil {
		return res, err
	}
	res.Read, err = phase(ctx, n, cfg, func(ctx context.Context, i int) error {
		got, err := s.Get(ctx, id(i))
		if err == nil && !sameEnds(got, bufs[i%len(bufs)]) {
			err = errs.Errorf("diskbench.Get", errs.Corrupt, "chunk %s read back %d bytes that differ from the %d written", id(i), len(got), cfg.ChunkSize)
		}
		return err
	})
	return res, err
}

// phase runs do for chunks 0..n-1 on cfg.Concurrent workers and times it.
// The first error stops it.
func phase(ctx context.Context, n int, cfg Config, do func(context.Context, int) error) (Phase, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var (
		next atomic.Int64
		done atomic.Int64
		wg   sync.WaitGroup
	)
	start := time.Now()
	for range cfg.Concurrent {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := do(ctx, i); err != nil {
					cancel(err)
					return
				}
				done.Add(1)
			}
		})
	}
	wg.Wait()
	el := time.Since(start)
	p := Phase{Chunks: int(done.Load()), Bytes: done.Load() * cfg.ChunkSize, Time: el}
	if el > 0 {
		p.MBps = float64(p.Bytes) / el.Seconds() / 1e6
		p.MiBps = float64(p.Bytes) / el.Seconds() / (1 << 20)
	}
	if err := context.Cause(ctx); err != nil {
		return p, errs.E("diskbench", errs.KindOf(err), err)
	}
	return p, nil
}

// sameEnds compares the lengths and the first and last 4 KiB.
func sameEnds(got, want []byte) bool {
	const edge = 4096
	if len(got) != len(want) {
		return false
	}
	if len(got) <= 2*edge {
		return bytes.Equal(got, want)
	}
	return bytes.Equal(got[:edge], want[:edge]) && bytes.Equal(got[len(got)-edge:], want[len(want)-edge:])
}
