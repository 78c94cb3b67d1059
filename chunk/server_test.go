package chunk_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wolke-cloud/wolke/chunk"
	"github.com/wolke-cloud/wolke/chunk/chunkclient"
	"github.com/wolke-cloud/wolke/internal/errs"
)

const cluster = "test-cluster"

type harness struct {
	srv  *chunk.Server
	addr string
	reg  *prometheus.Registry
	cli  *chunkclient.Client
}

func diskConfigs(dir string, n int) []chunk.DiskConfig {
	var ds []chunk.DiskConfig
	for i := range n {
		ds = append(ds, chunk.DiskConfig{Path: filepath.Join(dir, fmt.Sprintf("disk%d", i)), Size: 8 << 20})
	}
	return ds
}

// start runs a server on 127.0.0.1:0 until the test ends.
func start(t testing.TB, cfg chunk.Config) *harness {
	t.Helper()
	return startWith(t, cfg, chunk.Deps{})
}

// startWith is start with deps (a registry of the harness's own).
func startWith(t testing.TB, cfg chunk.Config, deps chunk.Deps) *harness {
	t.Helper()
	reg := prometheus.NewRegistry()
	deps.Registry = reg
	srv, err := chunk.New(cfg, deps)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, ln) }()
	h := &harness{srv: srv, addr: ln.Addr().String(), reg: reg}
	h.cli = chunkclient.New(func(ctx context.Context, diskID string) (string, error) {
		return h.addr, nil
	}, chunkclient.Options{Timeout: 10 * time.Second})
	t.Cleanup(func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
		h.cli.Close()
		if err := srv.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return h
}

func TestRoundTrip(t *testing.T) {
	h := start(t, chunk.Config{ID: "s1", Zone: "z1", ClusterID: cluster, Disks: diskConfigs(t.TempDir(), 2)})
	ctx := context.Background()
	disks := h.srv.Disks()
	if len(disks) != 2 || disks[0].ID == disks[1].ID {
		t.Fatalf("Disks = %+v", disks)
	}
	for _, d := range disks {
		if !d.Fresh || d.Zone != "z1" || d.Capacity <= 0 || d.Used != 0 || d.Replaced != "" {
			t.Fatalf("fresh disk = %+v", d)
		}
	}
	data := bytes.Repeat([]byte("0123456789abcdef"), 70000) // 1.1 MB
	for _, d := range disks {
		if err := h.cli.WriteShard(ctx, d.ID, "stripe.0", data); err != nil {
			t.Fatalf("WriteShard: %v", err)
		}
	}
	for _, d := range disks {
		got, err := h.cli.ReadShard(ctx, d.ID, "stripe.0")
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("ReadShard: %d bytes, %v", len(got), err)
		}
		got, err = h.cli.ReadShardRange(ctx, d.ID, "stripe.0", 5000, 10000)
		if err != nil || !bytes.Equal(got, data[5000:15000]) {
			t.Fatalf("ReadShardRange: %v", err)
		}
		n, crc, err := h.cli.StatShard(ctx, d.ID, "stripe.0")
		if err != nil || n != int64(len(data)) || crc == 0 {
			t.Fatalf("StatShard = %d, %x, %v", n, crc, err)
		}
	}
	if used := h.srv.Disks()[0].Used; used < int64(len(data)) {
		t.Fatalf("Used = %d after a write of %d", used, len(data))
	}
	cases := []struct {
		name string
		err  error
		kind errs.Kind
	}{
		{"missing chunk", func() error { _, err := h.cli.ReadShard(ctx, disks[0].ID, "nope"); return err }(), errs.NotFound},
		{"unknown disk", func() error { _, err := h.cli.ReadShard(ctx, "no-such-disk", "stripe.0"); return err }(), errs.NotFound},
		{"bad range", func() error {
			_, err := h.cli.ReadShardRange(ctx, disks[0].ID, "stripe.0", int64(len(data)), 1)
			return err
		}(), errs.Invalid},
		{"delete missing", h.cli.DeleteShard(ctx, disks[0].ID, "nope"), errs.NotFound},
		{"bad chunk id", h.cli.WriteShard(ctx, disks[0].ID, "..", []byte("x")), errs.Invalid},
	}
	for _, c := range cases {
		if !errs.Is(c.err, c.kind) {
			t.Errorf("%s: err = %v, want %v", c.name, c.err, c.kind)
		}
	}
	if err := h.cli.DeleteShard(ctx, disks[0].ID, "stripe.0"); err != nil {
		t.Fatal(err)
	}
	if _, err := h.cli.ReadShard(ctx, disks[0].ID, "stripe.0"); !errs.Is(err, errs.NotFound) {
		t.Fatalf("read after delete = %v, want NotFound", err)
	}
	if used := h.srv.Disks()[0].Used; used != 0 {
		t.Fatalf("Used = %d after delete", used)
	}
}

