package chunk_test

import (
	"bytes"
	"context"
	"hash/crc32"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wolke-cloud/wolke/chunk"
	"github.com/wolke-cloud/wolke/chunk/chunkclient"
	"github.com/wolke-cloud/wolke/internal/errs"
)

// deadAddr is a loopback address nothing listens on: a request that made
// it over TCP would fail.
func deadAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// localClient hands stream requests for addr to srv.
func localClient(addr string, srv *chunk.Server) *chunkclient.Client {
	return chunkclient.New(func(context.Context, string) (string, error) { return addr, nil }, chunkclient.Options{
		Timeout: 10 * time.Second,
		Local: func(a string) chunkclient.LocalServer {
			if a == addr {
				return srv
			}
			return nil
		},
	})
}

// TestLocalCalls: a client told the server runs in process writes, patches
// (one range, several, small and large), syncs and reads without any TCP
// connection (its resolver names an address nothing listens on), with
// the server's own checks and metrics.
func TestLocalCalls(t *testing.T) {
	reg := prometheus.NewRegistry()
	srv, cli := localPair(t, reg)
	ctx := context.Background()
	d := srv.Disks()[0].ID

	want := bytes.Repeat([]byte("abcdefgh"), 256<<10/8)
	if err := cli.WriteShard(ctx, d, "k1", want); err != nil {
		t.Fatalf("WriteShard: %v", err)
	}
	p := bytes.Repeat([]byte{7}, 4096)
	gen, epoch, err := cli.PatchShardNoSync(ctx, d, "k1", 8192, p, 0)
	if err != nil || gen != 1 || epoch == 0 {
		t.Fatalf("PatchShardNoSync: gen %d epoch %d: %v", gen, epoch, err)
	}
	copy(want[8192:], p)
	big := bytes.Repeat([]byte{9}, 128<<10) // a pooled, page-aligned request body
	small := bytes.Repeat([]byte{3}, 4096)
	if gen, err = cli.PatchShardRanges(ctx, d, "k1", []int64{0, 64 << 10}, [][]byte{small, big}, 1); err != nil || gen != 2 {
		t.Fatalf("PatchShardRanges: gen %d: %v", gen, err)
	}
	copy(want, small)
	copy(want[64<<10:], big)
	// The store kept no reference to what the patch handed it.
	for i := range big {
		big[i] = 0xee
	}
	small[0] = 0xee
	if _, err := cli.PatchShard(ctx, d, "k1", 0, p, 1); errs.KindOf(err) != errs.Precondition {
		t.Fatalf("stale patch: %v, want Precondition", err)
	}
	if e2, err := cli.SyncDisk(ctx, d); err != nil || e2 != epoch {
		t.Fatalf("SyncDisk: epoch %d want %d: %v", e2, epoch, err)
	}
	got := make([]byte, 100<<10)
	if g, err := cli.ReadShardRangeInto(ctx, d, "k1", 4096, got); err != nil || g != 2 || !bytes.Equal(got, want[4096:4096+len(got)]) {
		t.Fatalf("ReadShardRangeInto: gen %d, equal %v: %v", g, bytes.Equal(got, want[4096:4096+len(got)]), err)
	}
	if b, g, err := cli.ReadShardRangeGen(ctx, d, "k1", 1, 10); err != nil || g != 2 || !bytes.Equal(b, want[1:11]) {
		t.Fatalf("ReadShardRangeGen: %q gen %d: %v", b, g, err)
	}
	if _, err := cli.ReadShardRangeInto(ctx, d, "nope", 0, got[:10]); errs.KindOf(err) != errs.NotFound {
		t.Fatalf("missing chunk: %v, want NotFound", err)
	}
	if _, err := cli.ReadShardRangeInto(ctx, "d-unknown", "k1", 0, got[:10]); errs.KindOf(err) != errs.NotFound {
		t.Fatalf("unknown disk: %v, want NotFound", err)
	}
	// Whole blocks go straight into the buffer (chunk.Server.ReadLocalInto),
	// with the same errors.
	if _, err := cli.ReadShardRangeInto(ctx, d, "nope", 0, got[:4096]); errs.KindOf(err) != errs.NotFound {
		t.Fatalf("missing chunk, whole block: %v, want NotFound", err)
	}
	if _, err := cli.ReadShardRangeInto(ctx, "d-unknown", "k1", 0, got[:4096]); errs.KindOf(err) != errs.NotFound {
		t.Fatalf("unknown disk, whole block: %v, want NotFound", err)
	}
	if _, err := cli.ReadShardRangeInto(ctx, d, "k1", 1<<20, got[:4096]); errs.KindOf(err) != errs.Invalid {
		t.Fatalf("block past the chunk: %v, want Invalid", err)
	}
	// Patches go to the store without a frame (chunk.Server.PatchLocal),
	// with the same errors.
	if _, _, err := cli.PatchShardNoSync(ctx, "d-unknown", "k1", 0, p, 2); errs.KindOf(err) != errs.NotFound {
		t.Fatalf("patch of an unknown disk: %v, want NotFound", err)
	}
	if _, _, err := cli.PatchShardNoSync(ctx, d, "k1", 100, p, 2); errs.KindOf(err) != errs.Invalid {
		t.Fatalf("misaligned patch: %v, want Invalid", err)
	}
	if _, err := cli.PatchShardRanges(ctx, d, "k1", []int64{0, 256 << 10}, [][]byte{p, p}, 2); errs.KindOf(err) != errs.Invalid {
		t.Fatalf("patch past the chunk: %v, want Invalid", err)
	}
	if _, err := cli.PatchShardRanges(ctx, d, "nope", []int64{0}, [][]byte{p}, 0); errs.KindOf(err) != errs.NotFound {
		t.Fatalf("patch of a missing chunk: %v, want NotFound", err)
	}
	if g, err := cli.ReadShardRangeInto(ctx, d, "k1", 0, got); err != nil || g != 2 || !bytes.Equal(got, want[:len(got)]) {
		t.Fatalf("after refused patches: gen %d, equal %v: %v", g, bytes.Equal(got, want[:len(got)]), err)
	}
	// Puts go to the store without a frame (chunk.Server.PutLocal), with
	// the same errors; data aligned in neither memory nor length is fine.
	if err := cli.WriteShard(ctx, "d-unknown", "k2", small); errs.KindOf(err) != errs.NotFound {
		t.Fatalf("put to an unknown disk: %v, want NotFound", err)
	}
	odd := bytes.Repeat([]byte("xyz"), 5000)[1:]
	if err := cli.WriteShard(ctx, d, "k2", odd); err != nil {
		t.Fatalf("unaligned put: %v", err)
	}
	if b, g, err := cli.ReadShardRangeGen(ctx, d, "k2", 0, int64(len(odd))); err != nil || g != 0 || !bytes.Equal(b, odd) {
		t.Fatalf("unaligned put read back: gen %d, equal %v: %v", g, bytes.Equal(b, odd), err)
	}
	if n := cli.LocalCalls(); n != 20 {
		t.Fatalf("%d local calls, want 20", n)
	}
	if n := counterSum(t, reg, "wolke_chunk_read_bytes_total"); n != float64(2*len(got)+10+len(odd)) {
		t.Fatalf("read bytes metric %v, want %d", n, 2*len(got)+10+len(odd))
	}
	if n := counterSum(t, reg, "wolke_chunk_written_bytes_total"); n < float64(len(want)+len(odd)) {
		t.Fatalf("written bytes metric %v, want at least %d", n, len(want)+len(odd))
	}
}

