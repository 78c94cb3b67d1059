package chunkclient

import (
	"context"
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
	const op = "chunkclient.PatchShard"
	hdr := http.Header{
		wire.HeaderCRC:     {wire.FormatCRC(wire.CRC32C(data))},
		wire.HeaderBaseGen: {strconv.FormatUint(base, 10)},
	}
	resp, cancel, err := c.do(ctx, op, http.MethodPatch, diskID, chunkID, wire.QueryOffset+"="+strconv.FormatInt(off, 10), hdr, data)
	if err != nil {
		return 0, err
	}
	defer cancel()
	drain(resp)
	gen, err := strconv.ParseUint(resp.Header.Get(wire.HeaderGen), 10, 64)
	if err != nil {
		return 0, errs.E(op, errs.Internal, "bad generation header", err)
	}
	return gen, nil
}

// ReadShardRangeGen is ReadShardRange that also returns the generation of
// the chunk the bytes come from.
func (c *Client) ReadShardRangeGen(ctx context.Context, diskID, chunkID string, off, n int64) ([]byte, uint64, error) {
	const op = "chunkclient.ReadShardRange"
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
	resp, cancel, err := c.do(ctx, op, http.MethodHead, diskID, chunkID, "", nil, nil)
	if err != nil {
		return 0, err
	}
	defer cancel()
	drain(resp)
	gen, err := strconv.ParseUint(resp.Header.Get(wire.HeaderGen), 10, 64)
	if err != nil {
		return 0, errs.E(op, errs.Internal, "bad generation header", err)
	}
	return gen, nil
}
