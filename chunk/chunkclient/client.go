// Package chunkclient talks to chunk servers: it writes, reads and deletes
// shards (chunks) on disks, finding each disk's server with a resolver. It
// keeps pooled keep-alive connections, checks a CRC32C end to end in both
// directions, and reports errors by kind: errs.NotFound, errs.Corrupt,
// errs.Unavailable (connection failures and timeouts), and so on.
package chunkclient

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/wolke-cloud/wolke/chunk/internal/wire"
	"github.com/wolke-cloud/wolke/internal/errs"
)

// Options tune a client. Zero values take the defaults.
type Options struct {
	// Timeout bounds one request, body included (default 30s).
	Timeout time.Duration
	// DialTimeout bounds connecting (default 5s).
	DialTimeout time.Duration
	// MaxIdleConnsPerHost is the keep-alive pool per server (default 64).
	MaxIdleConnsPerHost int
	// Transport replaces the client's own pooled transport.
	Transport http.RoundTripper
	// Local, if set, returns the chunk server listening on addr when it
	// runs in this process (nil otherwise): stream requests to it (patches,
	// ranged reads, syncs, puts) are handed to it directly, after the
	// resolver, with the same checks and errors as over the network.
	Local func(addr string) LocalServer
}

// Resolver returns the address (host:port) of the server holding diskID.
type Resolver func(ctx context.Context, diskID string) (addr string, err error)

// Client is a chunk server client, safe for concurrent use.
type Client struct {
	resolve Resolver
	hc      *http.Client
	own     *http.Transport // nil when Options.Transport was given
	streams *streams        // nil when Options.Transport was given
	timeout time.Duration

	local      func(addr string) LocalServer // Options.Local
	localBufs  wire.Bufs                     // large local request bodies, pooled
	localCalls atomic.Int64
}

