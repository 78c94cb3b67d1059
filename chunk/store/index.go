package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/cockroachdb/pebble/v2"

	"github.com/wolke-cloud/wolke/internal/errs"
)

// indexMeta is stored under metaKey; it binds the index to one disk.
type indexMeta struct {
	DiskID    string `json:"disk_id"`
	ClusterID string `json:"cluster_id"`
	Replaced  string `json:"replaced,omitempty"` // the disk this one replaced
}

// pebbleLogger sends pebble's messages to slog.
type pebbleLogger struct{ log *slog.Logger }

func (l pebbleLogger) Infof(format string, args ...any) {
	l.log.Debug("pebble", "msg", fmt.Sprintf(format, args...))
}

func (l pebbleLogger) Errorf(format string, args ...any) {
	l.log.Error("pebble error", "msg", fmt.Sprintf(format, args...))
}

func (l pebbleLogger) Fatalf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	l.log.Error("pebble fatal", "msg", msg)
	panic("pebble: " + msg)
}

// openIndex opens (creating if needed) the pebble index in dir, with modest
// memory: dev mode runs many chunk stores in one process.
func openIndex(dir string, log *slog.Logger) (*pebble.DB, error) {
	cache := pebble.NewCache(8 << 20)
	defer cache.Unref()
	o := &pebble.Options{
		Cache:                       cache,
		MemTableSize:                8 << 20,
		MemTableStopWritesThreshold: 4,
		MaxOpenFiles:                256,
		Logger:                      pebbleLogger{log},
	}
	// Uncompressed: records are mostly block CRC32Cs (random), so
	// compressing them when a memtable is flushed, and decompressing them
	// in compactions, is waste.
	o.ApplyCompressionSettings(func() pebble.DBCompressionSettings { return pebble.DBCompressionNone })
	db, err := pebble.Open(dir, o)
	if err != nil {
		return nil, errs.E("store.openIndex", errs.Internal, dir, err)
	}
	return db, nil
}

// readMeta returns the index metadata, or ok=false if there is none.
func readMeta(db *pebble.DB) (indexMeta, bool, error) {
	v, closer, err := db.Get([]byte(metaKey))
	if errors.Is(err, pebble.ErrNotFound) {
		return indexMeta{}, false, nil
	}
	if err != nil {
		return indexMeta{}, false, errs.E("store.readMeta", errs.Internal, err)
	}
	defer closer.Close()
	var m indexMeta
	if err := json.Unmarshal(v, &m); err != nil {
		return indexMeta{}, false, nil // unreadable metadata: treat the index as foreign
	}
	return m, true, nil
}

// peekMeta reads the metadata of an existing index directory, if any,
// without creating one.
func peekMeta(dir string, log *slog.Logger) (indexMeta, bool, error) {
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		return indexMeta{}, false, nil
	}
	db, err := openIndex(dir, log)
	if err != nil {
		return indexMeta{}, false, err
	}
	m, ok, err := readMeta(db)
	if cerr := db.Close(); err == nil && cerr != nil {
		err = errs.E("store.peekMeta", errs.Internal, cerr)
	}
	return m, ok, err
}

// resetIndex wipes dir and creates an empty index for sb: no chunks, the
// whole data region free.
func resetIndex(dir string, sb superblock, replaced string, log *slog.Logger) (*pebble.DB, error) {
	const op = "store.resetIndex"
	if err := os.RemoveAll(dir); err != nil {
		return nil, errs.E(op, errs.Internal, err)
	}
	db, err := openIndex(dir, log)
	if err != nil {
		return nil, err
	}
	m, _ := json.Marshal(indexMeta{DiskID: sb.diskID, ClusterID: sb.clusterID, Replaced: replaced})
	b := db.NewBatch()
	defer b.Close()
	_ = b.Set([]byte(metaKey), m, nil)
	if err := b.Commit(pebble.Sync); err != nil {
		_ = db.Close()
		return nil, errs.E(op, errs.Internal, err)
	}
	return db, nil
}

// dropStoredFree deletes a free map an earlier version kept in the index,
// if there is one.
func dropStoredFree(db *pebble.DB) error {
	const op = "store.Open"
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: []byte(freePrefix), UpperBound: []byte(freeEnd)})
	if err != nil {
		return errs.E(op, errs.Internal, err)
	}
	found := it.First()
	if err := it.Close(); err != nil || !found {
		return err
	}
	if err := db.DeleteRange([]byte(freePrefix), []byte(freeEnd), pebble.Sync); err != nil {
		return errs.E(op, errs.Internal, err)
	}
	return nil
}

// usedExtents reads every chunk record's extents, sorted by offset.
func usedExtents(db *pebble.DB) ([]extent, int, error) {
	const op = "store.usedExtents"
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: []byte(chunkPrefix), UpperBound: []byte("c0")})
	if err != nil {
		return nil, 0, errs.E(op, errs.Internal, err)
	}
	defer it.Close()
	var used []extent
	count := 0
	for ok := it.First(); ok; ok = it.Next() {
		r, err := decodeRecord(it.Value())
		if err != nil {
			return nil, 0, errs.E(op, errs.Corrupt, string(it.Key()), err)
		}
		used = append(used, r.exts...)
		count++
	}
	sortExtents(used)
	return used, count, it.Error()
}

// freeFromUsed computes the free map of [start, end) given the used extents
// (sorted). It fails if used extents overlap.
func freeFromUsed(start, end int64, used []extent) (*freelist, error) {
	var exts []extent
	pos := start
	for _, e := range used {
		if e.off < pos || e.end() > end {
			return nil, fmt.Errorf("used extent [%d,+%d) overlaps another or leaves the data region", e.off, e.n)
		}
		if e.off > pos {
			exts = append(exts, extent{pos, e.off - pos})
		}
		pos = e.end()
	}
	if pos < end {
		exts = append(exts, extent{pos, end - pos})
	}
	return newFreelist(exts), nil
}
