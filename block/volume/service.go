// Package volume serves block volumes (EBS) over NBD: a Volume is an
// nbd.Export whose contents are extents stored as chunks on the chunk
// servers, each replicated on several disks of distinct servers, with the
// extent map kept in meta (metapb.Volumes).
//
// The single writer of a volume writes in place: the 4 KiB blocks a write
// covers are patched on every replica of the extent's chunk (chunk servers
// write them to fresh space and swap them in with an index commit that
// also bumps the chunk's generation), with no meta commit; the writer
// keeps each chunk's generation in memory and reads only replicas at it
// (see block/README.md for the failure cases). A write to a hole, the
// first write after a snapshot (meta's Volume.snapshot_seq moved, or
// ListExtents marks the extent shared; the writer trusts the sequence it
// read for snapshotTrust, and CreateSnapshot answers only after
// meta.SnapshotFence), a write whose patch failed on a
// replica, and any write of a multi-attach volume copy on write instead:
// read the extent (unless the write replaces all of it), write the new
// contents as a new chunk to every replica in parallel (synced), then
// commit the new location to meta with a compare-and-set on the old one.
//
// Durability follows the NBD contract. A WRITE is answered once it is on
// every replica; in-place patches are unsynced (PatchShardNoSync), so a
// crash may lose a WRITE that no FLUSH covered, but never tears a block:
// the chunk goes back to an older generation. FLUSH (and FUA) makes every
// write acknowledged before it stable on every replica: Flush syncs each
// disk patched since the last Flush (SyncDisk, sharing the store's group
// commit), and a disk that cannot sync or whose store epoch changed since
// it acknowledged a patch (it restarted and may have lost it) gets the
// extents patched on it copied to new, synced chunks from the replicas at
// the writer's generation; if that fails Flush fails, and the next Flush
// tries again. Snapshots (frozen extent maps in meta) are never disturbed
// by writes issued after they were taken. Chunks
// no map refers to any more are listed by meta as garbage and deleted by
// Service.CollectGarbage. Unwritten, trimmed and zeroed extents hold no
// chunk: they read as zeroes and report as holes.
//
// A volume has one writer at a time: a writable Open takes the volume's
// attach lease in meta and renews it while open; meta refuses extent
// commits from anyone else. Multi-attach volumes skip the lease.
package volume

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"

	"github.com/wolke-cloud/wolke/block/nbd"
	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/internal/metric"
	"github.com/wolke-cloud/wolke/meta/metapb"
)

// Meta is the part of the meta Volumes API the block service uses;
// metapb.VolumesClient implements it.
type Meta interface {
	GetVolume(ctx context.Context, in *metapb.GetVolumeRequest, opts ...grpc.CallOption) (*metapb.GetVolumeResponse, error)
	ListVolumes(ctx context.Context, in *metapb.ListVolumesRequest, opts ...grpc.CallOption) (*metapb.ListVolumesResponse, error)
	AttachVolume(ctx context.Context, in *metapb.AttachVolumeRequest, opts ...grpc.CallOption) (*metapb.AttachVolumeResponse, error)
	DetachVolume(ctx context.Context, in *metapb.DetachVolumeRequest, opts ...grpc.CallOption) (*metapb.DetachVolumeResponse, error)
	ListExtents(ctx context.Context, in *metapb.ListExtentsRequest, opts ...grpc.CallOption) (*metapb.ListExtentsResponse, error)
	CommitExtent(ctx context.Context, in *metapb.CommitExtentRequest, opts ...grpc.CallOption) (*metapb.CommitExtentResponse, error)
	GetSnapshot(ctx context.Context, in *metapb.GetSnapshotRequest, opts ...grpc.CallOption) (*metapb.GetSnapshotResponse, error)
	ListGarbage(ctx context.Context, in *metapb.ListGarbageRequest, opts ...grpc.CallOption) (*metapb.ListGarbageResponse, error)
	DeleteGarbage(ctx context.Context, in *metapb.DeleteGarbageRequest, opts ...grpc.CallOption) (*metapb.DeleteGarbageResponse, error)
}

// Disks lists the disks chunks may be placed on; metapb.MetaClient
// implements it.
type Disks interface {
	ListDisks(ctx context.Context, in *metapb.ListDisksRequest, opts ...grpc.CallOption) (*metapb.ListDisksResponse, error)
}

