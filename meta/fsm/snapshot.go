package fsm

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"hash"
	"hash/crc32"
	"io"

	"github.com/cockroachdb/pebble/v2"
	"github.com/hashicorp/raft"
	"github.com/wolke-cloud/wolke/internal/errs"
)

// Snapshot stream: magic, applied index (8 bytes BE), then records of
// uvarint key length, key, uvarint value length, value; a zero key length
// ends the records and a CRC32C (4 bytes BE) of everything before ends the
// stream. The applied index tells Restore whether the stream is newer than
// the state it would replace.
var snapMagic = []byte("WOLKEFSM1")

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

type snapshot struct {
	snap    *pebble.Snapshot
	applied uint64
}

// Snapshot captures the current state; Persist streams it out while
// commands keep being applied.
func (f *FSM) Snapshot() (raft.FSMSnapshot, error) {
	snap := f.db.NewSnapshot()
	applied, err := readApplied(snap)
	if err != nil {
		snap.Close()
		return nil, err
	}
	return &snapshot{snap: snap, applied: applied}, nil
}

func (s *snapshot) Persist(sink raft.SnapshotSink) error {
	if err := s.write(sink); err != nil {
		_ = sink.Cancel()
		return err
	}
	return sink.Close()
}

func (s *snapshot) write(w io.Writer) error {
	crc := crc32.New(castagnoli)
	bw := bufio.NewWriterSize(io.MultiWriter(w, crc), 256<<10)
	bw.Write(snapMagic)
	bw.Write(be64(s.applied))
	it, err := s.snap.NewIter(nil)
	if err != nil {
		return errs.E("fsm.Persist", errs.Internal, err)
	}
	defer it.Close()
	var hdr []byte
	for ok := it.First(); ok; ok = it.Next() {
		k := it.Key()
		if bytes.Equal(k, keyApplied) || bytes.Equal(k, keyRestoring) {
			continue
		}
		v, err := it.ValueAndErr()
		if err != nil {
			return errs.E("fsm.Persist", errs.Internal, err)
		}
		hdr = binary.AppendUvarint(hdr[:0], uint64(len(k)))
		bw.Write(hdr)
		bw.Write(k)
		hdr = binary.AppendUvarint(hdr[:0], uint64(len(v)))
		bw.Write(hdr)
		if _, err := bw.Write(v); err != nil {
			return errs.E("fsm.Persist", errs.Internal, err)
		}
	}
	if err := iterErr(it); err != nil {
		return err
	}
	bw.WriteByte(0)
	if err := bw.Flush(); err != nil {
		return errs.E("fsm.Persist", errs.Internal, err)
	}
	_, err = w.Write(binary.BigEndian.AppendUint32(nil, crc.Sum32()))
	return err
}

func (s *snapshot) Release() { s.snap.Close() }

// Restore replaces the state with a snapshot's, unless the state is
// already at or past the snapshot's index (raft restores the latest
// snapshot on every start; the state persisted since then is newer).
func (f *FSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	const op = "fsm.Restore"
	cr := &crcReader{r: bufio.NewReaderSize(rc, 256<<10), crc: crc32.New(castagnoli)}
	head := make([]byte, len(snapMagic)+8)
	if _, err := io.ReadFull(cr, head); err != nil {
		return errs.E(op, errs.Corrupt, err)
	}
	if !bytes.Equal(head[:len(snapMagic)], snapMagic) {
		return errs.E(op, errs.Corrupt, "not a meta snapshot")
	}
	snapIndex := beUint64(head[len(snapMagic):])
	if applied := f.Applied(); applied >= snapIndex {
		f.logger.Info("fsm snapshot older than state: keeping state", "snapshot_index", snapIndex, "applied", applied)
		return nil
	}
	if err := f.db.Set(keyRestoring, []byte{1}, pebble.Sync); err != nil {
		return errs.E(op, errs.Internal, err)
	}
	if err := f.wipe(true); err != nil {
		return err
	}
	b := f.db.NewBatch()
	for {
		k, err := readField(cr)
		if err != nil {
			b.Close()
			return errs.E(op, errs.Corrupt, err)
		}
		if k == nil {
			break
		}
		v, err := readField(cr)
		if err != nil {
			b.Close()
			return errs.E(op, errs.Corrupt, err)
		}
		if v == nil {
			v = []byte{}
		}
		_ = b.Set(k, v, nil)
		if b.Len() > 4<<20 {
			if err := b.Commit(pebble.NoSync); err != nil {
				b.Close()
				return errs.E(op, errs.Internal, err)
			}
			b.Close()
			b = f.db.NewBatch()
		}
	}
	want := cr.crc.Sum32()
	sum := make([]byte, 4)
	// The trailer is not part of the checksum: read it around cr.
	if _, err := io.ReadFull(cr.r, sum); err != nil {
		b.Close()
		return errs.E(op, errs.Corrupt, err)
	}
	if binary.BigEndian.Uint32(sum) != want {
		b.Close()
		return errs.E(op, errs.Corrupt, "snapshot checksum mismatch")
	}
	_ = b.Set(keyApplied, be64(snapIndex), nil)
	_ = b.Delete(keyRestoring, nil)
	err := b.Commit(pebble.Sync)
	b.Close()
	if err != nil {
		return errs.E(op, errs.Internal, err)
	}
	f.setApplied(snapIndex)
	f.logger.Info("fsm restored snapshot", "index", snapIndex)
	return nil
}

// readField reads a uvarint length and that many bytes; nil at the zero
// length that ends the records.
func readField(r *crcReader) ([]byte, error) {
	n, err := binary.ReadUvarint(r)
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, nil
	}
	if n > 1<<30 {
		return nil, errs.E("fsm.Restore", errs.Corrupt, "field too large")
	}
	b := make([]byte, n)
	_, err = io.ReadFull(r, b)
	return b, err
}

// wipe deletes all state and sets applied to 0; the restoring marker
// stays when keepMarker is set (a restore is about to load the state).
func (f *FSM) wipe(keepMarker bool) error {
	b := f.db.NewBatch()
	defer b.Close()
	_ = b.DeleteRange([]byte{0}, keyRestoring, nil)
	_ = b.DeleteRange(append(append([]byte(nil), keyRestoring...), 0), []byte{0xff, 0xff, 0xff, 0xff}, nil)
	_ = b.Set(keyApplied, be64(0), nil)
	if !keepMarker {
		_ = b.Delete(keyRestoring, nil)
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return errs.E("fsm.wipe", errs.Internal, err)
	}
	f.setApplied(0)
	return nil
}

// crcReader checksums what is read through it.
type crcReader struct {
	r   *bufio.Reader
	crc hash.Hash32
}

func (c *crcReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.crc.Write(p[:n])
	return n, err
}

func (c *crcReader) ReadByte() (byte, error) {
	b, err := c.r.ReadByte()
	if err == nil {
		c.crc.Write([]byte{b})
	}
	return b, err
}
