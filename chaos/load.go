package chaos

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/minio/minio-go/v7"
)

// LoadConfig bounds a workload in operations and time.
type LoadConfig struct {
	Workers      int           // concurrent clients; default 2
	Ops          int           // operations per worker at most; default 50
	Duration     time.Duration // stop after this long at most; default 10s
	Keys         int           // keys per worker; default 16
	MaxSize      int64         // largest single-PUT body; default 1 MiB
	MultipartPct int           // percent of PUTs that are multipart (2 parts of 5 MiB+); default 0
	Seed         uint64
	Prefix       string // key prefix, so several loads share a bucket
	OpTimeout    time.Duration
}

func (c *LoadConfig) defaults() {
	if c.Workers <= 0 {
		c.Workers = 2
	}
	if c.Ops <= 0 {
		c.Ops = 50
	}
	if c.Duration <= 0 {
		c.Duration = 10 * time.Second
	}
	if c.Keys <= 0 {
		c.Keys = 16
	}
	if c.MaxSize <= 0 {
		c.MaxSize = 1 << 20
	}
	if c.OpTimeout <= 0 {
		c.OpTimeout = 30 * time.Second
	}
}

// Stats count what a load did.
type Stats struct {
	Puts, Gets, Deletes, Errors int64
	BytesPut, BytesGot          int64
	Elapsed                     time.Duration
}

// MBps is the foreground throughput: bytes put and got per second, 10^6.
func (s Stats) MBps() float64 {
	if s.Elapsed <= 0 {
		return 0
	}
	return float64(s.BytesPut+s.BytesGot) / s.Elapsed.Seconds() / 1e6
}

func (s Stats) String() string {
	return fmt.Sprintf("%d puts, %d gets, %d deletes, %d errors, %.1f MB/s in %v",
		s.Puts, s.Gets, s.Deletes, s.Errors, s.MBps(), s.Elapsed.Round(time.Millisecond))
}

// Load runs the workload until its bounds or ctx end, recording every PUT
// and DELETE in the ledger. Errors are expected while faults are injected:
// they are counted, and the keys they touched become uncertain.
func Load(ctx context.Context, mc *minio.Client, bucket string, led *Ledger, cfg LoadConfig) Stats {
	cfg.defaults()
	ctx, cancel := context.WithTimeout(ctx, cfg.Duration)
	defer cancel()
	var (
		st    Stats
		wg    sync.WaitGroup
		start = time.Now()
	)
	for w := range cfg.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(cfg.Seed, uint64(w)))
			for i := 0; i < cfg.Ops && ctx.Err() == nil; i++ {
				key := fmt.Sprintf("%sw%d/k%03d", cfg.Prefix, w, rng.IntN(cfg.Keys))
				op(ctx, mc, bucket, key, led, &cfg, rng, &st)
			}
		}()
	}
	wg.Wait()
	st.Elapsed = time.Since(start)
	return st
}

func op(ctx context.Context, mc *minio.Client, bucket, key string, led *Ledger, cfg *LoadConfig, rng *rand.Rand, st *Stats) {
	octx, cancel := context.WithTimeout(ctx, cfg.OpTimeout)
	defer cancel()
	switch p := rng.IntN(100); {
	case p < 50:
		b := Body{Size: pickSize(rng, cfg.MaxSize), Seed: rng.Uint64()}
		opts := minio.PutObjectOptions{DisableMultipart: true}
		if cfg.MultipartPct > 0 && rng.IntN(100) < cfg.MultipartPct {
			b.Size = 5<<20 + 1 + rng.Int64N(5<<20)
			opts = minio.PutObjectOptions{PartSize: 5 << 20}
		}
		_, err := mc.PutObject(octx, bucket, key, b.Reader(), b.Size, opts)
		led.Put(key, b.Size, b.Sum(), err)
		count(st, err, &st.Puts)
		if err == nil {
			atomic.AddInt64(&st.BytesPut, b.Size)
		}
	case p < 80:
		obj, err := mc.GetObject(octx, bucket, key, minio.GetObjectOptions{})
		var n int64
		if err == nil {
			n, err = io.Copy(io.Discard, obj)
			obj.Close()
		}
		if err != nil && minio.ToErrorResponse(err).Code == "NoSuchKey" {
			err = nil
		}
		count(st, err, &st.Gets)
		atomic.AddInt64(&st.BytesGot, n)
	default:
		err := mc.RemoveObject(octx, bucket, key, minio.RemoveObjectOptions{})
		led.Delete(key, err)
		count(st, err, &st.Deletes)
	}
}

func count(st *Stats, err error, ok *int64) {
	if err != nil {
		atomic.AddInt64(&st.Errors, 1)
		return
	}
	atomic.AddInt64(ok, 1)
}

// pickSize spreads sizes over empty, tiny (inline), small and large bodies.
func pickSize(rng *rand.Rand, max int64) int64 {
	switch rng.IntN(4) {
	case 0:
		return rng.Int64N(2) // 0 or 1 byte
	case 1:
		return rng.Int64N(64 << 10)
	case 2:
		return rng.Int64N(min(max, 1<<20) + 1)
	}
	return rng.Int64N(max + 1)
}