func TestParallelWrites(t *testing.T) {
	h := start(t, chunk.Config{ID: "s1", ClusterID: cluster, Disks: diskConfigs(t.TempDir(), 1)})
	id := h.srv.Disks()[0].ID
	ctx := context.Background()
	var wg sync.WaitGroup
	errc := make(chan error, 32)
	for i := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			data := bytes.Repeat([]byte{byte(i)}, 50000+i)
			if err := h.cli.WriteShard(ctx, id, fmt.Sprintf("c.%d", i), data); err != nil {
				errc <- err
				return
			}
			got, err := h.cli.ReadShard(ctx, id, fmt.Sprintf("c.%d", i))
			if err != nil || !bytes.Equal(got, data) {
				errc <- fmt.Errorf("chunk %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
}

// TestCRCMismatchRefused: a PUT whose body does not match its CRC header is
// refused with 400 and stores nothing.
func TestCRCMismatchRefused(t *testing.T) {
	h := start(t, chunk.Config{ID: "s1", ClusterID: cluster, Disks: diskConfigs(t.TempDir(), 1)})
	id := h.srv.Disks()[0].ID
	url := "http://" + h.addr + "/v1/disks/" + id + "/chunks/c1"
	cases := []struct {
		name, crc string
	}{
		{"wrong crc", "00000000"},
		{"missing crc", ""},
		{"garbage crc", "hello!!!"},
	}
	for _, c := range cases {
		req, _ := http.NewRequest(http.MethodPut, url, strings.NewReader("some shard bytes"))
		if c.crc != "" {
			req.Header.Set("X-Wolke-Crc32c", c.crc)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("X-Wolke-Error-Kind") != fmt.Sprint(int(errs.Invalid)) {
			t.Errorf("%s: status %d kind %q, want 400 and kind invalid", c.name, resp.StatusCode, resp.Header.Get("X-Wolke-Error-Kind"))
		}
	}
	if _, err := h.cli.ReadShard(context.Background(), id, "c1"); !errs.Is(err, errs.NotFound) {
		t.Fatalf("after refused PUTs: %v, want NotFound", err)
	}
	if used := h.srv.Disks()[0].Used; used != 0 {
		t.Fatalf("Used = %d after refused PUTs", used)
	}
}

func TestListingHealthAndDisks(t *testing.T) {
	h := start(t, chunk.Config{ID: "s1", ClusterID: cluster, Disks: diskConfigs(t.TempDir(), 1)})
	id := h.srv.Disks()[0].ID
	for _, c := range []string{"a.0", "a.1", "b.0"} {
		if err := h.cli.WriteShard(context.Background(), id, c, []byte(c)); err != nil {
			t.Fatal(err)
		}
	}
	var list []chunk.ChunkInfo
	getJSON(t, "http://"+h.addr+"/v1/disks/"+id+"/chunks?prefix=a.&limit=10", &list)
	if len(list) != 2 || list[0].ID != "a.0" || list[1].ID != "a.1" || list[0].Length != 3 {
		t.Fatalf("listing = %+v", list)
	}
	var disks []chunk.DiskInfo
	getJSON(t, "http://"+h.addr+"/v1/disks", &disks)
	if len(disks) != 1 || disks[0].ID != id || disks[0].Used == 0 {
		t.Fatalf("disks = %+v", disks)
	}
	resp, err := http.Get("http://" + h.addr + "/v1/health")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("health = %d", resp.StatusCode)
	}
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d", url, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

// TestCorruptionCounted: a block damaged on disk is reported as Corrupt
// through the client and counted in wolke_chunk_checksum_errors_total.
func TestCorruptionCounted(t *testing.T) {
	dir := t.TempDir()
	h := start(t, chunk.Config{ID: "s1", ClusterID: cluster, Disks: diskConfigs(dir, 1)})
	id := h.srv.Disks()[0].ID
	ctx := context.Background()
	data := bytes.Repeat([]byte("x"), 20000)
	if err := h.cli.WriteShard(ctx, id, "victim", data); err != nil {
		t.Fatal(err)
	}
	// The first chunk on a fresh disk starts right after the superblock.
	raw, err := os.OpenFile(filepath.Join(dir, "disk0"), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.WriteAt([]byte("y"), 4096+5000); err != nil {
		t.Fatal(err)
	}
	_ = raw.Sync()
	_ = raw.Close()
	if _, err := h.cli.ReadShard(ctx, id, "victim"); !errs.Is(err, errs.Corrupt) {
		t.Fatalf("ReadShard of a damaged chunk = %v, want Corrupt", err)
	}
	if got := metricValue(t, h.reg, "wolke_chunk_checksum_errors_total", map[string]string{"disk": id, "server": "s1"}); got != 1 {
		t.Fatalf("checksum errors = %v, want 1", got)
	}
	if got := metricValue(t, h.reg, "wolke_chunk_ops_total", map[string]string{"disk": id, "op": "get", "result": "corrupt"}); got != 1 {
		t.Fatalf("corrupt gets = %v, want 1", got)
	}
	if got := metricValue(t, h.reg, "wolke_chunk_written_bytes_total", map[string]string{"disk": id}); got != float64(len(data)) {
		t.Fatalf("written bytes = %v, want %d", got, len(data))
	}
}

// metricValue finds the counter or gauge name whose labels include want.
func metricValue(t *testing.T, reg *prometheus.Registry, name string, want map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metrics:
		for _, m := range mf.GetMetric() {
			have := map[string]string{}
			for _, l := range m.GetLabel() {
				have[l.GetName()] = l.GetValue()
			}
			for k, v := range want {
				if have[k] != v {
					continue metrics
				}
			}
			if m.Counter != nil {
				return m.GetCounter().GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	t.Fatalf("no metric %s%v", name, want)
	return 0
}
