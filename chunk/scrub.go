package chunk

import (
	"context"
	"errors"
	"hash/crc32"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/internal/throttle"
)

// ScrubConfig paces a scrubber.
type ScrubConfig struct {
	// Rate is the bytes per second read (default 8 MiB/s).
	Rate int64
	// Interval is the pause between two full passes (default 24h).
	Interval time.Duration
	// Page is how many chunks are listed at a time (default 256).
	Page int
}

func (c *ScrubConfig) setDefaults() {
	if c.Rate <= 0 {
		c.Rate = 8 << 20
	}
	if c.Interval <= 0 {
		c.Interval = 24 * time.Hour
	}
	if c.Page <= 0 {
		c.Page = 256
	}
}

// BadChunk is a chunk the scrubber found damaged and deleted, so that the
// repair worker, finding its shard missing, rebuilds it.
type BadChunk struct {
	Disk  string    `json:"disk"`
	Chunk string    `json:"chunk"`
	Found time.Time `json:"found"`
}

// ScrubProgress is where the scrubber is.
type ScrubProgress struct {
	Passes      int64     `json:"passes"`
	Running     bool      `json:"running"`
	PassStarted time.Time `json:"pass_started"`
	PassEnded   time.Time `json:"pass_ended"`
	Chunks      int64     `json:"chunks"` // chunks checked in this (or the last) pass
	Bytes       int64     `json:"bytes"`  // bytes read in this (or the last) pass
	Bad         int64     `json:"bad"`    // damaged chunks found since start
}

// Scrubber re-reads every chunk of a server's disks at a set rate: the
// store checks every block's CRC32C on the way, and the whole chunk is
// checked against its CRC32C. A damaged chunk is counted, remembered and
// deleted.
type Scrubber struct {
	srv *Server
	cfg ScrubConfig
	lim *throttle.Limiter

	readBytes *prometheus.CounterVec
	badChunks *prometheus.CounterVec

	mu   sync.Mutex
	prog ScrubProgress
	bad  []BadChunk
}

// maxBadKept bounds the list of bad chunks remembered.
const maxBadKept = 1000

// NewScrubber returns a scrubber of srv's disks; Run starts it.
func NewScrubber(srv *Server, cfg ScrubConfig) (*Scrubber, error) {
	cfg.setDefaults()
	sc := &Scrubber{srv: srv, cfg: cfg, lim: throttle.New(cfg.Rate)}
	var err error
	sc.readBytes, err = registerVec(srv.reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "wolke_chunk_scrub_read_bytes_total", Help: "Chunk bytes re-read by the scrubber.",
	}, []string{"disk"}))
	if err != nil {
		return nil, err
	}
	sc.badChunks, err = registerVec(srv.reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "wolke_chunk_scrub_bad_chunks_total", Help: "Damaged chunks the scrubber found and deleted.",
	}, []string{"disk"}))
	if err != nil {
		return nil, err
	}
	return sc, nil
}

// registerVec registers c, or returns the one registered before (a server
// restarted in the same process).
func registerVec(reg prometheus.Registerer, c *prometheus.CounterVec) (*prometheus.CounterVec, error) {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if old, ok := are.ExistingCollector.(*prometheus.CounterVec); ok {
				return old, nil
			}
		}
		return nil, errs.E("chunk.NewScrubber", errs.Internal, err)
	}
	return c, nil
}

// Run scrubs every disk, pauses Interval, and again, until ctx ends.
// Stop it before closing the server.
func (sc *Scrubber) Run(ctx context.Context) error {
	for {
		if err := sc.Pass(ctx); err != nil && ctx.Err() == nil {
			sc.srv.log.Warn("scrub pass failed", "err", err)
		}
		t := time.NewTimer(sc.cfg.Interval)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// Pass checks every chunk of every disk once.
func (sc *Scrubber) Pass(ctx context.Context) error {
	sc.update(func(p *ScrubProgress) {
		p.Running, p.PassStarted, p.Chunks, p.Bytes = true, time.Now(), 0, 0
	})
	var errList []error
	for _, ds := range sc.srv.disks {
		errList = append(errList, sc.scrubDisk(ctx, ds))
	}
	sc.update(func(p *ScrubProgress) { p.Running, p.PassEnded = false, time.Now(); p.Passes++ })
	return errors.Join(errList...)
}

func (sc *Scrubber) scrubDisk(ctx context.Context, ds *diskState) error {
	after := ""
	for {
		page, err := ds.st.List(ctx, "", after, sc.cfg.Page)
		if err != nil {
			return err
		}
		for _, info := range page {
			if err := sc.lim.Wait(ctx, int(info.Length)); err != nil {
				return err
			}
			data, err := ds.st.GetFromMedia(ctx, info.ID)
			switch {
			case errs.Is(err, errs.NotFound):
				continue // deleted since the listing
			case errs.Is(err, errs.Corrupt):
			case isDeviceError(err) && ds.health != nil && !ds.health.failed.Load():
				// An unreadable chunk (bad sectors) is as damaged as a
				// corrupt one: repair rewrites it. A failed disk is
				// left alone: it is being replaced whole.
			case err != nil:
				return err
			case crc32.Checksum(data, crc32.MakeTable(crc32.Castagnoli)) != info.CRC32C:
				err = errs.Errorf("chunk.scrub", errs.Corrupt, "chunk %s fails its CRC32C", info.ID)
			}
			sc.readBytes.WithLabelValues(ds.info.ID).Add(float64(len(data)))
			sc.update(func(p *ScrubProgress) { p.Chunks++; p.Bytes += int64(len(data)) })
			if err != nil {
				sc.found(ctx, ds, info.ID, err)
			}
		}
		if len(page) < sc.cfg.Page {
			return nil
		}
		after = page[len(page)-1].ID
	}
}

// found records a damaged chunk and deletes it.
func (sc *Scrubber) found(ctx context.Context, ds *diskState, id string, cause error) {
	sc.srv.log.Error("scrub found a damaged chunk: deleting it", "disk", ds.info.ID, "chunk", id, "err", cause)
	sc.badChunks.WithLabelValues(ds.info.ID).Inc()
	if err := ds.st.Delete(ctx, id); err != nil && !errs.Is(err, errs.NotFound) {
		sc.srv.log.Warn("damaged chunk not deleted", "disk", ds.info.ID, "chunk", id, "err", err)
	}
	sc.srv.updateUsage(ds)
	sc.mu.Lock()
	defer sc.mu.Unlock()
	sc.prog.Bad++
	sc.bad = append(sc.bad, BadChunk{Disk: ds.info.ID, Chunk: id, Found: time.Now()})
	if len(sc.bad) > maxBadKept {
		sc.bad = slices.Delete(sc.bad, 0, len(sc.bad)-maxBadKept)
	}
}

// Bad returns the damaged chunks found (the latest maxBadKept).
func (sc *Scrubber) Bad() []BadChunk {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	return slices.Clone(sc.bad)
}

// Progress returns where the scrubber is.
func (sc *Scrubber) Progress() ScrubProgress {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	return sc.prog
}

func (sc *Scrubber) update(fn func(*ScrubProgress)) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	fn(&sc.prog)
}
