// Package raftstore keeps hashicorp/raft's log and stable store in pebble.
//
// Log entries live under "l" + big-endian index, so pebble's key order is
// index order; stable values live under "s" + key. StoreLogs writes all
// entries of one call in one synced batch: the raft leader hands it every
// entry it gathered from concurrent Apply calls, so they share one fsync.
package raftstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/hashicorp/raft"
	"github.com/wolke-cloud/wolke/meta/internal/kv"
)

const (
	logPrefix    = 'l'
	stablePrefix = 's'
)

// Store implements raft.LogStore and raft.StableStore.
type Store struct {
	db *pebble.DB

	mu          sync.Mutex // guards first/last caching
	first, last uint64
}

var (
	_ raft.LogStore          = (*Store)(nil)
	_ raft.StableStore       = (*Store)(nil)
	_ raft.MonotonicLogStore = (*Store)(nil)
)

// Open opens the store in dir, creating it if needed.
func Open(dir string, logger *slog.Logger) (*Store, error) {
	db, err := kv.Open(dir, kv.Options{Logger: logger})
	if err != nil {
		return nil, fmt.Errorf("raftstore: open %s: %w", dir, err)
	}
	s := &Store{db: db}
	if err := s.loadBounds(); err != nil {
		_ = db.Close()
		return nil, err
	}
	return s, nil
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// IsMonotonic tells raft that logs never have gaps, so after installing a
// snapshot it deletes the whole log instead of leaving a gap.
func (s *Store) IsMonotonic() bool { return true }

func logKey(index uint64) []byte {
	k := make([]byte, 9)
	k[0] = logPrefix
	binary.BigEndian.PutUint64(k[1:], index)
	return k
}

// loadBounds reads the first and last index; callers hold mu or own s.
func (s *Store) loadBounds() error {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{logPrefix}, UpperBound: []byte{logPrefix + 1}})
	if err != nil {
		return err
	}
	defer it.Close()
	var first, last uint64
	if it.First() {
		first = binary.BigEndian.Uint64(it.Key()[1:])
	}
	if it.Last() {
		last = binary.BigEndian.Uint64(it.Key()[1:])
	}
	if err := it.Error(); err != nil {
		return err
	}
	s.first, s.last = first, last
	return nil
}

// FirstIndex returns the first index written, 0 for none.
func (s *Store) FirstIndex() (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.first, nil
}

// LastIndex returns the last index written, 0 for none.
func (s *Store) LastIndex() (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last, nil
}

// GetLog reads the entry at index, raft.ErrLogNotFound if there is none.
func (s *Store) GetLog(index uint64, l *raft.Log) error {
	v, closer, err := s.db.Get(logKey(index))
	if errors.Is(err, pebble.ErrNotFound) {
		return raft.ErrLogNotFound
	}
	if err != nil {
		return err
	}
	defer closer.Close()
	if err := decodeLog(v, l); err != nil {
		return fmt.Errorf("raftstore: log %d: %w", index, err)
	}
	l.Index = index
	return nil
}

// StoreLog stores one entry.
func (s *Store) StoreLog(l *raft.Log) error { return s.StoreLogs([]*raft.Log{l}) }

// StoreLogs stores entries in one synced batch.
func (s *Store) StoreLogs(logs []*raft.Log) error {
	if len(logs) == 0 {
		return nil
	}
	b := s.db.NewBatch()
	defer b.Close()
	lo, hi := logs[0].Index, logs[0].Index
	var buf []byte
	for _, l := range logs {
		buf = encodeLog(buf[:0], l)
		if err := b.Set(logKey(l.Index), buf, nil); err != nil {
			return err
		}
		lo, hi = min(lo, l.Index), max(hi, l.Index)
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("raftstore: store logs: %w", err)
	}
	s.mu.Lock()
	if s.first == 0 || lo < s.first {
		s.first = lo
	}
	if hi > s.last {
		s.last = hi
	}
	s.mu.Unlock()
	return nil
}

