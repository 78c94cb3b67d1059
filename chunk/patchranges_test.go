package chunk_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wolke-cloud/wolke/chunk"
	"github.com/wolke-cloud/wolke/chunk/chunkclient"
	"github.com/wolke-cloud/wolke/internal/errs"
)

// rangesPatcher is the part of the client the multi-range tests drive.
type rangesPatcher interface {
	PatchShardRangesNoSync(ctx context.Context, diskID, chunkID string, offs []int64, data [][]byte, base uint64) (gen, epoch uint64, err error)
	PatchShardRanges(ctx context.Context, diskID, chunkID string, offs []int64, data [][]byte, base uint64) (uint64, error)
	ReadShardRangeGen(ctx context.Context, diskID, chunkID string, off, n int64) ([]byte, uint64, error)
	SyncDisk(ctx context.Context, diskID string) (uint64, error)
	WriteShard(ctx context.Context, diskID, chunkID string, data []byte) error
}

// checkPatchRanges patches ranges of one chunk through cli, unsynced and
// synced, and checks the bytes, generations and refusals.
func checkPatchRanges(t *testing.T, cli rangesPatcher, d string) {
	t.Helper()
	ctx := context.Background()
	want := bytes.Repeat([]byte{1}, 256<<10)
	if err := cli.WriteShard(ctx, d, "x", want); err != nil {
		t.Fatal(err)
	}
	want = bytes.Clone(want)
	apply := func(offs []int64, data [][]byte) {
		for i, off := range offs {
			copy(want[off:], data[i])
		}
	}
	offs := []int64{0, 3 << 12, 6 << 12, 20 << 12, 63 << 12}
	data := make([][]byte, len(offs))
	for i := range data {
		data[i] = bytes.Repeat([]byte{byte(10 + i)}, (1+i%2)*4096)
	}
	data[4] = data[4][:4096]
	gen, epoch, err := cli.PatchShardRangesNoSync(ctx, d, "x", offs, data, 0)
	if err != nil || gen != 1 || epoch == 0 {
		t.Fatalf("PatchShardRangesNoSync: gen %d epoch %d: %v", gen, epoch, err)
	}
	apply(offs, data)
	if got, g, err := cli.ReadShardRangeGen(ctx, d, "x", 0, int64(len(want))); err != nil || g != 1 || !bytes.Equal(got, want) {
		t.Fatalf("read after the patch: gen %d, equal %v: %v", g, bytes.Equal(got, want), err)
	}
	offs2, data2 := []int64{8 << 12, 9 << 12}, [][]byte{bytes.Repeat([]byte{7}, 4096), bytes.Repeat([]byte{8}, 4096)}
	if g, err := cli.PatchShardRanges(ctx, d, "x", offs2, data2, 1); err != nil || g != 2 {
		t.Fatalf("PatchShardRanges: gen %d: %v", g, err)
	}
	apply(offs2, data2)
	if e, err := cli.SyncDisk(ctx, d); err != nil || e != epoch {
		t.Fatalf("sync: epoch %d want %d: %v", e, epoch, err)
	}
	// Refusals change nothing.
	if _, _, err := cli.PatchShardRangesNoSync(ctx, d, "x", offs2, data2, 1); !errs.Is(err, errs.Precondition) {
		t.Errorf("stale base: %v, want Precondition", err)
	}
	if _, _, err := cli.PatchShardRangesNoSync(ctx, d, "x", []int64{9 << 12, 8 << 12}, data2, 2); !errs.Is(err, errs.Invalid) {
		t.Errorf("unsorted ranges: %v, want Invalid", err)
	}
	if _, _, err := cli.PatchShardRangesNoSync(ctx, d, "x", []int64{0, 1 << 20}, data2, 2); !errs.Is(err, errs.Invalid) {
		t.Errorf("range outside the chunk: %v, want Invalid", err)
	}
	if _, _, err := cli.PatchShardRangesNoSync(ctx, d, "x", offs2, data2[:1], 2); !errs.Is(err, errs.Invalid) {
		t.Errorf("offsets and data of different counts: %v, want Invalid", err)
	}
	if _, _, err := cli.PatchShardRangesNoSync(ctx, "no-such-disk", "x", offs2, data2, 2); !errs.Is(err, errs.NotFound) {
		t.Errorf("unknown disk: %v, want NotFound", err)
	}
	if got, g, err := cli.ReadShardRangeGen(ctx, d, "x", 0, int64(len(want))); err != nil || g != 2 || !bytes.Equal(got, want) {
		t.Fatalf("read at the end: gen %d, equal %v: %v", g, bytes.Equal(got, want), err)
	}
}

// TestPatchRangesStream: multi-range patches over the client's stream.
func TestPatchRangesStream(t *testing.T) {
	h := start(t, chunk.Config{ID: "s1", Zone: "z1", ClusterID: cluster, Disks: diskConfigs(t.TempDir(), 1)})
	checkPatchRanges(t, h.cli, h.srv.Disks()[0].ID)
}

// TestPatchRangesHTTP: the same where the server refuses the stream.
func TestPatchRangesHTTP(t *testing.T) {
	h := start(t, chunk.Config{ID: "s1", Zone: "z1", ClusterID: cluster, Disks: diskConfigs(t.TempDir(), 1)})
	cli, refusals := noStreamClient(t, h)
	checkPatchRanges(t, cli, h.srv.Disks()[0].ID)
	if refusals() == 0 {
		t.Fatal("the client never asked for the stream: the test did not test the fallback")
	}
}