// localPair starts a chunk server with one disk and a client that hands
// it requests in process; both close when the test ends.
func localPair(t *testing.T, reg *prometheus.Registry) (*chunk.Server, *chunkclient.Client) {
	t.Helper()
	srv, err := chunk.New(chunk.Config{ID: "s1", Zone: "z1", ClusterID: cluster, Disks: diskConfigs(t.TempDir(), 1)}, chunk.Deps{Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	cli := localClient(deadAddr(t), srv)
	t.Cleanup(func() { cli.Close() })
	return srv, cli
}

// TestLocalSummedPatch: block CRC32Cs the caller computed once for every
// replica reach the store in process and are what it records: right ones
// read back, a wrong one makes its block fail its checksum.
func TestLocalSummedPatch(t *testing.T) {
	srv, cli := localPair(t, prometheus.NewRegistry())
	ctx := context.Background()
	d := srv.Disks()[0].ID
	if !cli.Local(ctx, d) {
		t.Fatal("Local is false for a disk of a server in this process")
	}
	elsewhere := chunkclient.New(func(context.Context, string) (string, error) { return deadAddr(t), nil },
		chunkclient.Options{Local: func(string) chunkclient.LocalServer { return nil }})
	if elsewhere.Local(ctx, d) || chunkclient.New(nil, chunkclient.Options{}).Local(ctx, d) {
		t.Fatal("Local is true for a disk whose server is elsewhere")
	}
	want := bytes.Repeat([]byte("12345678"), 64<<10/8)
	if err := cli.WriteShard(ctx, d, "k", want); err != nil {
		t.Fatal(err)
	}
	sums := func(b []byte) []uint32 {
		var out []uint32
		for o := 0; o < len(b); o += 4096 {
			out = append(out, crc32.Checksum(b[o:o+4096], crc32.MakeTable(crc32.Castagnoli)))
		}
		return out
	}
	a, b := bytes.Repeat([]byte{1}, 8192), bytes.Repeat([]byte{2}, 4096)
	gen, _, err := cli.PatchShardRangesSummedNoSync(ctx, d, "k", []int64{0, 16384}, [][]byte{a, b}, [][]uint32{sums(a), sums(b)}, 0)
	if err != nil || gen != 1 {
		t.Fatalf("PatchShardRangesSummedNoSync: gen %d: %v", gen, err)
	}
	copy(want, a)
	copy(want[16384:], b)
	got := make([]byte, len(want))
	if g, err := cli.ReadShardRangeInto(ctx, d, "k", 0, got); err != nil || g != 1 || !bytes.Equal(got, want) {
		t.Fatalf("read after the patch: gen %d, equal %v: %v", g, bytes.Equal(got, want), err)
	}
	wrong := []uint32{sums(b)[0] ^ 1}
	if _, _, err := cli.PatchShardRangesSummedNoSync(ctx, d, "k", []int64{32768}, [][]byte{b}, [][]uint32{wrong}, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.ReadShardRangeInto(ctx, d, "k", 32768, got[:4096]); errs.KindOf(err) != errs.Corrupt {
		t.Fatalf("block patched with a wrong CRC: %v, want Corrupt", err)
	}
}

// TestLocalSummedPut: a put's block CRC32Cs, computed once for every
// replica, reach the store in process and are what it records; sums of
// the wrong count are not used.
func TestLocalSummedPut(t *testing.T) {
	srv, cli := localPair(t, prometheus.NewRegistry())
	ctx := context.Background()
	d := srv.Disks()[0].ID
	data := bytes.Repeat([]byte("abcdefgh"), 5*4096/8)
	sums := make([]uint32, 5)
	for i := range sums {
		sums[i] = crc32.Checksum(data[i*4096:(i+1)*4096], crc32.MakeTable(crc32.Castagnoli))
	}
	if err := cli.WriteShardSummed(ctx, d, "right", data, sums); err != nil {
		t.Fatal(err)
	}
	if err := cli.WriteShardSummed(ctx, d, "short", data, sums[:4]); err != nil {
		t.Fatal(err)
	}
	wrong := slices.Clone(sums)
	wrong[2] ^= 1
	if err := cli.WriteShardSummed(ctx, d, "wrong", data, wrong); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"right", "short"} {
		b := make([]byte, len(data))
		if _, err := cli.ReadShardRangeInto(ctx, d, id, 0, b); err != nil || !bytes.Equal(b, data) {
			t.Fatalf("%s: equal %v: %v", id, bytes.Equal(b, data), err)
		}
	}
	got := make([]byte, 4096)
	if _, err := cli.ReadShardRangeInto(ctx, d, "wrong", 4096, got); err != nil || !bytes.Equal(got, data[4096:8192]) {
		t.Fatalf("block with its right CRC: %v", err)
	}
	if _, err := cli.ReadShardRangeInto(ctx, d, "wrong", 8192, got); errs.KindOf(err) != errs.Corrupt {
		t.Fatalf("block put with a wrong CRC: %v, want Corrupt", err)
	}
}

func counterSum(t *testing.T, reg *prometheus.Registry, name string) float64 {
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				sum += m.GetCounter().GetValue()
			}
		}
	}
	return sum
}

