// Package repair keeps erasure-coded stripes whole. One worker per cluster
// (elected) runs passes: it declares disks lost whose server has been gone
// longer than RepairAfter, gives their places in placement groups to
// healthy disks, finds every shard that is missing or damaged by comparing
// the chunk listings of the disks with the manifests in meta, rebuilds
// those shards from k good ones, and deletes chunks that no manifest
// references (garbage collection).
//
// A pass derives everything from the listings and manifests, so it is
// idempotent: a worker that restarts mid-way finds the shards it already
// rebuilt present with the right CRC and carries on with the rest.
package repair

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/wolke-cloud/wolke/chunk/chunkclient"
	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/meta/metapb"
	"google.golang.org/grpc"
)

// Config tunes a worker. RepairAfter and GCGrace are used as given: zero
// means at once (tests); `wolke dev` passes 10m and 1h.
type Config struct {
	// ID names this worker in the election (default "repair").
	ID string
	// RepairAfter is how long a disk's server may be gone from etcd before
	// the disk is declared lost and rebuilt elsewhere.
	RepairAfter time.Duration
	// Interval is the time between passes (default 30s).
	Interval time.Duration
	// RateLimit bounds the bytes per second rebuilt shards are written at
	// (0: unlimited).
	RateLimit int64
	// Workers is how many stripes are rebuilt at once (default 2).
	Workers int
	// GCGrace is how old an unreferenced chunk must be before it is deleted.
	GCGrace time.Duration
	// VolumeGCGrace is how old a block volume chunk that no volume or
	// snapshot maps where it is must be before it is deleted (a writer
	// that crashed between storing a chunk and committing it, a replica
	// left on a disk the chunk moved off); 0: volume chunks are not
	// collected. It must exceed by far the time a block writer takes
	// from storing a chunk to committing it (seconds).
	VolumeGCGrace time.Duration
	// NoGC turns garbage collection off.
	NoGC bool
	// ScanPage is how many manifests one ScanStripes call visits (default 1000).
	ScanPage int
	// DrainSettle is how long a draining disk must have been in no
	// placement group before it is set REMOVED: writers that cached the
	// old groups may still put shards on it for that long (core's
	// PlacementRefresh). Used as given: 0 = the next clean pass.
	DrainSettle time.Duration
	// RebalanceSpread is the fill difference, in percentage points,
	// between the fullest and the emptiest active disk above which
	// placement group members are moved (default 10, negative: never).
	// Moving goes on while the spread stays above half of it.
	RebalanceSpread float64
	// RebalanceMoves bounds the members moved per pass (default 2).
	RebalanceMoves int
}

// SetDefaults fills in zero values that have a default.
func (c *Config) SetDefaults() {
	if c.ID == "" {
		c.ID = "repair"
	}
	if c.Interval <= 0 {
		c.Interval = 30 * time.Second
	}
	if c.Workers <= 0 {
		c.Workers = 2
	}
	if c.ScanPage <= 0 {
		c.ScanPage = 1000
	}
	if c.RebalanceSpread == 0 {
		c.RebalanceSpread = 10
	}
	if c.RebalanceMoves <= 0 {
		c.RebalanceMoves = 2
	}
}

// Validate reports a configuration that cannot work.
func (c Config) Validate() error {
	const op = "repair.Config"
	switch {
	case c.RepairAfter < 0:
		return errs.E(op, errs.Invalid, "negative RepairAfter")
	case c.GCGrace < 0:
		return errs.E(op, errs.Invalid, "negative GCGrace")
	case c.VolumeGCGrace < 0:
		return errs.E(op, errs.Invalid, "negative VolumeGCGrace")
	case c.RateLimit < 0:
		return errs.E(op, errs.Invalid, "negative RateLimit")
	case c.DrainSettle < 0:
		return errs.E(op, errs.Invalid, "negative DrainSettle")
	}
	return nil
}

// Meta is what the worker asks the meta service.
type Meta interface {
	ListDisks(ctx context.Context, in *metapb.ListDisksRequest, opts ...grpc.CallOption) (*metapb.ListDisksResponse, error)
	ListPlacementGroups(ctx context.Context, in *metapb.ListPlacementGroupsRequest, opts ...grpc.CallOption) (*metapb.ListPlacementGroupsResponse, error)
	SetDiskState(ctx context.Context, in *metapb.SetDiskStateRequest, opts ...grpc.CallOption) (*metapb.SetDiskStateResponse, error)
	ReplaceDisk(ctx context.Context, in *metapb.ReplaceDiskRequest, opts ...grpc.CallOption) (*metapb.ReplaceDiskResponse, error)
	// Write intents protect the stripes of writes in progress from
	// garbage collection (intents.go).
	ListIntents(ctx context.Context, in *metapb.ListIntentsRequest, opts ...grpc.CallOption) (*metapb.ListIntentsResponse, error)
	DeleteIntent(ctx context.Context, in *metapb.DeleteIntentRequest, opts ...grpc.CallOption) (*metapb.DeleteIntentResponse, error)
}

// Scanner pages through the stripes of every manifest (metapb.RepairClient).
type Scanner interface {
	ScanStripes(ctx context.Context, in *metapb.ScanStripesRequest, opts ...grpc.CallOption) (*metapb.ScanStripesResponse, error)
}

// Hints lists and clears the repair hints meta records for stripes
// committed with a stale placement group epoch (metapb.RepairClient).
type Hints interface {
	ListRepairHints(ctx context.Context, in *metapb.ListRepairHintsRequest, opts ...grpc.CallOption) (*metapb.ListRepairHintsResponse, error)
	DeleteRepairHint(ctx context.Context, in *metapb.DeleteRepairHintRequest, opts ...grpc.CallOption) (*metapb.DeleteRepairHintResponse, error)
}

// ExtentScanner pages through the chunks block volumes and snapshots map
// (metapb.RepairClient).
type ExtentScanner interface {
	ScanExtents(ctx context.Context, in *metapb.ScanExtentsRequest, opts ...grpc.CallOption) (*metapb.ScanExtentsResponse, error)
}

// Shards reads, writes, deletes and lists chunks on disks (*chunkclient.Client).
type Shards interface {
	ReadShard(ctx context.Context, diskID, chunkID string) ([]byte, error)
	WriteShard(ctx context.Context, diskID, chunkID string, data []byte) error
	DeleteShard(ctx context.Context, diskID, chunkID string) error
	ListChunks(ctx context.Context, diskID, prefix, after string, limit int) ([]chunkclient.ChunkInfo, error)
}

// Deps are the worker's dependencies. Live and Elect are required for a
// cluster; without Elect the worker always leads.
type Deps struct {
	Meta    Meta
	Scanner Scanner
	// Extents, if set, finds block volume chunks with replicas on disks
	// that are not active: a drain does not finish while one is left, and
	// Status.VolumeExtentsAtRisk counts them. If it is also a
	// ChunkReplacer (metapb.RepairClient is), repair re-replicates them
	// (volume.go).
	Extents ExtentScanner
	// Hints, if set, are handled at the start of every pass (hints.go).
	Hints  Hints
	Shards Shards
	// Live returns the disks whose chunk server is registered (alive) now.
	Live func(ctx context.Context) (map[string]bool, error)
	// Elect blocks until this worker leads; lost is closed when the
	// leadership ends, release gives it up.
	Elect func(ctx context.Context) (lost <-chan struct{}, release func(), err error)
	// Publish, if set, is given the status after every pass.
	Publish  func(ctx context.Context, st Status)
	Logger   *slog.Logger
	Registry prometheus.Registerer
	Now      func() time.Time // default time.Now
}
