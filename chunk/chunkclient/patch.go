package chunkclient

import (
	"context"
	"encoding/binary"
	"net/http"
	"strconv"

	"github.com/wolke-cloud/wolke/chunk/internal/wire"
	"github.com/wolke-cloud/wolke/internal/errs"
)

// PatchShard overwrites [off, off+len(data)) of the chunk in place (both
// multiples of 4 KiB) if the chunk is at generation base, and returns its
// new generation (base+1); durable on return. A chunk at another
// generation fails with errs.Precondition and is left alone.
func (c *Client) PatchShard(ctx context.Context, diskID, chunkID string, off int64, data []byte, base uint64) (uint64, error) {
	gen, _, err := c.patch(ctx, diskID, chunkID, off, data, base, true)
	return gen, err
}

// PatchShardNoSync is PatchShard answered before the patch is stable: it
// is on the disk's store but a crash of the chunk server may lose it until
// SyncDisk. It also returns the store's epoch, which changes when the
// store restarts (and may have lost unsynced patches).
func (c *Client) PatchShardNoSync(ctx context.Context, diskID, chunkID string, off int64, data []byte, base uint64) (gen, epoch uint64, err error) {
	return c.patch(ctx, diskID, chunkID, off, data, base, false)
}

func (c *Client) patch(ctx context.Context, diskID, chunkID string, off int64, data []byte, base uint64, sync bool) (gen, epoch uint64, err error) {
	const op = "chunkclient.PatchShard"
	if gen, epoch, err, ok := c.patchLocal(ctx, op, diskID, chunkID, []int64{off}, [][]byte{data}, nil, base, sync); ok {
		return gen, epoch, err
	}
	crc := wire.CRC32C(data)
	return c.patchCall(ctx, op, diskID, chunkID, wire.OpPatch, len(diskID)+len(chunkID), func(b []byte) []byte {
		b = append(b, noSyncFlag(sync))
		b = binary.BigEndian.AppendUint64(b, base)
		b = binary.BigEndian.AppendUint64(b, uint64(off))
		b = binary.BigEndian.AppendUint32(b, crc)
		return wire.AppendName(wire.AppendName(b, diskID), chunkID)
	}, data, func() (string, []byte, uint32) {
		return wire.QueryOffset + "=" + strconv.FormatInt(off, 10), data, crc
	}, base, sync)
}

// PatchShardRangesNoSync is PatchShardNoSync of several ranges of the
// chunk at once: data[i] replaces [offs[i], offs[i]+len(data[i])), the
// ranges sorted, not overlapping and in whole 4 KiB blocks. All of them
// or none are applied, as one generation, base+1.
func (c *Client) PatchShardRangesNoSync(ctx context.Context, diskID, chunkID string, offs []int64, data [][]byte, base uint64) (gen, epoch uint64, err error) {
	return c.patchRanges(ctx, diskID, chunkID, offs, data, nil, base, false)
}

// PatchShardRangesSummedNoSync is PatchShardRangesNoSync for a caller
// that writes the same data to several replicas and computed the CRC32C
// of each 4 KiB block of each range once (sums[i] for data[i]): a chunk
// server in this process records them instead of computing them again.
// Over the network they are not sent; the server computes its own.
func (c *Client) PatchShardRangesSummedNoSync(ctx context.Context, diskID, chunkID string, offs []int64, data [][]byte, sums [][]uint32, base uint64) (gen, epoch uint64, err error) {
	return c.patchRanges(ctx, diskID, chunkID, offs, data, sums, base, false)
}

// Local reports whether disk diskID's chunk server runs in this process
// and takes patches and puts from it directly (so that sums handed to
// PatchShardRangesSummedNoSync and WriteShardSummed are used, not
// dropped).
func (c *Client) Local(ctx context.Context, diskID string) bool {
	if c.local == nil {
		return false
	}
	srv := c.localServer(ctx, diskID, "x")
	_, patches := srv.(localPatcher)
	_, puts := srv.(localPutter)
	return patches && puts
}

// AnyLocal reports whether the client has servers in this process to
// hand calls to (Options.Local), so that Local may be true for some disk.
func (c *Client) AnyLocal() bool { return c.local != nil }

// PatchShardRanges is PatchShardRangesNoSync durable on return.
func (c *Client) PatchShardRanges(ctx context.Context, diskID, chunkID string, offs []int64, data [][]byte, base uint64) (uint64, error) {
	gen, _, err := c.patchRanges(ctx, diskID, chunkID, offs, data, nil, base, true)
	return gen, err
}

