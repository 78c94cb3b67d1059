package chaos

import (
	"context"
	"crypto/sha256"
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
	Wrong                       int64  // GETs whose body or absence the ledger does not allow
	FirstError                  string // the first failed operation, for the log
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
	out := fmt.Sprintf("%d puts, %d gets (%d wrong), %d deletes, %d errors, %.1f MB/s in %v",
		s.Puts, s.Gets, s.Wrong, s.Deletes, s.Errors, s.MBps(), s.Elapsed.Round(time.Millisecond))
	if s.FirstError != "" {
		out += " (first error: " + s.FirstError + ")"
	}
	return out
}

// Load runs the workload until its bounds or ctx end, recording every PUT
// and DELETE in the ledger. Errors are expected while faults are injected:
// they are counted, and the keys they touched become uncertain.
func Load(ctx context.Context, mc *minio.Client, bucket string, led *Ledger, cfg LoadConfig) Stats {
	cfg.defaults()
	ctx, cancel := context.WithTimeout(ctx, cfg.Duration)
	defer cancel()
	var (
		st       Stats
		wg       sync.WaitGroup
		start    = time.Now()
		errMu    sync.Mutex
		firstErr string
	)
	rec := func(key string, err error) {
		errMu.Lock()
		defer errMu.Unlock()
		if firstErr == "" {
			firstErr = key + ": " + err.Error()
		}
	}
	for w := range cfg.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(cfg.Seed, uint64(w)))
			for i := 0; i < cfg.Ops && ctx.Err() == nil; i++ {
				key := fmt.Sprintf("%sw%d/k%03d", cfg.Prefix, w, rng.IntN(cfg.Keys))
				if err := op(ctx, mc, bucket, key, led, &cfg, rng, &st); err != nil && ctx.Err() == nil {
					rec(key, err)
				}
			}
		}()
	}
	wg.Wait()
	st.Elapsed = time.Since(start)
	st.FirstError = firstErr
	return st
}

// op runs one operation and returns its error (expected ones excluded).
func op(ctx context.Context, mc *minio.Client, bucket, key string, led *Ledger, cfg *LoadConfig, rng *rand.Rand, st *Stats) error {
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
		count(ctx, st, err, &st.Puts)
		if err == nil {
			atomic.AddInt64(&st.BytesPut, b.Size)
		}
		return err
	case p < 80:
		obj, err := mc.GetObject(octx, bucket, key, minio.GetObjectOptions{})
		var n int64
		h := sha256.New()
		if err == nil {
			n, err = io.Copy(h, obj)
			obj.Close()
		}
		missing := err != nil && minio.ToErrorResponse(err).Code == "NoSuchKey"
		if missing {
			err = nil
		}
		if err == nil {
			var sum [32]byte
			copy(sum[:], h.Sum(nil))
			if !led.CheckRead(key, sum, n, missing) {
				atomic.AddInt64(&st.Wrong, 1)
			}
		}
		count(ctx, st, err, &st.Gets)
		atomic.AddInt64(&st.BytesGot, n)
		return err
	default:
		err := mc.RemoveObject(octx, bucket, key, minio.RemoveObjectOptions{})
		led.Delete(key, err)
		count(ctx, st, err, &st.Deletes)
		return err
	}
}

// count counts an operation; one cut short because the load's own time
// is up is no error (its key still becomes uncertain in the ledger).
func count(ctx context.Context, st *Stats, err error, ok *int64) {
	if err != nil {
		if ctx.Err() == nil {
			atomic.AddInt64(&st.Errors, 1)
		}
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
