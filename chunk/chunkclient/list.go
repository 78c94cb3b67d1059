package chunkclient

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/wolke-cloud/wolke/chunk/internal/wire"
	"github.com/wolke-cloud/wolke/internal/errs"
)

// ChunkInfo is one entry of a chunk listing.
type ChunkInfo struct {
	ID      string    `json:"id"`
	Length  int64     `json:"length"`
	CRC32C  uint32    `json:"crc32c"`
	Created time.Time `json:"created"`
}

// ListChunks returns up to limit chunks of diskID whose ids start with
// prefix and sort after after, in id order (limit ≤ 0: the server's
// default page).
func (c *Client) ListChunks(ctx context.Context, diskID, prefix, after string, limit int) ([]ChunkInfo, error) {
	const op = "chunkclient.ListChunks"
	if err := ctx.Err(); err != nil {
		return nil, errs.E(op, errs.Canceled, err)
	}
	if !wire.ValidID(diskID) {
		return nil, errs.Errorf(op, errs.Invalid, "bad disk id %q", diskID)
	}
	addr, err := c.resolve(ctx, diskID)
	if err != nil {
		kind := errs.KindOf(err)
		if kind == errs.Other {
			kind = errs.Unavailable
		}
		return nil, errs.E(op, kind, "resolving disk "+diskID, err)
	}
	q := url.Values{}
	if prefix != "" {
		q.Set(wire.QueryPrefix, prefix)
	}
	if after != "" {
		q.Set(wire.QueryAfter, after)
	}
	if limit > 0 {
		q.Set(wire.QueryLimit, strconv.Itoa(limit))
	}
	u := "http://" + addr + "/v1/disks/" + url.PathEscape(diskID) + "/chunks"
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	rctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, errs.E(op, errs.Invalid, err)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, c.transportErr(ctx, op, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return nil, errs.E(op, wire.Kind(resp.StatusCode, resp.Header.Get(wire.HeaderKind)), "disk "+diskID+": "+string(msg))
	}
	var out []ChunkInfo
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return nil, errs.E(op, errs.Unavailable, "bad listing", err)
	}
	return out, nil
}
