// Package store is a chunk store on one raw disk, in the manner of BlueStore:
// the store allocates extents on the disk itself and keeps its index (chunk
// id → extents, length, per-block CRC32C) in a pebble database beside the
// disk.
//
// A Put returns once its data is on disk and synced and its index entry is
// committed; concurrent Puts share one disk sync and one index commit. Space a
// Put allocated but never committed is free again after a restart, because
// the free map is not stored: Open computes it from the chunk records, which
// it reads whole anyway.
// Every read verifies the CRC32C of each 4 KiB block and fails with
// errs.Corrupt rather than return bad bytes.
package store

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/wolke-cloud/wolke/chunk/disk"
	"github.com/wolke-cloud/wolke/internal/errs"
)

// MaxChunkSize is the largest chunk a store accepts.
const MaxChunkSize = 64 << 20

// maxGroup bounds how many operations share one commit.
const maxGroup = 256

// Options are the optional dependencies of a store.
type Options struct {
	Logger *slog.Logger // default: discard
	// Registry receives wolke_chunk_checksum_errors_total{disk=<disk id>};
	// the store unregisters it on Close. Default: not exported.
	Registry prometheus.Registerer
	// KeepFreed leaves freed space as it is: neither Format nor a commit
	// that frees extents discards them. For a disk file written in full
	// (disk.CreateFullFile): a hole punch would make it sparse again, and
	// the next write there a slower first write.
	KeepFreed bool
}

func (o *Options) fill() {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// diskCounter makes (and registers, if asked) a counter of one disk.
func diskCounter(reg prometheus.Registerer, name, help, diskID string) (prometheus.Counter, error) {
	c := prometheus.NewCounter(prometheus.CounterOpts{
		Name:        name,
		Help:        help,
		ConstLabels: prometheus.Labels{"disk": diskID},
	})
	if reg == nil {
		return c, nil
	}
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if old, ok := are.ExistingCollector.(prometheus.Counter); ok {
				return old, nil
			}
		}
		return nil, errs.E("store.Open", errs.Internal, err)
	}
	return c, nil
}

// Status describes how a store came up.
type Status struct {
	DiskID    string
	ClusterID string
	// Replaced is the id of the disk whose index this disk's index directory
	// held before: the disk this one replaced. Empty if none.
	Replaced string
	// SuperblockRepaired: one superblock copy was damaged and was rewritten
	// from the other.
	SuperblockRepaired bool
	// IndexReset: the index was missing or belonged to another disk and was
	// started afresh (every chunk the disk held is forgotten).
	IndexReset bool
}

// Store is a chunk store on one disk.
type Store struct {
	d      disk.Disk
	db     *pebble.DB
	sb     superblock
	log    *slog.Logger
	badSum prometheus.Counter
	// compacted counts chunks moved to contiguous space (compact.go).
	compacted prometheus.Counter
	reg       prometheus.Registerer
	status    Status
	keepFreed bool // Options.KeepFreed

	closeMu sync.RWMutex // operations hold it shared; Close exclusive
	closed  bool

	// gate: readers hold it shared from index lookup to the end of their disk
	// read; the committer takes it exclusively once before it reuses or
	// punches extents a commit freed, so no reader sees them change.
	gate sync.RWMutex

	allocMu sync.Mutex
	avail   *freelist // free and not reserved by an in-flight Put
	// recycling counts bytes freed by a commit that are not available yet.
	recycling int64
	failed    error // sticky: the index could not commit

	patchMu    [patchStripes]sync.Mutex // Patches of one chunk run one at a time
	blockShift shiftTable               // advances a CRC32C over one block
	bufs       bufPool                  // bounce buffers
	compacting chan struct{}            // compactions running (compact.go)

	// committed is the free map as the committed records leave it
	// (committer only): a commit that would take space it does not hold,
	// or free space it holds, is a bug caught before it reaches the index.
	committed *freelist
	// unsyncedRecs: the records unsynced Patches changed, not yet in
	// the index.
	unsyncedRecs unsyncedRecs
	// Committer only: unsynced is set while an index commit awaits its
	// sync; deferred holds the blocks such commits replaced (deferredKept
	// says which came from Patches), reused only after the sync.
	unsynced      bool
	epoch         uint64 // random, per Open: see Epoch
	deferred      []extent
	deferredKept  []bool
	deferredBytes int64
	recs          recCache
	ops           chan *change
	done          chan struct{}
}