func (c *Client) patchRanges(ctx context.Context, diskID, chunkID string, offs []int64, data [][]byte, sums [][]uint32, base uint64, sync bool) (gen, epoch uint64, err error) {
	const op = "chunkclient.PatchShardRanges"
	if len(offs) != len(data) || len(offs) == 0 || len(offs) > wire.MaxPatchRanges {
		return 0, 0, errs.Errorf(op, errs.Invalid, "%d offsets for %d ranges (1 to %d)", len(offs), len(data), wire.MaxPatchRanges)
	}
	if gen, epoch, err, ok := c.patchLocal(ctx, op, diskID, chunkID, offs, data, sums, base, sync); ok {
		return gen, epoch, err
	}
	total := 0
	for _, p := range data {
		total += len(p)
	}
	hint := len(diskID) + len(chunkID) + 16*len(offs) + total
	build := func(b []byte) []byte {
		b = append(b, noSyncFlag(sync))
		b = binary.BigEndian.AppendUint64(b, base)
		b = binary.BigEndian.AppendUint16(b, uint16(len(offs)))
		b = wire.AppendName(wire.AppendName(b, diskID), chunkID)
		for i, off := range offs {
			b = binary.BigEndian.AppendUint64(b, uint64(off))
			b = binary.BigEndian.AppendUint32(b, uint32(len(data[i])))
			b = binary.BigEndian.AppendUint32(b, wire.CRC32C(data[i]))
		}
		// The ranges' data is copied into the frame (a stream request
		// has one payload); the per-range CRC32Cs make a range the
		// caller changed meanwhile fail on the server, not be stored.
		for _, p := range data {
			b = append(b, p...)
		}
		return b
	}
	if wire.FrameHeader+32+hint > wire.MaxFrame {
		build = nil // too large for a frame: HTTP
	}
	return c.patchCall(ctx, op, diskID, chunkID, wire.OpPatchRanges, hint, build, nil, func() (string, []byte, uint32) {
		lens := make([]int, len(data))
		body := make([]byte, 0, total)
		for i, p := range data {
			lens[i] = len(p)
			body = append(body, p...)
		}
		return wire.QueryRanges + "=" + wire.FormatRanges(offs, lens), body, wire.CRC32C(body)
	}, base, sync)
}

func noSyncFlag(sync bool) byte {
	if sync {
		return 0
	}
	return wire.FlagNoSync
}

// patchCall sends a patch over the stream (code, hint, build and payload
// as streamCall takes them) or, where there is no stream or build is nil,
// as an HTTP PATCH whose query, body and body CRC32C asHTTP returns; it
// returns the chunk's new generation and the store's epoch.
func (c *Client) patchCall(ctx context.Context, op, diskID, chunkID string, code byte, hint int, build func([]byte) []byte, payload []byte,
	asHTTP func() (query string, body []byte, crc uint32), base uint64, sync bool,
) (gen, epoch uint64, err error) {
	if !wire.ValidID(chunkID) {
		return 0, 0, errs.Errorf(op, errs.Invalid, "bad chunk id %q", chunkID)
	}
	var (
		f       wire.Frame
		release func()
	)
	err = errNoStream
	if build != nil {
		f, release, err = c.streamCall(ctx, op, diskID, code, hint, build, payload)
	}
	if err != errNoStream {
		if err != nil {
			return 0, 0, err
		}
		d := &wire.Dec{B: f.Body}
		gen, epoch = d.U64(), d.U64()
		release()
		if d.Err != nil {
			return 0, 0, errs.E(op, errs.Internal, "bad answer", d.Err)
		}
		return gen, epoch, nil
	}
	query, body, crc := asHTTP()
	hdr := http.Header{
		wire.HeaderCRC:     {wire.FormatCRC(crc)},
		wire.HeaderBaseGen: {strconv.FormatUint(base, 10)},
	}
	if !sync {
		hdr[wire.HeaderNoSync] = []string{"1"}
	}
	resp, cancel, err := c.do(ctx, op, http.MethodPatch, diskID, chunkID, query, hdr, body)
	if err != nil {
		return 0, 0, err
	}
	defer cancel()
	drain(resp)
	gen, err = strconv.ParseUint(resp.Header.Get(wire.HeaderGen), 10, 64)
	if err != nil {
		return 0, 0, errs.E(op, errs.Internal, "bad generation header", err)
	}
	epoch, _ = strconv.ParseUint(resp.Header.Get(wire.HeaderEpoch), 10, 64)
	return gen, epoch, nil
}

// SyncDisk makes the disk's unsynced patches stable and returns the disk
// store's epoch: patches answered with another epoch may be lost.
func (c *Client) SyncDisk(ctx context.Context, diskID string) (epoch uint64, err error) {
	const op = "chunkclient.SyncDisk"
	f, release, err := c.streamCall(ctx, op, diskID, wire.OpSync, len(diskID), func(b []byte) []byte { return wire.AppendName(b, diskID) }, nil)
	if err != errNoStream {
		if err != nil {
			return 0, err
		}
		d := &wire.Dec{B: f.Body}
		epoch = d.U64()
		release()
		if d.Err != nil {
			return 0, errs.E(op, errs.Internal, "bad answer", d.Err)
		}
		return epoch, nil
	}
	resp, cancel, err := c.send(ctx, op, http.MethodPost, diskID, "/v1/disks/"+diskID+"/sync", "disk "+diskID, "", nil, nil)
	if err != nil {
		return 0, err
	}
	defer cancel()
	drain(resp)
	epoch, err = strconv.ParseUint(resp.Header.Get(wire.HeaderEpoch), 10, 64)
	if err != nil {
		return 0, errs.E(op, errs.Internal, "bad epoch header", err)
	}
	return epoch, nil
}

