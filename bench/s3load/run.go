package s3load

import (
	"context"
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Why a run's measured phase ended.
const (
	EndDuration    = "duration"    // --duration elapsed
	EndAutoTerm    = "autoterm"    // throughput was stable
	EndInterrupted = "interrupted" // the caller's ctx ended (Ctrl-C)
	EndExhausted   = "exhausted"   // delete: every prepared object is gone
)

// cleanupTimeout bounds the removal of a run's objects after it ends.
const cleanupTimeout = 2 * time.Minute

// Result is the outcome of one run.
type Result struct {
	Benchmark  Benchmark `json:"benchmark"`
	Endpoint   string    `json:"endpoint"`
	Bucket     string    `json:"bucket"`
	Prefix     string    `json:"prefix"` // every key of the run starts with it
	Concurrent int       `json:"concurrent"`
	ObjectSize int64     `json:"object_size"`
	RandSize   bool      `json:"rand_size"`
	Prepared   int       `json:"prepared"`
	Start      time.Time `json:"start"`
	End        time.Time `json:"end"`
	EndReason  string    `json:"end_reason"`
	Ops        []OpStats `json:"ops"`
	Cleared    int       `json:"cleared"`
	CleanupErr string    `json:"cleanup_error,omitempty"`
	Records    []Record  `json:"-"` // every timed operation, by start time
}

// Run drives one benchmark against cfg.Endpoint until cfg.Duration passes,
// throughput is stable (AutoTerm) or ctx ends, then removes what it wrote
// unless NoClear. An interrupted run is a result, not an error; errors are
// for runs that could not start or prepare.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	seed := cfg.Seed
	if seed == 0 {
		seed = rand.Uint64()
	}
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	var id [4]byte
	for i := range id {
		id[i] = byte(rng.Uint32())
	}
	res := &Result{
		Benchmark: cfg.Benchmark, Endpoint: cfg.Endpoint, Bucket: cfg.Bucket,
		Prefix:     keyPrefix(cfg.Prefix) + "wolke-bench-" + hex.EncodeToString(id[:]) + "/",
		Concurrent: cfg.Concurrent, ObjectSize: cfg.ObjectSize, RandSize: cfg.RandSize,
	}
	c, closeClient := newClient(cfg)
	defer closeClient()
	r := &runner{cfg: cfg, c: c, res: res, table: crc32.MakeTable(crc32.Castagnoli), seed: seed}
	created, err := ensureBucket(ctx, r.c, cfg.Bucket)
	if err != nil {
		return nil, err
	}
	// Only versioned needs to know for sure; a server without the
	// versioning API is taken as unversioned for the others.
	if r.versioned, err = bucketVersioned(ctx, r.c, cfg.Bucket); err != nil && cfg.Benchmark == BenchVersioned {
		return nil, err
	}
	if cfg.Benchmark == BenchVersioned && !r.versioned {
		if !created {
			return nil, fmt.Errorf("versioned: bucket %s exists without versioning; use a versioned bucket, or a new --bucket that the run creates and versions", cfg.Bucket)
		}
		if err := enableVersioning(ctx, r.c, cfg.Bucket); err != nil {
			return nil, err
		}
		r.versioned = true
	}
	if !cfg.NoClear {
		defer r.cleanup(ctx, created)
	}
	if err := r.prepare(ctx); err != nil {
		return res, err
	}
	r.measure(ctx)
	return res, nil
}

// keyPrefix makes --prefix a folder: "bench" and "bench/" both give "bench/".
func keyPrefix(p string) string {
	if p == "" || strings.HasSuffix(p, "/") {
		return p
	}
	return p + "/"
}

type runner struct {
	cfg   Config
	c     *s3.Client
	res   *Result
	table *crc32.Table
	seed  uint64
	objs  []object // prepared
	// versioned: the bucket keeps versions, so cleanup removes every version.
	versioned bool
}

func (r *runner) newWorker(id int, count *counters) *worker {
	return &worker{
		id: id, c: r.c, bucket: r.cfg.Bucket, root: r.res.Prefix, table: r.table,
		rng: rand.New(rand.NewPCG(r.seed, uint64(id)+1)), buf: make([]byte, 64<<10), count: count,
	}
}