// Format writes fresh superblocks for diskID of clusterID on d, discards the
// data region and starts an empty index in indexDir, and opens the store.
// Whatever d and indexDir held is lost. If indexDir held the index of another
// disk, Status().Replaced names it.
func Format(ctx context.Context, d disk.Disk, indexDir, clusterID, diskID string, opts Options) (*Store, error) {
	const op = "store.Format"
	opts.fill()
	switch {
	case clusterID == "" || len(clusterID) > maxIDLen:
		return nil, errs.Errorf(op, errs.Invalid, "bad cluster id %q", clusterID)
	case diskID == "" || len(diskID) > maxIDLen:
		return nil, errs.Errorf(op, errs.Invalid, "bad disk id %q", diskID)
	case d.Size() < minDiskSize:
		return nil, errs.Errorf(op, errs.Invalid, "disk of %d bytes is smaller than %d", d.Size(), minDiskSize)
	}
	old, had, err := peekMeta(indexDir, opts.Logger)
	if err != nil {
		return nil, err
	}
	replaced := ""
	if had && old.DiskID != diskID {
		replaced = old.DiskID
	}
	sb := superblock{
		version: sbVersion, blockSize: disk.BlockSize, size: d.Size(),
		created: time.Now().UnixNano(), clusterID: clusterID, diskID: diskID,
	}
	if !opts.KeepFreed { // a kept region's old bytes stay: no record names them
		if err := d.Discard(ctx, sb.dataStart(), sb.dataEnd()-sb.dataStart()); err != nil {
			opts.Logger.Warn("discard of the data region failed", "disk", diskID, "err", err)
		}
	}
	if err := writeSuperblocks(ctx, d, sb); err != nil {
		return nil, errs.E(op, errs.KindOf(err), err)
	}
	db, err := resetIndex(indexDir, sb, replaced, opts.Logger)
	if err != nil {
		return nil, err
	}
	opts.Logger.Info("disk formatted", "disk", diskID, "cluster", clusterID, "size", sb.size, "replaced", replaced)
	return start(db, d, sb, Status{DiskID: diskID, ClusterID: clusterID, Replaced: replaced}, opts)
}

// Open opens the store on a formatted disk of clusterID. A disk without a
// Wolke superblock fails with errs.Invalid, a disk of another cluster with
// errs.Precondition, two damaged superblocks with errs.Corrupt. A damaged
// superblock copy is repaired from the other; an index that is missing or
// belongs to another disk is reset (see Status).
func Open(ctx context.Context, d disk.Disk, indexDir, clusterID string, opts Options) (*Store, error) {
	const op = "store.Open"
	opts.fill()
	sb, repaired, err := loadSuperblock(ctx, d, opts.Logger)
	if err != nil {
		return nil, err
	}
	if sb.clusterID != clusterID {
		return nil, errs.Errorf(op, errs.Precondition, "disk %s belongs to cluster %q, not %q", sb.diskID, sb.clusterID, clusterID)
	}
	if sb.size > d.Size() {
		return nil, errs.Errorf(op, errs.Corrupt, "disk %s was formatted with %d bytes but has %d", sb.diskID, sb.size, d.Size())
	}
	st := Status{DiskID: sb.diskID, ClusterID: sb.clusterID, SuperblockRepaired: repaired}
	db, err := openIndex(indexDir, opts.Logger)
	if err != nil {
		return nil, err
	}
	m, ok, err := readMeta(db)
	if err != nil {
		_ = db.Close()
		return nil, err
	}
	if !ok || m.DiskID != sb.diskID {
		_ = db.Close()
		st.IndexReset = true
		if ok {
			st.Replaced = m.DiskID
		}
		opts.Logger.Warn("index does not belong to this disk, resetting it",
			"disk", sb.diskID, "index_disk", m.DiskID, "dir", indexDir)
		if db, err = resetIndex(indexDir, sb, st.Replaced, opts.Logger); err != nil {
			return nil, err
		}
	} else {
		st.Replaced = m.Replaced
	}
	return start(db, d, sb, st, opts)
}

