package repair

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/klauspost/reedsolomon"
	"github.com/wolke-cloud/wolke/core"
	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/internal/throttle"
)

// Worker is the repair and garbage collection worker.
type Worker struct {
	cfg  Config
	deps Deps
	log  *slog.Logger
	m    *metrics
	lim  *throttle.Limiter
	now  func() time.Time
	kick chan struct{}

	passMu       sync.Mutex           // one pass at a time
	missingSince map[string]time.Time // disk → first seen without a live server (under passMu)
	outSince     map[string]time.Time // draining disk → first pass that began with it in no group (under passMu)
	balancing    bool                 // rebalancing until the spread is below half the threshold (under passMu)

	codecMu sync.Mutex
	codecs  map[[2]int]reedsolomon.Encoder

	mu sync.Mutex
	st Status
	// unrestored is how many volume chunks the last pass left missing
	// copies on active disks (under mu): part of st.VolumeExtentsAtRisk,
	// which volumeReplicas sets again later in the pass.
	unrestored int64
}

// New returns a worker; Run starts it.
func New(cfg Config, deps Deps) (*Worker, error) {
	const op = "repair.New"
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if deps.Meta == nil || deps.Scanner == nil || deps.Shards == nil || deps.Live == nil {
		return nil, errs.E(op, errs.Invalid, "Meta, Scanner, Shards and Live are required")
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	m, err := newMetrics(deps.Registry)
	if err != nil {
		return nil, err
	}
	return &Worker{
		cfg: cfg, deps: deps, log: deps.Logger.With("worker", cfg.ID), m: m,
		lim: throttle.New(cfg.RateLimit), now: deps.Now, kick: make(chan struct{}, 1),
		missingSince: map[string]time.Time{}, outSince: map[string]time.Time{}, codecs: map[[2]int]reedsolomon.Encoder{},
		st: Status{Worker: cfg.ID},
	}, nil
}

// Run campaigns for leadership and, while leading, runs a pass every
// Interval (or at once after Kick). It returns when ctx ends.
func (w *Worker) Run(ctx context.Context) error {
	for ctx.Err() == nil {
		lost, release := (<-chan struct{})(nil), func() {}
		if w.deps.Elect != nil {
			var err error
			lost, release, err = w.deps.Elect(ctx)
			if err != nil {
				if ctx.Err() != nil {
					break
				}
				w.log.Warn("repair election failed", "err", err)
				sleep(ctx, time.Second)
				continue
			}
			w.log.Info("repair worker leads")
		}
		w.lead(ctx, lost)
		release()
	}
	return nil
}

func (w *Worker) lead(ctx context.Context, lost <-chan struct{}) {
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-lost:
			cancel()
		case <-lctx.Done():
		}
	}()
	t := time.NewTicker(w.cfg.Interval)
	defer t.Stop()
	for {
		if err := w.Pass(lctx); err != nil && lctx.Err() == nil {
			w.log.Warn("repair pass failed", "err", err)
		}
		select {
		case <-lctx.Done():
			return
		case <-t.C:
		case <-w.kick:
		}
	}
}

// Kick asks a leading worker for a pass now.
func (w *Worker) Kick() {
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

// Status returns the worker's current status.
func (w *Worker) Status() Status {
	w.mu.Lock()
	defer w.mu.Unlock()
	st := w.st
	st.DegradedGroups = append([]uint64(nil), st.DegradedGroups...)
	st.LostDisks = append([]string(nil), st.LostDisks...)
	st.Drains = append([]DrainStatus(nil), st.Drains...)
	return st
}

func (w *Worker) update(fn func(*Status)) {
	w.mu.Lock()
	defer w.mu.Unlock()
	fn(&w.st)
}

// codec returns the Reed-Solomon code of shape k+m.
func (w *Worker) codec(k, m int) (reedsolomon.Encoder, error) {
	w.codecMu.Lock()
	defer w.codecMu.Unlock()
	if enc, ok := w.codecs[[2]int{k, m}]; ok {
		return enc, nil
	}
	enc, err := core.NewCodec(k, m)
	if err != nil {
		return nil, err
	}
	w.codecs[[2]int{k, m}] = enc
	return enc, nil
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