// noStreamClient returns a client of h's server behind a proxy that
// refuses the stream upgrade, and a function counting the refusals.
func noStreamClient(t *testing.T, h *harness) (*chunkclient.Client, func() int) {
	var refused atomic.Int32
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/v1/stream") {
			refused.Add(1)
			http.NotFound(w, r)
			return
		}
		h.srv.Handler().ServeHTTP(w, r)
	}))
	t.Cleanup(ts.Close)
	cli := chunkclient.New(func(context.Context, string) (string, error) {
		return strings.TrimPrefix(ts.URL, "http://"), nil
	}, chunkclient.Options{Timeout: 10 * time.Second})
	t.Cleanup(cli.Close)
	return cli, func() int { return int(refused.Load()) }
}

// upgrade dials addr and switches the connection to the stream protocol.
func upgrade(t *testing.T, addr string) (net.Conn, *bufio.Reader) {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = nc.Close() })
	_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(nc, "GET /v1/stream HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: wolke-chunk-stream/1\r\n\r\n")
	br := bufio.NewReader(nc)
	if resp, err := http.ReadResponse(br, nil); err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %v %v", resp, err)
	}
	return nc, br
}

// TestPatchRangesBadCRC: the server checks each range against its
// CRC32C and refuses the whole patch if one fails.
func TestPatchRangesBadCRC(t *testing.T) {
	h := start(t, chunk.Config{ID: "s1", Zone: "z1", ClusterID: cluster, Disks: diskConfigs(t.TempDir(), 1)})
	ctx := context.Background()
	d := h.srv.Disks()[0].ID
	orig := bytes.Repeat([]byte{1}, 64<<10)
	if err := h.cli.WriteShard(ctx, d, "x", orig); err != nil {
		t.Fatal(err)
	}
	nc, br := upgrade(t, h.addr)
	name := func(b []byte, s string) []byte { return append(binary.BigEndian.AppendUint16(b, uint16(len(s))), s...) }
	p1, p2 := bytes.Repeat([]byte{2}, 4096), bytes.Repeat([]byte{3}, 4096)
	body := []byte{1}                             // FlagNoSync
	body = binary.BigEndian.AppendUint64(body, 0) // base
	body = binary.BigEndian.AppendUint16(body, 2)
	body = name(name(body, d), "x")
	for i, p := range [][]byte{p1, p2} {
		body = binary.BigEndian.AppendUint64(body, uint64(i)*2*4096)
		body = binary.BigEndian.AppendUint32(body, 4096)
		body = binary.BigEndian.AppendUint32(body, crc32c(p)+uint32(i)) // the second is wrong
	}
	body = append(append(body, p1...), p2...)
	frame := binary.BigEndian.AppendUint32(nil, uint32(9+len(body)))
	frame = binary.BigEndian.AppendUint64(append(frame, 5), 42)
	if _, err := nc.Write(append(frame, body...)); err != nil {
		t.Fatal(err)
	}
	var hdr [13]byte
	if _, err := io.ReadFull(br, hdr[:]); err != nil {
		t.Fatal(err)
	}
	if kind := errs.Kind(hdr[4] - 1); hdr[4] == 0 || kind != errs.Invalid || binary.BigEndian.Uint64(hdr[5:]) != 42 {
		t.Fatalf("answer status %d (kind %v) id %d, want Invalid for 42", hdr[4], kind, binary.BigEndian.Uint64(hdr[5:]))
	}
	if got, g, err := h.cli.ReadShardRangeGen(ctx, d, "x", 0, int64(len(orig))); err != nil || g != 0 || !bytes.Equal(got, orig) {
		t.Fatalf("after the refused patch: gen %d, equal %v: %v", g, bytes.Equal(got, orig), err)
	}
}

// BenchmarkClientPatch16 writes back 16 dirty 4 KiB blocks of a 1 MiB
// chunk over the client's stream, unsynced: 16 PatchShardNoSync calls one
// after the other ("single") or one PatchShardRangesNoSync ("ranges").
func BenchmarkClientPatch16(b *testing.B) {
	for _, mode := range []string{"single", "ranges"} {
		b.Run(mode, func(b *testing.B) {
			h := start(b, chunk.Config{ID: "bench", ClusterID: cluster,
				Disks: []chunk.DiskConfig{{Path: b.TempDir() + "/disk", Size: 128 << 20}}})
			d := h.srv.Disks()[0].ID
			ctx := context.Background()
			const chunks = 32
			gens := make([]uint64, chunks)
			for i := range chunks {
				if err := h.cli.WriteShard(ctx, d, fmt.Sprint("c", i), make([]byte, 1<<20)); err != nil {
					b.Fatal(err)
				}
			}
			p := make([]byte, 4096)
			offs, data := make([]int64, 16), make([][]byte, 16)
			b.SetBytes(16 * 4096)
			b.ReportAllocs()
			for n := 0; b.Loop(); n++ {
				c := n % chunks
				for i := range offs { // one block in each 64 KiB
					offs[i], data[i] = int64(i*16+(n*7+i)%16)*4096, p
				}
				if mode == "ranges" {
					g, _, err := h.cli.PatchShardRangesNoSync(ctx, d, fmt.Sprint("c", c), offs, data, gens[c])
					if err != nil {
						b.Fatal(err)
					}
					gens[c] = g
					continue
				}
				for i, off := range offs {
					g, _, err := h.cli.PatchShardNoSync(ctx, d, fmt.Sprint("c", c), off, data[i], gens[c])
					if err != nil {
						b.Fatal(err)
					}
					gens[c] = g
				}
			}
		})
	}
}
