// Package core is Wolke's object layer. It cuts object streams into
// erasure-coded stripes stored as shards on chunk servers, keeps small objects
// inline, and commits manifests to the metadata service.
//
// A stripe carries up to k*ShardSize object bytes; it is encoded into k data
// and m parity shards, and shard i is stored as chunk ChunkID(stripe.id, i) on
// disk i of the stripe's placement group. Reads fetch the data shards, verify
// each against the CRC32C in the manifest, and reconstruct from parity when a
// shard is missing, corrupt, unreachable or slow.
package core

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"hash/crc32"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/klauspost/reedsolomon"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/meta/metapb"
)

// Shards stores the shards of stripes on disks; chunkclient implements it.
// Every method honours ctx. WriteShard must not touch data after it returns
// (the Store reuses the buffer), even when it returns early because ctx
// was canceled.
type Shards interface {
	WriteShard(ctx context.Context, diskID, chunkID string, data []byte) error // durable on return
	ReadShard(ctx context.Context, diskID, chunkID string) ([]byte, error)     // errs.NotFound, errs.Corrupt, errs.Unavailable
	DeleteShard(ctx context.Context, diskID, chunkID string) error
}

// ChunkID names shard i of a stripe: hex(stripeID) + "." + shard.
func ChunkID(stripeID []byte, shard int) string {
	return hex.EncodeToString(stripeID) + "." + strconv.Itoa(shard)
}

// Deps are the services the Store uses.
type Deps struct {
	Meta     metapb.MetaClient
	Shards   Shards
	Logger   *slog.Logger          // nil: discard
	Registry prometheus.Registerer // nil: metrics are not registered
}

// Store is the object layer. It is safe for concurrent use.
type Store struct {
	cfg     Config
	meta    metapb.MetaClient
	shards  Shards
	log     *slog.Logger
	metrics *metrics
	groups  *placement
	free    *freer
	now     func() time.Time
	crc     *crc32.Table

	mu     sync.Mutex
	codecs map[shape]*codec
}

// shape is an erasure code k+m.
type shape struct{ k, m int }

// codec is what the Store keeps per erasure code: the encoder and a pool of
// stripe buffers.
type codec struct {
	shape
	quorum int
	enc    reedsolomon.Encoder
	pool   sync.Pool // *[]byte of (k+m)*ShardSize bytes
}

// New builds a Store. Close it to stop its background workers.
func New(cfg Config, deps Deps) (*Store, error) {
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if deps.Meta == nil || deps.Shards == nil {
		return nil, errs.E("core.New", errs.Invalid, "Meta and Shards are required")
	}
	log := deps.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m, err := newMetrics(deps.Registry)
	if err != nil {
		return nil, err
	}
	s := &Store{
		cfg:     cfg,
		meta:    deps.Meta,
		shards:  deps.Shards,
		log:     log,
		metrics: m,
		now:     time.Now,
		crc:     crc32.MakeTable(crc32.Castagnoli),
		codecs:  make(map[shape]*codec),
	}
	s.groups = newPlacement(deps.Meta, cfg.PlacementRefresh, s.now)
	s.groups.refresh = m.groupRefreshes.Inc
	s.free = newFreer(s, cfg.FreeWorkers, cfg.FreeQueue)
	return s, nil
}

// Close waits for queued chunk frees to finish and stops the workers. The
// Store must not be used afterwards.
func (s *Store) Close() error {
	s.free.close()
	return nil
}

// codecFor returns the codec of shape k+m, building it on first use.
func (s *Store) codecFor(k, m int) (*codec, error) {
	if k < 1 || m < 1 || k+m > 256 {
		return nil, errs.Errorf("core.codec", errs.Internal, "erasure code %d+%d out of range", k, m)
	}
	sh := shape{k, m}
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.codecs[sh]; ok {
		return c, nil
	}
	enc, err := reedsolomon.New(k, m, reedsolomon.WithAutoGoroutines(s.cfg.ShardSize))
	if err != nil {
		return nil, errs.E("core.codec", errs.Internal, err)
	}
	q := defaultQuorum(k, m)
	if k == s.cfg.DataShards && m == s.cfg.ParityShards {
		q = s.cfg.WriteQuorum
	}
	size := (k + m) * s.cfg.ShardSize
	c := &codec{shape: sh, quorum: q, enc: enc}
	c.pool.New = func() any { b := make([]byte, size); return &b }
	s.codecs[sh] = c
	return c, nil
}

// writeShape is the erasure code of a new object: the template's, else the
// bucket's, else the configured one.
func (s *Store) writeShape(tmpl *metapb.Object, b *metapb.Bucket) (int, int) {
	if tmpl.GetEcData() > 0 {
		return int(tmpl.GetEcData()), int(tmpl.GetEcParity())
	}
	if b.GetEcData() > 0 {
		return int(b.GetEcData()), int(b.GetEcParity())
	}
	return s.cfg.DataShards, s.cfg.ParityShards
}

// randomID returns n random bytes.
func randomID(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return b
}

// newVersionID returns a version id that sorts by creation time.
func newVersionID(now time.Time) string {
	var b [16]byte
	ns := uint64(now.UnixNano())
	for i := 7; i >= 0; i-- {
		b[i] = byte(ns)
		ns >>= 8
	}
	copy(b[8:], randomID(8))
	return hex.EncodeToString(b[:])
}