// TestLocalStoppedServer: once a server stops serving, a client handing it
// requests in process fails them as Unavailable, as a client talking to
// it over TCP does (callers fail over to other replicas on that kind).
func TestLocalStoppedServer(t *testing.T) {
	srv, err := chunk.New(chunk.Config{ID: "s1", Zone: "z1", ClusterID: cluster, Disks: diskConfigs(t.TempDir(), 1)}, chunk.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, ln) }()
	tcp := chunkclient.New(func(context.Context, string) (string, error) { return addr, nil }, chunkclient.Options{Timeout: 5 * time.Second})
	defer tcp.Close()
	local := localClient(addr, srv)
	defer local.Close()
	bg := context.Background()
	d := srv.Disks()[0].ID
	if err := tcp.WriteShard(bg, d, "k1", make([]byte, 8192)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	for _, c := range []*chunkclient.Client{tcp, local} {
		if _, err := c.ReadShardRangeInto(bg, d, "k1", 0, buf); err != nil {
			t.Fatalf("read before stop: %v", err)
		}
	}
	cancel()
	if err := <-served; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	check := func(when string) {
		t.Helper()
		for name, c := range map[string]*chunkclient.Client{"tcp": tcp, "local": local} {
			if _, err := c.ReadShardRangeInto(bg, d, "k1", 0, buf); errs.KindOf(err) != errs.Unavailable {
				t.Errorf("%s: %s read: %v, want Unavailable", when, name, err)
			}
			if _, _, err := c.PatchShardNoSync(bg, d, "k1", 0, buf, 0); errs.KindOf(err) != errs.Unavailable {
				t.Errorf("%s: %s patch: %v, want Unavailable", when, name, err)
			}
			if _, err := c.SyncDisk(bg, d); errs.KindOf(err) != errs.Unavailable {
				t.Errorf("%s: %s sync: %v, want Unavailable", when, name, err)
			}
		}
	}
	check("stopped")
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	check("closed")
	if n := local.LocalCalls(); n != 7 {
		t.Fatalf("%d local calls, want 7", n)
	}
}