// Shards stores chunks on disks; chunkclient.Client implements it.
type Shards interface {
	WriteShard(ctx context.Context, diskID, chunkID string, data []byte) error // durable on return
	ReadShardRange(ctx context.Context, diskID, chunkID string, off, n int64) ([]byte, error)
	// ReadShardRangeGen also returns the chunk's generation.
	ReadShardRangeGen(ctx context.Context, diskID, chunkID string, off, n int64) ([]byte, uint64, error)
	// ReadShardRangeInto is ReadShardRangeGen into p (len(p) bytes).
	ReadShardRangeInto(ctx context.Context, diskID, chunkID string, off int64, p []byte) (uint64, error)
	// PatchShard overwrites a 4 KiB-aligned range of the chunk if it is at
	// generation base; it returns the new generation, durable on return.
	PatchShard(ctx context.Context, diskID, chunkID string, off int64, data []byte, base uint64) (uint64, error)
	// PatchShardNoSync is PatchShard answered before the patch is stable;
	// it also returns the disk store's epoch (see SyncDisk).
	PatchShardNoSync(ctx context.Context, diskID, chunkID string, off int64, data []byte, base uint64) (gen, epoch uint64, err error)
	// PatchShardRangesNoSync is PatchShardNoSync of several disjoint
	// block-aligned ranges (sorted by offset) in one patch: all or none,
	// one generation step.
	PatchShardRangesNoSync(ctx context.Context, diskID, chunkID string, offs []int64, data [][]byte, base uint64) (gen, epoch uint64, err error)
	// SyncDisk makes the disk's unsynced patches stable and returns its
	// epoch; patches answered with another epoch may have been lost.
	SyncDisk(ctx context.Context, diskID string) (epoch uint64, err error)
	// ShardGen returns the chunk's generation.
	ShardGen(ctx context.Context, diskID, chunkID string) (uint64, error)
	DeleteShard(ctx context.Context, diskID, chunkID string) error
}

// Config tunes the service.
type Config struct {
	Replicas    int           // copies of every extent; default 3
	LeaseTTL    time.Duration // writer lease; renewed every third of it; default 15s
	DiskRefresh time.Duration // how long the disk list is cached; default 10s
	GCInterval  time.Duration // Run collects garbage this often; default 5s
	GCBatch     int           // chunks per collection round; default 256
	// ReaderRefresh bounds how stale the extent map of a read-only handle
	// of a volume (or of a multi-attach writer) may be: another writer's
	// commits show up within it. Default 1s.
	ReaderRefresh time.Duration
	// HealInterval is how often a writer moves its extents off disks that
	// are no longer active (replicas.go). Default 30s; negative: never.
	HealInterval time.Duration
	// WriteCache is how many bytes of plain writes a writer keeps before
	// they are written back (cache.go): made stable by FLUSH and FUA, as
	// with a disk's write cache. Default DefaultWriteCache; negative:
	// none, every write is on all replicas when answered.
	WriteCache int64
	// WriteCacheTotal bounds the write caches of all the writers this
	// service has open: each of n gets min(WriteCache, WriteCacheTotal/n),
	// at least minCacheShare, shared again as writers come and go. Default
	// DefaultWriteCacheTotal; negative: no bound, WriteCache each.
	WriteCacheTotal int64
	// DataShards and ParityShards, both set, are the erasure code of the
	// extents written whole of volumes of a CodedType (st1, sc1; ec.go),
	// used when that many servers have an active disk; other extents stay
	// replicated. Both 0: every extent replicated.
	DataShards, ParityShards int
}

// DefaultWriteCache is Config.WriteCache's default: 256 MiB. A 1 GiB
// volume taking random 4 KiB writes then writes back about 48 blocks per
// 1 MiB extent at a time, four times what 64 MiB gave: the CPU each
// write-back patch costs is shared by four times as many writes.
const DefaultWriteCache = 256 << 20

// DefaultWriteCacheTotal is Config.WriteCacheTotal's default, 1 GiB: four
// writers keep DefaultWriteCache each; more share it.
const DefaultWriteCacheTotal = 1 << 30

// minCacheShare is the least write cache a writer gets of
// Config.WriteCacheTotal, however many share it.
const minCacheShare = 1 << 20

// SetDefaults fills the zero fields.
func (c *Config) SetDefaults() {
	if c.Replicas == 0 {
		c.Replicas = 3
	}
	if c.LeaseTTL == 0 {
		c.LeaseTTL = 15 * time.Second
	}
	if c.DiskRefresh == 0 {
		c.DiskRefresh = 10 * time.Second
	}
	if c.GCInterval == 0 {
		c.GCInterval = 5 * time.Second
	}
	if c.GCBatch == 0 {
		c.GCBatch = 256
	}
	if c.ReaderRefresh == 0 {
		c.ReaderRefresh = time.Second
	}
	if c.HealInterval == 0 {
		c.HealInterval = 30 * time.Second
	}
	if c.WriteCache == 0 {
		c.WriteCache = DefaultWriteCache
	}
	if c.WriteCacheTotal == 0 {
		c.WriteCacheTotal = DefaultWriteCacheTotal
	}
}