// New returns a client that finds servers with resolve.
func New(resolve func(ctx context.Context, diskID string) (addr string, err error), opts Options) *Client {
	if opts.Timeout <= 0 {
		opts.Timeout = 30 * time.Second
	}
	if opts.DialTimeout <= 0 {
		opts.DialTimeout = 5 * time.Second
	}
	if opts.MaxIdleConnsPerHost <= 0 {
		opts.MaxIdleConnsPerHost = 64
	}
	c := &Client{resolve: resolve, timeout: opts.Timeout, local: opts.Local}
	rt := opts.Transport
	if rt == nil {
		c.own = &http.Transport{
			DialContext:           (&net.Dialer{Timeout: opts.DialTimeout, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:          0, // no global cap; the per-host pool bounds it
			MaxIdleConnsPerHost:   opts.MaxIdleConnsPerHost,
			IdleConnTimeout:       90 * time.Second,
			ResponseHeaderTimeout: opts.Timeout,
			DisableCompression:    true,
			ForceAttemptHTTP2:     false,
		}
		rt = c.own
		c.streams = &streams{dialTimeout: opts.DialTimeout, conns: map[string]*streamConn{},
			refused: map[string]time.Time{}, dialing: map[string]chan struct{}{}}
	}
	c.hc = &http.Client{Transport: rt}
	return c
}

// Close drops the pooled connections.
func (c *Client) Close() {
	if c.own != nil {
		c.own.CloseIdleConnections()
	}
	if c.streams != nil {
		c.streams.closeAll()
	}
}

// WriteShard stores data as chunkID on diskID; it is durable on return.
func (c *Client) WriteShard(ctx context.Context, diskID, chunkID string, data []byte) error {
	return c.writeShard(ctx, diskID, chunkID, data, nil)
}

// WriteShardSummed is WriteShard for a caller that writes the same data
// to several replicas and computed the CRC32C of each 4 KiB block of it
// once (sums; the last block zero-padded): a chunk server in this process
// records them instead of computing them again (see Local). Over the
// network they are not sent; the server computes its own.
func (c *Client) WriteShardSummed(ctx context.Context, diskID, chunkID string, data []byte, sums []uint32) error {
	return c.writeShard(ctx, diskID, chunkID, data, sums)
}

func (c *Client) writeShard(ctx context.Context, diskID, chunkID string, data []byte, sums []uint32) error {
	const op = "chunkclient.WriteShard"
	if len(data) <= maxStreamPut {
		if err, ok := c.putLocal(ctx, op, diskID, chunkID, data, sums); ok {
			return err
		}
	}
	sum := wire.CRC32C(data)
	if len(data) <= maxStreamPut && wire.ValidID(chunkID) {
		_, release, err := c.streamCall(ctx, op, diskID, wire.OpPut, len(diskID)+len(chunkID), func(b []byte) []byte {
			b = binary.BigEndian.AppendUint32(b, sum)
			return wire.AppendName(wire.AppendName(b, diskID), chunkID)
		}, data)
		if err != errNoStream {
			if err == nil {
				release()
			}
			return err
		}
	}
	crc := wire.FormatCRC(sum)
	hdr := http.Header{
		wire.HeaderCRC: {crc},
		// Rewriting a chunk with the same bytes is harmless: let the
		// transport retry on a keep-alive connection the server closed.
		"Idempotency-Key": {crc},
	}
	resp, cancel, err := c.do(ctx, op, http.MethodPut, diskID, chunkID, "", hdr, data)
	if err != nil {
		return err
	}
	defer cancel()
	drain(resp)
	return nil
}

// RestoreShard gives back a lost copy of chunkID on diskID at generation
// gen, the one its other copies are at: it fails with errs.Exists if the
// disk has the chunk, whatever its generation. It is durable on return.
// Restores are rare (repair): they go over HTTP only.
func (c *Client) RestoreShard(ctx context.Context, diskID, chunkID string, data []byte, gen uint64) error {
	hdr := http.Header{
		wire.HeaderCRC: {wire.FormatCRC(wire.CRC32C(data))},
		wire.HeaderGen: {strconv.FormatUint(gen, 10)},
	}
	resp, cancel, err := c.do(ctx, "chunkclient.RestoreShard", http.MethodPut, diskID, chunkID, "", hdr, data)
	if err != nil {
		return err
	}
	defer cancel()
	drain(resp)
	return nil
}

// ReadShard returns the whole chunk.
func (c *Client) ReadShard(ctx context.Context, diskID, chunkID string) ([]byte, error) {
	return c.read(ctx, "chunkclient.ReadShard", diskID, chunkID, "")
}

// ReadShardRange returns n bytes of the chunk from offset off.
func (c *Client) ReadShardRange(ctx context.Context, diskID, chunkID string, off, n int64) ([]byte, error) {
	q := wire.QueryOffset + "=" + strconv.FormatInt(off, 10) + "&" + wire.QueryLength + "=" + strconv.FormatInt(n, 10)
	return c.read(ctx, "chunkclient.ReadShardRange", diskID, chunkID, q)
}

// DeleteShard removes the chunk; errs.NotFound if it is not there.
func (c *Client) DeleteShard(ctx context.Context, diskID, chunkID string) error {
	resp, cancel, err := c.do(ctx, "chunkclient.DeleteShard", http.MethodDelete, diskID, chunkID, "", nil, nil)
	if err != nil {
		return err
	}
	defer cancel()
	drain(resp)
	return nil
}

// StatShard returns the chunk's length and CRC32C without reading it.
func (c *Client) StatShard(ctx context.Context, diskID, chunkID string) (length int64, crc uint32, err error) {
	const op = "chunkclient.StatShard"
	resp, cancel, err := c.do(ctx, op, http.MethodHead, diskID, chunkID, "", nil, nil)
	if err != nil {
		return 0, 0, err
	}
	defer cancel()
	drain(resp)
	length, err = strconv.ParseInt(resp.Header.Get(wire.HeaderLength), 10, 64)
	if err != nil {
		return 0, 0, errs.E(op, errs.Internal, "bad length header", err)
	}
	if crc, err = wire.ParseCRC(resp.Header.Get(wire.HeaderCRC)); err != nil {
		return 0, 0, errs.E(op, errs.Internal, err)
	}
	return length, crc, nil
}

// read GETs a chunk and checks its CRC32C; bytes damaged in transit are
// fetched once more before the mismatch is reported as errs.Corrupt.
func (c *Client) read(ctx context.Context, op, diskID, chunkID, query string) ([]byte, error) {
	data, transit, err := c.readOnce(ctx, op, diskID, chunkID, query)
	if transit {
		data, _, err = c.readOnce(ctx, op, diskID, chunkID, query)
	}
	return data, err
}

// readOnce reports transit=true when the bytes arrived damaged.
func (c *Client) readOnce(ctx context.Context, op, diskID, chunkID, query string) (data []byte, transit bool, err error) {
	return c.readOnceGen(ctx, op, diskID, chunkID, query, nil)
}

// readOnceGen is readOnce that stores the chunk's generation in *gen
// unless gen is nil.
func (c *Client) readOnceGen(ctx context.Context, op, diskID, chunkID, query string, gen *uint64) (data []byte, transit bool, err error) {
	resp, cancel, err := c.do(ctx, op, http.MethodGet, diskID, chunkID, query, nil, nil)
	if err != nil {
		return nil, false, err
	}
	defer cancel()
	defer resp.Body.Close()
	want, err := wire.ParseCRC(resp.Header.Get(wire.HeaderCRC))
	if err != nil {
		return nil, false, errs.E(op, errs.Internal, "response without a valid CRC", err)
	}
	if gen != nil {
		if *gen, err = strconv.ParseUint(resp.Header.Get(wire.HeaderGen), 10, 64); err != nil {
			return nil, false, errs.E(op, errs.Internal, "response without a valid generation", err)
		}
	}
	if resp.ContentLength >= 0 {
		data = make([]byte, resp.ContentLength)
		_, err = io.ReadFull(resp.Body, data)
	} else {
		data, err = io.ReadAll(resp.Body)
	}
	if err != nil {
		return nil, false, c.transportErr(ctx, op, err)
	}
	if got := wire.CRC32C(data); got != want {
		return nil, true, errs.Errorf(op, errs.Corrupt, "disk %s chunk %s: received CRC32C %s, server sent %s",
			diskID, chunkID, wire.FormatCRC(got), wire.FormatCRC(want))
	}
	return data, false, nil
}

// do sends one request and returns a 2xx response, whose body the caller
// closes before calling cancel; any other status becomes an error of the
// kind the server reported.
func (c *Client) do(ctx context.Context, op, method, diskID, chunkID, query string, hdr http.Header, body []byte) (*http.Response, context.CancelFunc, error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, errs.E(op, errs.Canceled, err)
	}
	if !wire.ValidID(diskID) || !wire.ValidID(chunkID) {
		return nil, nil, errs.Errorf(op, errs.Invalid, "bad disk id %q or chunk id %q", diskID, chunkID)
	}
	return c.send(ctx, op, method, diskID, wire.ChunkPath(diskID, chunkID), "disk "+diskID+" chunk "+chunkID, query, hdr, body)
}

// send is do for any path of diskID's server; what names the target in
// errors.
func (c *Client) send(ctx context.Context, op, method, diskID, path, what, query string, hdr http.Header, body []byte) (*http.Response, context.CancelFunc, error) {
	addr, err := c.resolve(ctx, diskID)
	if err != nil {
		kind := errs.KindOf(err)
		if kind == errs.Other {
			kind = errs.Unavailable
		}
		return nil, nil, errs.E(op, kind, "resolving disk "+diskID, err)
	}
	u := "http://" + addr + path
	if query != "" {
		u += "?" + query
	}
	rctx, cancel := context.WithTimeout(ctx, c.timeout)
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(rctx, method, u, rd)
	if err != nil {
		cancel()
		return nil, nil, errs.E(op, errs.Invalid, err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		cancel()
		return nil, nil, c.transportErr(ctx, op, err)
	}
	if resp.StatusCode/100 != 2 {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		cancel()
		kind := wire.Kind(resp.StatusCode, resp.Header.Get(wire.HeaderKind))
		return nil, nil, errs.E(op, kind, what+": "+string(bytes.TrimSpace(msg)))
	}
	return resp, cancel, nil
}

// transportErr classifies a failure to talk to the server: the caller's
// own cancellation is Canceled, anything else (refused, reset, timed out)
// Unavailable.
func (c *Client) transportErr(ctx context.Context, op string, err error) error {
	if ctx.Err() != nil {
		return errs.E(op, errs.Canceled, ctx.Err())
	}
	return errs.E(op, errs.Unavailable, err)
}

func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	resp.Body.Close()
}