// ReadShardRangeGen is ReadShardRange that also returns the generation of
// the chunk the bytes come from.
func (c *Client) ReadShardRangeGen(ctx context.Context, diskID, chunkID string, off, n int64) ([]byte, uint64, error) {
	const op = "chunkclient.ReadShardRange"
	var data []byte
	if gen, err := c.streamRead(ctx, op, diskID, chunkID, off, n, func(b []byte) bool { data = b; return true }); err != errNoStream {
		return data, gen, err
	}
	q := wire.QueryOffset + "=" + strconv.FormatInt(off, 10) + "&" + wire.QueryLength + "=" + strconv.FormatInt(n, 10)
	var gen uint64
	data, transit, err := c.readOnceGen(ctx, op, diskID, chunkID, q, &gen)
	if transit {
		data, _, err = c.readOnceGen(ctx, op, diskID, chunkID, q, &gen)
	}
	return data, gen, err
}

// ShardGen returns the chunk's generation without reading it.
func (c *Client) ShardGen(ctx context.Context, diskID, chunkID string) (uint64, error) {
	const op = "chunkclient.ShardGen"
	// Over the stream: a read of no bytes answers the generation.
	gen, err := c.streamRead(ctx, op, diskID, chunkID, 0, 0, func([]byte) bool { return false })
	if err != errNoStream {
		return gen, err
	}
	resp, cancel, err := c.do(ctx, op, http.MethodHead, diskID, chunkID, "", nil, nil)
	if err != nil {
		return 0, err
	}
	defer cancel()
	drain(resp)
	gen, err = strconv.ParseUint(resp.Header.Get(wire.HeaderGen), 10, 64)
	if err != nil {
		return 0, errs.E(op, errs.Internal, "bad generation header", err)
	}
	return gen, nil
}

// ReadShardRangeInto reads len(p) bytes of the chunk at off into p and
// returns the chunk's generation; like ReadShardRangeGen, without
// allocating the bytes when it reads over the stream.
func (c *Client) ReadShardRangeInto(ctx context.Context, diskID, chunkID string, off int64, p []byte) (uint64, error) {
	const op = "chunkclient.ReadShardRange"
	n := int64(len(p))
	short := func(got int) error {
		return errs.Errorf(op, errs.Corrupt, "disk %s chunk %s: %d bytes, want %d", diskID, chunkID, got, n)
	}
	if gen, err, ok := c.readLocalInto(ctx, op, diskID, chunkID, off, p); ok {
		return gen, err
	}
	var serr error
	gen, err := c.streamRead(ctx, op, diskID, chunkID, off, n, func(b []byte) bool {
		if len(b) != len(p) {
			serr = short(len(b))
		}
		copy(p, b)
		return false
	})
	if err == errNoStream {
		var b []byte
		if b, gen, err = c.ReadShardRangeGen(ctx, diskID, chunkID, off, n); err == nil {
			if len(b) != len(p) {
				return 0, short(len(b))
			}
			copy(p, b)
		}
	}
	if err == nil {
		err = serr
	}
	return gen, err
}

// streamRead is ReadShardRangeGen over the stream: it hands the bytes to
// use, which returns whether it keeps them (else they go back to the
// stream's pool when use returns).
// Bytes damaged in transit are fetched once more before the mismatch is
// reported as errs.Corrupt.
func (c *Client) streamRead(ctx context.Context, op, diskID, chunkID string, off, n int64, use func([]byte) bool) (uint64, error) {
	if !wire.ValidID(chunkID) {
		return 0, errs.Errorf(op, errs.Invalid, "bad chunk id %q", chunkID)
	}
	for try := 0; ; try++ {
		a, err := c.streamCallData(ctx, op, diskID, wire.OpRead, len(diskID)+len(chunkID), func(b []byte) []byte {
			b = binary.BigEndian.AppendUint64(b, uint64(off))
			b = binary.BigEndian.AppendUint64(b, uint64(n))
			return wire.AppendName(wire.AppendName(b, diskID), chunkID)
		}, nil)
		if err != nil {
			return 0, err
		}
		release := a.release
		d := &wire.Dec{B: a.body}
		gen, crc := d.U64(), d.U32()
		data := d.Rest()
		if a.data != nil { // a local server's own buffer, not copied
			data = a.data
		}
		if d.Err != nil {
			release()
			return 0, errs.E(op, errs.Internal, "bad answer", d.Err)
		}
		// A local server's buffer crossed no wire: the store checked its
		// blocks against their CRC32Cs as it read them, and the answer's
		// CRC32C is made from theirs (or from these very bytes).
		if a.data == nil {
			if got := wire.CRC32C(data); got != crc {
				release()
				if try == 0 {
					continue
				}
				return 0, errs.Errorf(op, errs.Corrupt, "disk %s chunk %s: received CRC32C %s, server sent %s",
					diskID, chunkID, wire.FormatCRC(got), wire.FormatCRC(crc))
			}
		}
		if !use(data) {
			release()
		}
		return gen, nil
	}
}