// DefaultExtentSize is the extent size the EC2 API gives new volumes.
const DefaultExtentSize = 1 << 20

// Validate reports a configuration the service cannot run with.
func (c *Config) Validate() error {
	if c.Replicas < 1 || c.LeaseTTL < time.Second || c.GCBatch < 1 {
		return errs.E("volume.Config", errs.Invalid, "replicas, lease ttl or gc batch out of range")
	}
	return nil
}

// Deps are the service's collaborators.
type Deps struct {
	Meta     Meta
	Disks    Disks
	Shards   Shards
	Logger   *slog.Logger          // nil: discard
	Registry prometheus.Registerer // nil: not registered
}

// Service opens volumes and snapshots as NBD exports (nbd.Exports).
type Service struct {
	cfg    Config
	meta   Meta
	shards Shards
	log    *slog.Logger
	place  *placer
	ec     *ecCode // nil: extents are only replicated
	ops    *prometheus.CounterVec
	bytes  *prometheus.CounterVec

	closeMu sync.Mutex               // guards closing and cached
	closing map[string]chan struct{} // writer handles being closed, by volume: closed when done
	cached  map[string]*Volume       // open writer handles with a write cache, by volume
}

var _ nbd.Exports = (*Service)(nil)

// New makes a service.
func New(cfg Config, deps Deps) (*Service, error) {
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if deps.Meta == nil || deps.Disks == nil || deps.Shards == nil {
		return nil, errs.E("volume.New", errs.Invalid, "Meta, Disks and Shards are required")
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	ops, err := metric.Register(deps.Registry, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "wolke_block_volume_ops_total", Help: "Volume operations by kind and result.",
	}, []string{"op", "result"}))
	if err != nil {
		return nil, errs.E("volume.New", errs.Internal, err)
	}
	bytes, err := metric.Register(deps.Registry, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "wolke_block_volume_bytes_total", Help: "Bytes read and written through volumes.",
	}, []string{"op"}))
	if err != nil {
		return nil, errs.E("volume.New", errs.Internal, err)
	}
	ec, err := newECCode(cfg.DataShards, cfg.ParityShards)
	if err != nil {
		return nil, err
	}
	return &Service{
		cfg: cfg, meta: deps.Meta, shards: deps.Shards, log: deps.Logger,
		place: &placer{disks: deps.Disks, shards: deps.Shards, replicas: cfg.Replicas, refresh: cfg.DiskRefresh},
		ec:    ec, ops: ops, bytes: bytes,
	}, nil
}

// Shards is the chunk client the service stores extents with (for tools
// and tests that look at replicas).
func (s *Service) Shards() Shards { return s.shards }

func (s *Service) count(op string, err error) {
	res := "ok"
	if err != nil {
		res = errs.KindOf(err).String()
	}
	s.ops.WithLabelValues(op, res).Inc()
}

// Open opens the volume or snapshot called name. A writable open of a
// volume takes its writer lease (errs.Precondition when someone else
// holds it); snapshots are read-only.
func (s *Service) Open(ctx context.Context, name string, readOnly bool) (nbd.Export, nbd.ExportInfo, error) {
	const op = "volume.Open"
	if strings.HasPrefix(name, "snap-") {
		sn, err := s.meta.GetSnapshot(ctx, &metapb.GetSnapshotRequest{Id: name})
		if err != nil {
			return nil, nbd.ExportInfo{}, errs.E(op, errs.Other, err)
		}
		v, err := s.openVolume(ctx, volumeSpec{id: name, snapshot: true, size: sn.Snapshot.VolumeSize,
			extent: sn.Snapshot.ExtentSize, readOnly: true})
		if err != nil {
			return nil, nbd.ExportInfo{}, err
		}
		return v, snapshotInfo(sn.Snapshot), nil
	}
	if !readOnly {
		if err := s.waitClosed(ctx, name); err != nil {
			return nil, nbd.ExportInfo{}, err
		}
	}
	resp, err := s.meta.GetVolume(ctx, &metapb.GetVolumeRequest{Id: name})
	if err != nil {
		return nil, nbd.ExportInfo{}, errs.E(op, errs.Other, err)
	}
	vol := resp.Volume
	v, err := s.openVolume(ctx, volumeSpec{id: vol.Id, size: vol.Size, extent: vol.ExtentSize,
		readOnly: readOnly, multi: vol.MultiAttach, coded: CodedType(vol.VolumeType)})
	if err != nil {
		return nil, nbd.ExportInfo{}, err
	}
	return v, volumeInfo(vol), nil
}

