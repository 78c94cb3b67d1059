package store

import (
	"context"
	"encoding/binary"

	"github.com/cockroachdb/pebble/v2"

	"github.com/wolke-cloud/wolke/chunk/disk"
	"github.com/wolke-cloud/wolke/internal/errs"
)

// Stores before 2026-11 made unsynced patches crash safe with a journal:
// an unsynced Patch's index commit also carried the blocks it wrote,
// under journalPrefix + their disk offset. Unsynced patches now reach the
// index only after a disk sync (unsynced.go) and write no journal, but a
// store that stopped with one still has it: Open writes its blocks to
// their places (they may not have reached the disk) before it serves.
const journalPrefix = "j/"

var journalEnd = []byte("j0")

// replayJournal writes the journaled blocks to the disk, syncs it and
// drops the journal.
func replayJournal(db *pebble.DB, d disk.Disk, sb superblock) error {
	const op = "store.Open"
	ctx := context.Background()
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: []byte(journalPrefix), UpperBound: journalEnd})
	if err != nil {
		return errs.E(op, errs.Internal, err)
	}
	n := 0
	for ok := it.First(); ok; ok = it.Next() {
		k, v := it.Key(), it.Value()
		if len(k) != len(journalPrefix)+8 || len(v)%disk.BlockSize != 0 {
			_ = it.Close()
			return errs.Errorf(op, errs.Corrupt, "bad journal entry %x", k)
		}
		off := int64(binary.BigEndian.Uint64(k[len(journalPrefix):]))
		if off < sb.dataStart() || off+int64(len(v)) > sb.dataEnd() {
			_ = it.Close()
			return errs.Errorf(op, errs.Corrupt, "journal entry at %d+%d outside the data region", off, len(v))
		}
		buf := disk.AlignedBuffer(len(v))
		copy(buf, v)
		if err := d.WriteAt(ctx, buf, off); err != nil {
			_ = it.Close()
			return errs.E(op, errs.KindOf(err), err)
		}
		n++
	}
	if err := it.Close(); err != nil {
		return errs.E(op, errs.Internal, err)
	}
	if n == 0 {
		return nil
	}
	if err := d.Sync(ctx); err != nil {
		return errs.E(op, errs.Unavailable, err)
	}
	if err := db.DeleteRange([]byte(journalPrefix), journalEnd, pebble.Sync); err != nil {
		return errs.E(op, errs.Internal, err)
	}
	return nil
}