// start loads the free map, checks it against the index and starts the
// committer.
func start(db *pebble.DB, d disk.Disk, sb superblock, st Status, opts Options) (*Store, error) {
	if err := replayJournal(db, d, sb); err != nil {
		_ = db.Close()
		return nil, err
	}
	committed, err := freeFromRecords(db, sb, opts.Logger)
	if err != nil {
		_ = db.Close()
		return nil, err
	}
	badSum, err := diskCounter(opts.Registry, "wolke_chunk_checksum_errors_total", "Chunk blocks that failed their CRC32C on read.", sb.diskID)
	if err != nil {
		_ = db.Close()
		return nil, err
	}
	compacted, err := diskCounter(opts.Registry, "wolke_chunk_compactions_total", "Scattered chunks read whole and moved to contiguous space.", sb.diskID)
	if err != nil {
		_ = db.Close()
		return nil, err
	}
	s := &Store{
		d: d, db: db, sb: sb, log: opts.Logger, badSum: badSum, compacted: compacted, reg: opts.Registry, status: st,
		keepFreed: opts.KeepFreed,
		avail:     committed.clone(), committed: committed,
		ops: make(chan *change, maxGroup), done: make(chan struct{}),
		blockShift: newBlockShift(), compacting: make(chan struct{}, maxCompactions),
	}
	s.epoch = newEpoch()
	go s.commitLoop()
	return s, nil
}

// freeFromRecords computes the free map: the part of the data region no
// chunk record names. A free map stored by an earlier version (under "f/",
// changed with every commit) is deleted.
func freeFromRecords(db *pebble.DB, sb superblock, log *slog.Logger) (*freelist, error) {
	used, n, err := usedExtents(db)
	if err != nil {
		return nil, err
	}
	free, err := freeFromUsed(sb.dataStart(), sb.dataEnd(), used)
	if err != nil {
		return nil, errs.E("store.Open", errs.Corrupt, err)
	}
	if err := dropStoredFree(db); err != nil {
		return nil, err
	}
	log.Debug("free map computed from the records", "disk", sb.diskID, "chunks", n, "free", free.free)
	return free, nil
}

// Epoch identifies this opening of the store: it changes on every Open.
// Unsynced changes survive only while the epoch stays the same, so a
// client that saw one epoch on its unsynced Patches and another on its
// Sync knows they may be lost.
func (s *Store) Epoch() uint64 { return s.epoch }

func newEpoch() uint64 {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return binary.LittleEndian.Uint64(b[:]) | 1
}

// Status reports how the store came up.
func (s *Store) Status() Status { return s.status }

// DiskID is the id in the superblock.
func (s *Store) DiskID() string { return s.sb.diskID }

// Usage reports the data capacity and the bytes in use, both in bytes. Space
// reserved by Puts in flight counts as used; space of committed deletes as free.
func (s *Store) Usage() (capacity, used int64) {
	capacity = s.sb.dataEnd() - s.sb.dataStart()
	s.allocMu.Lock()
	defer s.allocMu.Unlock()
	return capacity, capacity - s.avail.free - s.recycling
}

// Close waits for operations in flight, stops the committer and closes the
// index and the disk.
func (s *Store) Close() error {
	s.closeMu.Lock()
	if s.closed {
		s.closeMu.Unlock()
		return nil
	}
	s.closed = true
	s.closeMu.Unlock()
	close(s.ops)
	<-s.done
	if s.reg != nil {
		s.reg.Unregister(s.badSum)
		s.reg.Unregister(s.compacted)
	}
	err := s.db.Close()
	if derr := s.d.Close(); err == nil {
		err = derr
	}
	if err != nil {
		return errs.E("store.Close", errs.Internal, err)
	}
	return nil
}

// enter admits an operation; the caller must call s.closeMu.RUnlock after.
func (s *Store) enter(op string) error {
	s.closeMu.RLock()
	if s.closed {
		s.closeMu.RUnlock()
		return errs.E(op, errs.Unavailable, "store closed")
	}
	return nil
}

// enterChunk is enter for an operation on chunk id: the id is checked and
// a ctx already done refuses it first.
func (s *Store) enterChunk(ctx context.Context, op, id string) error {
	if err := checkID(op, id); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return errs.E(op, errs.Canceled, err)
	}
	return s.enter(op)
}