// closeStarted notes that the writer handle of volume id is closing
// (writing its cache back) and returns the function that notes it done.
func (s *Service) closeStarted(id string) func() {
	ch := make(chan struct{})
	s.closeMu.Lock()
	if s.closing == nil {
		s.closing = map[string]chan struct{}{}
	}
	s.closing[id] = ch
	s.closeMu.Unlock()
	return func() {
		s.closeMu.Lock()
		if s.closing[id] == ch {
			delete(s.closing, id)
		}
		s.closeMu.Unlock()
		close(ch)
	}
}

// FlushVolume makes the writes acknowledged so far by the writer of
// volume id that is attached here stable, its write cache included (a
// handle being closed is waited for): the EC2 API's CreateSnapshot calls
// it first, so that a snapshot holds every write acknowledged before it
// was asked for when the volume is attached in this process. Nothing to
// do when it is not.
func (s *Service) FlushVolume(ctx context.Context, id string) error {
	s.closeMu.Lock()
	v := s.cached[id]
	s.closeMu.Unlock()
	if v == nil {
		return s.waitClosed(ctx, id)
	}
	return v.Flush(ctx)
}

// setCached registers (v non-nil) or forgets the writer handle of volume
// id that has a write cache, and shares Config.WriteCacheTotal among
// those left.
func (s *Service) setCached(id string, v *Volume) {
	s.closeMu.Lock()
	defer s.closeMu.Unlock()
	if v == nil {
		delete(s.cached, id)
	} else {
		if s.cached == nil {
			s.cached = map[string]*Volume{}
		}
		s.cached[id] = v
	}
	share := s.cfg.WriteCache
	if total := s.cfg.WriteCacheTotal; total > 0 && len(s.cached) > 0 {
		share = min(share, max(total/int64(len(s.cached)), minCacheShare))
	}
	for _, w := range s.cached {
		w.cache.resize(share)
	}
}

// waitClosed waits for a writer handle of volume id that is closing here:
// a client that disconnects and connects again (fio between jobs, qemu-io
// after qemu-img) takes the lease its last connection is releasing
// instead of being refused as a second writer.
func (s *Service) waitClosed(ctx context.Context, id string) error {
	s.closeMu.Lock()
	ch := s.closing[id]
	s.closeMu.Unlock()
	if ch == nil {
		return nil
	}
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return errs.E("volume.Open", errs.Canceled, ctx.Err())
	}
}

// List describes every volume and snapshot.
func (s *Service) List(ctx context.Context) ([]nbd.ExportInfo, error) {
	resp, err := s.meta.ListVolumes(ctx, &metapb.ListVolumesRequest{})
	if err != nil {
		return nil, errs.E("volume.List", errs.Other, err)
	}
	out := make([]nbd.ExportInfo, 0, len(resp.Volumes))
	for _, v := range resp.Volumes {
		out = append(out, volumeInfo(v))
	}
	return out, nil
}

func volumeInfo(v *metapb.Volume) nbd.ExportInfo {
	return nbd.ExportInfo{Name: v.Id, Description: "wolke volume " + v.Zone, Size: v.Size, MultiConn: v.MultiAttach}
}

func snapshotInfo(s *metapb.Snapshot) nbd.ExportInfo {
	return nbd.ExportInfo{Name: s.Id, Description: "wolke snapshot of " + s.VolumeId, Size: s.VolumeSize, ReadOnly: true}
}

// Run collects garbage every GCInterval until ctx ends.
func (s *Service) Run(ctx context.Context) error {
	t := time.NewTicker(s.cfg.GCInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if _, err := s.CollectGarbage(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("volume garbage collection failed", "err", err)
		}
	}
}

// CollectGarbage deletes up to GCBatch chunks that no volume or snapshot
// maps any more and returns how many it removed. A chunk whose disk does
// not answer stays listed for a later round.
func (s *Service) CollectGarbage(ctx context.Context) (int, error) {
	const op = "volume.CollectGarbage"
	resp, err := s.meta.ListGarbage(ctx, &metapb.ListGarbageRequest{Limit: int32(s.cfg.GCBatch)})
	if err != nil {
		return 0, errs.E(op, errs.Other, err)
	}
	var done []string
	for _, c := range resp.Chunks {
		ok := true
		for _, d := range c.Disks {
			if err := s.shards.DeleteShard(ctx, d, c.ChunkId); err != nil && !errs.Is(err, errs.NotFound) {
				ok = false
			}
		}
		if ok {
			done = append(done, c.ChunkId)
		}
	}
	if len(done) == 0 {
		return 0, nil
	}
	if _, err := s.meta.DeleteGarbage(ctx, &metapb.DeleteGarbageRequest{ChunkIds: done}); err != nil {
		return 0, errs.E(op, errs.Other, err)
	}
	s.ops.WithLabelValues("gc", "ok").Add(float64(len(done)))
	return len(done), nil
}