// measure runs the timed phase and fills the result.
func (r *runner) measure(ctx context.Context) {
	mctx, cancel := context.WithTimeout(ctx, r.cfg.Duration)
	defer cancel()
	var count counters
	workers := make([]*worker, r.cfg.Concurrent)
	for i := range workers {
		workers[i] = r.newWorker(i, &count)
	}
	mon := &monitor{
		name: string(r.cfg.Benchmark), count: &count, out: r.cfg.Progress, interactive: r.cfg.Interactive,
		total: r.cfg.Duration, autoterm: r.cfg.AutoTerm, minStable: int(r.cfg.AutoTermDur / time.Second),
		pct: r.cfg.AutoTermPct, stop: cancel,
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	monDone := make(chan struct{})
	go func() { defer close(monDone); mon.run(mctx, time.Now(), tick.C) }()

	var (
		wg        sync.WaitGroup
		exhausted = make(chan struct{})
		once      sync.Once
	)
	next := &deleteQueue{objs: r.objs}
	mixed := newPool(r.objs)
	choose := newChooser(r.cfg.Distrib)
	sz := sizer{max: r.cfg.ObjectSize, rand: r.cfg.RandSize}
	if r.cfg.OnMeasure != nil {
		r.cfg.OnMeasure(true)
	}
	r.res.Start = time.Now()
	for _, w := range workers {
		wg.Go(func() {
			var ok bool
			for mctx.Err() == nil {
				switch r.cfg.Benchmark {
				case BenchPut:
					key := w.newKey()
					_, rec := w.put(mctx, key, key, sz.next(w.rng))
					w.add(mctx, rec)
				case BenchGet:
					w.add(mctx, w.get(mctx, r.objs[w.rng.IntN(len(r.objs))]))
				case BenchStat:
					w.add(mctx, w.stat(mctx, r.objs[w.rng.IntN(len(r.objs))]))
				case BenchList:
					w.add(mctx, w.list(mctx, r.perPrefix(w.id)))
				case BenchDelete:
					ok = w.deleteNext(mctx, next)
				case BenchMultipart:
					for _, rec := range w.multipart(mctx, w.newKey(), r.cfg.Parts, r.cfg.PartSize) {
						w.add(mctx, rec)
					}
				case BenchMixed:
					w.mixedOp(mctx, mixed, choose.next(w.rng), sz, false)
				case BenchVersioned:
					w.mixedOp(mctx, mixed, choose.next(w.rng), sz, true)
				}
				if r.cfg.Benchmark == BenchDelete && !ok {
					// Out of objects: this worker is done; the others
					// finish the deletes they have in flight.
					once.Do(func() { close(exhausted) })
					return
				}
			}
		})
	}
	wg.Wait()
	r.res.End = time.Now()
	if r.cfg.OnMeasure != nil {
		r.cfg.OnMeasure(false)
	}
	cancel()
	<-monDone

	switch {
	case ctx.Err() != nil:
		r.res.EndReason = EndInterrupted
	case mon.stopped:
		r.res.EndReason = EndAutoTerm
	case isClosed(exhausted):
		r.res.EndReason = EndExhausted
	default:
		r.res.EndReason = EndDuration
	}
	for _, w := range workers {
		r.res.Records = append(r.res.Records, w.recs...)
	}
	slices.SortFunc(r.res.Records, func(a, b Record) int { return a.Start.Compare(b.Start) })
	r.res.Ops = Summarize(r.res.Records)
}

func isClosed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// perPrefix is how many prepared objects the list worker id owns.
func (r *runner) perPrefix(id int) int {
	n := r.cfg.Objects / r.cfg.Concurrent
	if id < r.cfg.Objects%r.cfg.Concurrent {
		n++
	}
	return n
}

// cleanupPasses bounds how often cleanup lists the prefix again: an
// operation cut short by the end of the run may still land on the server
// after the first listing.
const cleanupPasses = 3

// cleanup removes every object of the run and, if the run created the
// bucket, the bucket; it gets its own deadline, since ctx may be cancelled.
func (r *runner) cleanup(ctx context.Context, createdBucket bool) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	if r.cfg.Progress != nil {
		fmt.Fprintf(r.cfg.Progress, "cleaning up %s/%s\n", r.cfg.Bucket, r.res.Prefix)
	}
	var err error
	for pass := 1; pass <= cleanupPasses; pass++ {
		var n int
		n, err = clearPrefix(cctx, r.c, r.cfg.Bucket, r.res.Prefix, r.cfg.Concurrent, r.versioned)
		r.res.Cleared += n
		if err != nil || n == 0 {
			break
		}
		select {
		case <-time.After(time.Duration(pass) * 100 * time.Millisecond):
		case <-cctx.Done():
		}
	}
	if err == nil && createdBucket {
		_, err = r.c.DeleteBucket(cctx, &s3.DeleteBucketInput{Bucket: aws.String(r.cfg.Bucket)})
		if errorCode(err) == "BucketNotEmpty" {
			err = nil // someone else's objects: leave the bucket
		}
	}
	if err != nil {
		r.res.CleanupErr = err.Error()
	}
}
