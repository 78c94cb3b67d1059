// Package fsm is the meta state machine: buckets, object versions,
// multipart uploads, disks, placement groups and cluster members, kept in
// its own pebble database and driven by hashicorp/raft.
//
// Apply is deterministic: whatever is random or clock-based arrives in the
// Command. The last applied raft index is stored in the same batch as the
// state it produced, so entries raft replays after a restart are skipped
// instead of applied twice, and a snapshot raft restores on start is
// skipped when the state is already newer than it.
package fsm

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/hashicorp/raft"
	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/meta/internal/kv"
	"github.com/wolke-cloud/wolke/meta/metapb"
	"google.golang.org/protobuf/proto"
)

// reader is what both the committed database and a batch being applied
// offer for reads.
type reader interface {
	Get(key []byte) ([]byte, io.Closer, error)
	NewIter(o *pebble.IterOptions) (*pebble.Iterator, error)
}

// writer is what command handlers write into.
type writer interface {
	Set(key, value []byte, _ *pebble.WriteOptions) error
	Delete(key []byte, _ *pebble.WriteOptions) error
}

// Observer is told about every applied command, for metrics.
type Observer func(op Op, err error, took time.Duration)

// FSM implements raft.BatchingFSM.
type FSM struct {
	db       *pebble.DB
	logger   *slog.Logger
	observer Observer

	mu      sync.Mutex
	applied uint64
	changed chan struct{} // closed and replaced whenever applied moves

	// closeMu keeps readers (which run on their own goroutines, outside
	// raft) off a closed database: Close waits for them.
	closeMu sync.RWMutex
	closed  bool
}

var _ raft.BatchingFSM = (*FSM)(nil)

// Options configure Open.
type Options struct {
	Logger   *slog.Logger
	Observer Observer // optional
}

// Open opens the state machine's database in dir. A restore that was cut
// short is detected and the state wiped, so raft restores the snapshot
// again.
func Open(dir string, o Options) (*FSM, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	db, err := kv.Open(dir, kv.Options{Logger: o.Logger})
	if err != nil {
		return nil, errs.E("fsm.Open", errs.Internal, err)
	}
	f := &FSM{db: db, logger: o.Logger, observer: o.Observer, changed: make(chan struct{})}
	if _, found, err := getRaw(db, keyRestoring); err != nil {
		_ = db.Close()
		return nil, err
	} else if found {
		f.logger.Warn("fsm restore was interrupted: wiping state")
		if err := f.wipe(false); err != nil {
			_ = db.Close()
			return nil, err
		}
	}
	applied, err := readApplied(db)
	if err != nil {
		_ = db.Close()
		return nil, err
	}
	f.applied = applied
	return f, nil
}

// Close closes the database.
func (f *FSM) Close() error {
	f.closeMu.Lock()
	defer f.closeMu.Unlock()
	if f.closed {
		return nil
	}
	f.closed = true
	return f.db.Close()
}

// Applied returns the last applied raft index.
func (f *FSM) Applied() uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.applied
}

// WaitApplied waits until the state reflects raft index idx.
func (f *FSM) WaitApplied(ctx context.Context, idx uint64) error {
	for {
		f.mu.Lock()
		applied, ch := f.applied, f.changed
		f.mu.Unlock()
		if applied >= idx {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return errs.E("fsm.WaitApplied", errs.Unavailable, ctx.Err())
		}
	}
}

func (f *FSM) setApplied(idx uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.applied = idx
	close(f.changed)
	f.changed = make(chan struct{})
}

func readApplied(r reader) (uint64, error) {
	v, found, err := getRaw(r, keyApplied)
	if err != nil || !found {
		return 0, err
	}
	if len(v) != 8 {
		return 0, errs.E("fsm.readApplied", errs.Corrupt, "bad applied index")
	}
	return binary.BigEndian.Uint64(v), nil
}

// Apply applies one log entry.
func (f *FSM) Apply(l *raft.Log) any { return f.ApplyBatch([]*raft.Log{l})[0] }

// ApplyBatch applies committed entries in one pebble batch. Each command
// writes into its own small batch that joins the big one only when the
// command succeeds, so a failed command leaves no trace; later commands of
// the batch see earlier ones' writes. The batch is not synced: the raft
// log is, and replay after a crash restores whatever was lost.
func (f *FSM) ApplyBatch(logs []*raft.Log) []any {
	out := make([]any, len(logs))
	applied := f.Applied()
	big := f.db.NewIndexedBatch()
	defer big.Close()
	last := applied
	for i, l := range logs {
		if l.Index <= applied {
			continue // replayed after a restart: already in the state
		}
		last = l.Index
		if l.Type != raft.LogCommand {
			continue
		}
		out[i] = f.applyOne(big, l)
	}
	if last == applied {
		return out
	}
	err := big.Set(keyApplied, be64(last), nil)
	if err == nil {
		err = big.Commit(pebble.NoSync)
	}
	if err != nil {
		// The state no longer matches the log; carrying on would diverge.
		f.logger.Error("fsm commit failed", "index", last, "err", err)
		panic(fmt.Sprintf("fsm: commit at index %d: %v", last, err))
	}
	f.setApplied(last)
	return out
}