// DeleteRange deletes entries min..max inclusive.
func (s *Store) DeleteRange(lo, hi uint64) error {
	if lo > hi {
		return nil
	}
	end := []byte{logPrefix + 1}
	if hi != ^uint64(0) {
		end = logKey(hi + 1)
	}
	if err := s.db.DeleteRange(logKey(lo), end, pebble.Sync); err != nil {
		return fmt.Errorf("raftstore: delete range: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.loadBounds()
}

func stableKey(key []byte) []byte {
	return append([]byte{stablePrefix}, key...)
}

// Set stores a stable value, synced.
func (s *Store) Set(key, val []byte) error {
	return s.db.Set(stableKey(key), val, pebble.Sync)
}

// Get returns a stable value, or an empty slice if the key is missing.
func (s *Store) Get(key []byte) ([]byte, error) {
	v, closer, err := s.db.Get(stableKey(key))
	if errors.Is(err, pebble.ErrNotFound) {
		return []byte{}, nil
	}
	if err != nil {
		return nil, err
	}
	defer closer.Close()
	return append([]byte{}, v...), nil
}

// SetUint64 stores a stable uint64, synced.
func (s *Store) SetUint64(key []byte, val uint64) error {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], val)
	return s.Set(key, b[:])
}

// GetUint64 returns a stable uint64, 0 if the key is missing.
func (s *Store) GetUint64(key []byte) (uint64, error) {
	v, err := s.Get(key)
	if err != nil || len(v) == 0 {
		return 0, err
	}
	if len(v) != 8 {
		return 0, fmt.Errorf("raftstore: value of %q is %d bytes, want 8", key, len(v))
	}
	return binary.BigEndian.Uint64(v), nil
}

// Entry layout: version byte, uvarint term, type byte, varint appended-at
// unix nanos (0 for zero time), uvarint len + data, uvarint len + extensions.
const encodingVersion = 1

func encodeLog(buf []byte, l *raft.Log) []byte {
	buf = append(buf, encodingVersion)
	buf = binary.AppendUvarint(buf, l.Term)
	buf = append(buf, byte(l.Type))
	var at int64
	if !l.AppendedAt.IsZero() {
		at = l.AppendedAt.UnixNano()
	}
	buf = binary.AppendVarint(buf, at)
	buf = binary.AppendUvarint(buf, uint64(len(l.Data)))
	buf = append(buf, l.Data...)
	buf = binary.AppendUvarint(buf, uint64(len(l.Extensions)))
	buf = append(buf, l.Extensions...)
	return buf
}

var errCorrupt = errors.New("corrupt log entry")

func decodeLog(b []byte, l *raft.Log) error {
	if len(b) < 1 || b[0] != encodingVersion {
		return errCorrupt
	}
	b = b[1:]
	term, n := binary.Uvarint(b)
	if n <= 0 || len(b) < n+1 {
		return errCorrupt
	}
	b = b[n:]
	typ := b[0]
	b = b[1:]
	at, n := binary.Varint(b)
	if n <= 0 {
		return errCorrupt
	}
	b = b[n:]
	data, b, ok := bytesField(b)
	if !ok {
		return errCorrupt
	}
	ext, b, ok := bytesField(b)
	if !ok || len(b) != 0 {
		return errCorrupt
	}
	*l = raft.Log{Term: term, Type: raft.LogType(typ), Data: data, Extensions: ext}
	if at != 0 {
		l.AppendedAt = time.Unix(0, at)
	}
	return nil
}

// bytesField reads a uvarint length and that many bytes, copied.
func bytesField(b []byte) (field, rest []byte, ok bool) {
	n, k := binary.Uvarint(b)
	if k <= 0 || uint64(len(b)-k) < n {
		return nil, nil, false
	}
	b = b[k:]
	if n == 0 {
		return nil, b, true
	}
	return append([]byte(nil), b[:n]...), b[n:], true
}
