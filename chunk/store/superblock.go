package store

import (
	"context"
	"encoding/binary"
	"log/slog"

	"github.com/wolke-cloud/wolke/chunk/disk"
	"github.com/wolke-cloud/wolke/internal/errs"
)

// On-disk layout: the primary superblock in the first block, the backup in
// the last block of the formatted size, data extents in between.
const (
	sbMagic      = "WOLKEDSK"
	sbVersion    = 1
	sbSize       = disk.BlockSize
	maxIDLen     = 255
	minDiskSize  = 16 * disk.BlockSize
	sbCRCOffset  = sbSize - 4
	sbHeaderSize = 8 + 4 + 4 + 8 + 8
)

// superblock identifies a Wolke disk.
type superblock struct {
	version   uint32
	blockSize uint32
	size      int64 // formatted size in bytes
	created   int64 // unix nanoseconds
	clusterID string
	diskID    string
}

func (sb superblock) dataStart() int64 { return sbSize }
func (sb superblock) dataEnd() int64   { return sb.size - sbSize }

func (sb superblock) encode() []byte {
	b := disk.AlignedBuffer(sbSize)
	copy(b, sbMagic)
	binary.BigEndian.PutUint32(b[8:], sb.version)
	binary.BigEndian.PutUint32(b[12:], sb.blockSize)
	binary.BigEndian.PutUint64(b[16:], uint64(sb.size))
	binary.BigEndian.PutUint64(b[24:], uint64(sb.created))
	p := sbHeaderSize
	for _, s := range []string{sb.clusterID, sb.diskID} {
		b[p] = byte(len(s))
		copy(b[p+1:], s)
		p += 1 + len(s)
	}
	binary.BigEndian.PutUint32(b[sbCRCOffset:], crc32c(b[:sbCRCOffset]))
	return b
}

// sbState says what a superblock slot holds.
type sbState int

const (
	sbAbsent sbState = iota // no magic: not a Wolke superblock
	sbBad                   // magic, but damaged or unreadable
	sbOK
)

func decodeSuperblock(b []byte) (superblock, sbState) {
	if string(b[:8]) != sbMagic {
		return superblock{}, sbAbsent
	}
	if crc32c(b[:sbCRCOffset]) != binary.BigEndian.Uint32(b[sbCRCOffset:]) {
		return superblock{}, sbBad
	}
	sb := superblock{
		version:   binary.BigEndian.Uint32(b[8:]),
		blockSize: binary.BigEndian.Uint32(b[12:]),
		size:      int64(binary.BigEndian.Uint64(b[16:])),
		created:   int64(binary.BigEndian.Uint64(b[24:])),
	}
	p := sbHeaderSize
	for _, dst := range []*string{&sb.clusterID, &sb.diskID} {
		n := int(b[p])
		*dst = string(b[p+1 : p+1+n])
		p += 1 + n
	}
	if sb.version != sbVersion || sb.blockSize != disk.BlockSize || sb.size < minDiskSize || sb.size%disk.BlockSize != 0 {
		return superblock{}, sbBad
	}
	return sb, sbOK
}

// writeSuperblocks writes the backup, then the primary, and syncs.
func writeSuperblocks(ctx context.Context, d disk.Disk, sb superblock) error {
	b := sb.encode()
	if err := d.WriteAt(ctx, b, sb.size-sbSize); err != nil {
		return err
	}
	if err := d.WriteAt(ctx, b, 0); err != nil {
		return err
	}
	return d.Sync(ctx)
}

func readSlot(ctx context.Context, d disk.Disk, off int64) (superblock, sbState) {
	if off < 0 || off+sbSize > d.Size() {
		return superblock{}, sbAbsent
	}
	b := disk.AlignedBuffer(sbSize)
	if err := d.ReadAt(ctx, b, off); err != nil {
		return superblock{}, sbBad
	}
	return decodeSuperblock(b)
}

// loadSuperblock reads both copies and repairs a damaged one from the other.
// It reports whether it repaired anything.
func loadSuperblock(ctx context.Context, d disk.Disk, log *slog.Logger) (superblock, bool, error) {
	const op = "store.Open"
	primary, ps := readSlot(ctx, d, 0)
	backupOff := d.Size() - sbSize
	if ps == sbOK {
		backupOff = primary.size - sbSize
	}
	backup, bs := readSlot(ctx, d, backupOff)
	switch {
	case ps == sbOK && bs == sbOK && primary == backup:
		return primary, false, nil
	case ps == sbOK:
		log.Warn("backup superblock damaged, rewriting it", "disk", primary.diskID, "state", int(bs))
		if err := d.WriteAt(ctx, primary.encode(), primary.size-sbSize); err != nil {
			return primary, false, err
		}
		return primary, true, d.Sync(ctx)
	case bs == sbOK:
		log.Warn("primary superblock damaged, restoring it from the backup", "disk", backup.diskID, "state", int(ps))
		if err := d.WriteAt(ctx, backup.encode(), 0); err != nil {
			return backup, false, err
		}
		return backup, true, d.Sync(ctx)
	case ps == sbAbsent && bs == sbAbsent:
		return superblock{}, false, errs.E(op, errs.Invalid, "not a Wolke disk (no superblock)")
	default:
		return superblock{}, false, errs.E(op, errs.Corrupt, "both superblocks are damaged")
	}
}