func (f *FSM) applyOne(big *pebble.Batch, l *raft.Log) any {
	start := time.Now()
	cmd, err := DecodeCommand(l.Data)
	if err != nil {
		f.logger.Error("fsm undecodable command", "index", l.Index, "err", err)
		return err
	}
	w := f.db.NewBatch()
	defer w.Close()
	resp, err := f.exec(big, w, cmd, l.Index)
	if err == nil && !w.Empty() {
		if aerr := big.Apply(w, nil); aerr != nil {
			err = errs.E("fsm.Apply", errs.Internal, aerr)
		}
	}
	if f.observer != nil {
		f.observer(cmd.Op, err, time.Since(start))
	}
	if err != nil {
		return err
	}
	return resp
}

// exec runs one command: reads from r (the state including earlier
// commands of the batch), writes into w.
func (f *FSM) exec(r reader, w writer, c *Command, idx uint64) (proto.Message, error) {
	t := &tx{r: r, w: w, idx: idx, now: c.Now, id: c.ID}
	switch c.Op {
	case OpCreateBucket:
		return t.createBucket(c.Req.(*metapb.CreateBucketRequest))
	case OpDeleteBucket:
		return t.deleteBucket(c.Req.(*metapb.DeleteBucketRequest))
	case OpPutObject:
		return t.putObject(c.Req.(*metapb.PutObjectRequest))
	case OpDeleteObject:
		return t.deleteObject(c.Req.(*metapb.DeleteObjectRequest))
	case OpCreateUpload:
		return t.createUpload(c.Req.(*metapb.CreateUploadRequest))
	case OpPutPart:
		return t.putPart(c.Req.(*metapb.PutPartRequest))
	case OpCompleteUpload:
		return t.completeUpload(c.Req.(*metapb.CompleteUploadRequest))
	case OpAbortUpload:
		return t.abortUpload(c.Req.(*metapb.AbortUploadRequest))
	case OpRegisterDisk:
		return t.registerDisk(c.Req.(*metapb.RegisterDiskRequest))
	case OpSetDiskState:
		return t.setDiskState(c.Req.(*metapb.SetDiskStateRequest))
	case OpEnsurePlacementGroups:
		return t.ensurePlacementGroups(c.Req.(*metapb.EnsurePlacementGroupsRequest))
	case OpReplaceDisk:
		return t.replaceDisk(c.Req.(*metapb.ReplaceDiskRequest))
	case OpSetMember:
		return t.setMember(c.Req.(*metapb.Member))
	case OpRemoveMember:
		return t.removeMember(c.Req.(*metapb.RemoveRequest))
	case OpNoop:
		return c.Req, nil
	case OpSetBucketVersioning:
		return t.setBucketVersioning(c.Req.(*metapb.SetBucketVersioningRequest))
	case OpSetBucketConfig:
		return t.setBucketConfig(c.Req.(*metapb.SetBucketConfigRequest))
	case OpSetObjectLock:
		return t.setObjectLock(c.Req.(*metapb.SetObjectLockRequest))
	case OpSetObjectTags:
		return t.setObjectTags(c.Req.(*metapb.SetObjectTagsRequest))
	case OpSetObjectACL:
		return t.setObjectACL(c.Req.(*metapb.SetObjectAclRequest))
	case OpDeleteSegments:
		return t.deleteSegments(c.Req.(*metapb.DeleteSegmentsRequest))
	}
	if resp, ok, err := t.execVolume(c); ok {
		return resp, err
	}
	if resp, ok, err := t.execDurability(c); ok {
		return resp, err
	}
	return nil, errs.Errorf("fsm.Apply", errs.Invalid, "unknown op %v", c.Op)
}

// tx is one command being applied.
type tx struct {
	r   reader
	w   writer
	idx uint64 // raft index: orders versions
	now int64
	id  string
}

func (t *tx) set(op string, key []byte, m proto.Message) error {
	v, err := proto.Marshal(m)
	if err != nil {
		return errs.E(op, errs.Internal, err)
	}
	if err := t.w.Set(key, v, nil); err != nil {
		return errs.E(op, errs.Internal, err)
	}
	return nil
}

func (t *tx) del(op string, key []byte) error {
	if err := t.w.Delete(key, nil); err != nil {
		return errs.E(op, errs.Internal, err)
	}
	return nil
}

func getRaw(r reader, key []byte) ([]byte, bool, error) {
	v, closer, err := r.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, errs.E("fsm.get", errs.Internal, err)
	}
	defer closer.Close()
	return append([]byte(nil), v...), true, nil
}

// getProto reads key into m; found is false when the key is missing.
func getProto(r reader, key []byte, m proto.Message) (bool, error) {
	v, found, err := getRaw(r, key)
	if err != nil || !found {
		return found, err
	}
	if err := proto.Unmarshal(v, m); err != nil {
		return false, errs.E("fsm.get", errs.Corrupt, err)
	}
	return true, nil
}

func newIter(r reader, lo, hi []byte) (*pebble.Iterator, error) {
	it, err := r.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return nil, errs.E("fsm.iter", errs.Internal, err)
	}
	return it, nil
}

func iterErr(it *pebble.Iterator) error {
	if err := it.Error(); err != nil {
		return errs.E("fsm.iter", errs.Internal, err)
	}
	return nil
}

// view runs a read against a consistent snapshot of the committed state.
func (f *FSM) view(fn func(r reader) error) error {
	f.closeMu.RLock()
	defer f.closeMu.RUnlock()
	if f.closed {
		return errs.E("fsm.view", errs.Unavailable, "state machine closed")
	}
	snap := f.db.NewSnapshot()
	defer snap.Close()
	return fn(snap)
}
