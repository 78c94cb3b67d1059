package nbd_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wolke-cloud/wolke/block/nbd"
	"github.com/wolke-cloud/wolke/block/nbd/nbdtest"
	"github.com/wolke-cloud/wolke/internal/freeport"
)

// TestFioMemory measures the server's own per-request cost: fio's libnbd
// engine runs bench/fio/nbd.fio against a flat memory export served by
// this package (and, with WOLKE_NBD_FIO_NBDKIT=1, against `nbdkit memory`
// for comparison). Opt-in: WOLKE_NBD_FIO=1. Knobs: FIO_SIZE (1g),
// FIO_RUNTIME (4), WOLKE_NBD_FIO_JOBS (comma-separated sections),
// WOLKE_NBD_WORKERS, WOLKE_NBD_PROF (CPU profile file of our run).
//
//	WOLKE_NBD_FIO=1 WOLKE_NBD_FIO_NBDKIT=1 go test -count=1 -v -run TestFioMemory ./block/nbd/
func TestFioMemory(t *testing.T) {
	if os.Getenv("WOLKE_NBD_FIO") != "1" {
		t.Skip("set WOLKE_NBD_FIO=1 to run fio against the server")
	}
	if _, err := exec.LookPath("fio"); err != nil {
		t.Skip("fio not installed")
	}
	jobs := []string{"seqwrite-1m-qd8", "randwrite-4k-qd1", "randwrite-4k-qd32",
		"randread-4k-qd1", "randread-4k-qd32", "seqread-1m-qd8"}
	if j := os.Getenv("WOLKE_NBD_FIO_JOBS"); j != "" {
		jobs = strings.Split(j, ",")
	}
	size := envOr("FIO_SIZE", "1g")
	runtime := envOr("FIO_RUNTIME", "4")
	bytes, err := parseSize(size)
	if err != nil {
		t.Fatal(err)
	}

	results := map[string]map[string]fioResult{}
	if os.Getenv("WOLKE_NBD_FIO_NBDKIT") == "1" {
		if _, err := exec.LookPath("nbdkit"); err != nil {
			t.Skip("nbdkit not installed")
		}
		port := freePort(t)
		ctx, cancel := context.WithCancel(context.Background())
		kit := exec.CommandContext(ctx, "nbdkit", "-f", "-i", "127.0.0.1", "-p", strconv.Itoa(port),
			"memory", strconv.FormatInt(bytes, 10))
		if err := kit.Start(); err != nil {
			cancel()
			t.Fatal(err)
		}
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		waitListening(t, addr)
		results["nbdkit"] = runFio(t, "nbd://"+addr+"/", size, runtime, jobs)
		cancel()
		_ = kit.Wait()
	}

	cfg := nbd.Config{}
	if w := os.Getenv("WOLKE_NBD_WORKERS"); w != "" {
		cfg.Workers, _ = strconv.Atoi(w)
	}
	x := nbdtest.NewExports()
	x.Add(nbd.ExportInfo{Name: "export"}, &flatMem{b: make([]byte, bytes)})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := nbd.New(cfg, nbd.Deps{Exports: x})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	defer func() {
		cancel()
		_ = srv.Close()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()
	if p := os.Getenv("WOLKE_NBD_PROF"); p != "" {
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			t.Fatal(err)
		}
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}
	results["wolke"] = runFio(t, "nbd://"+ln.Addr().String()+"/export", size, runtime, jobs)

	t.Logf("%-20s %14s %14s", "job", "nbdkit", "wolke")
	for _, j := range jobs {
		t.Logf("%-20s %14s %14s", j, results["nbdkit"][j], results["wolke"][j])
	}
}

type fioResult struct {
	iops, mibs float64
	big        bool // 1 MiB requests: bandwidth matters, not IOPS
}

func (r fioResult) String() string {
	if r.iops == 0 {
		return "-"
	}
	if r.big {
		return fmt.Sprintf("%.0f MiB/s", r.mibs)
	}
	return fmt.Sprintf("%.0f IOPS", r.iops)
}

func runFio(t *testing.T, uri, size, runtime string, jobs []string) map[string]fioResult {
	t.Helper()
	args := []string{"--output-format=json"}
	for _, j := range jobs {
		args = append(args, "--section="+j)
	}
	args = append(args, filepath.Join("..", "..", "bench", "fio", "nbd.fio"))
	cmd := exec.Command("fio", args...)
	cmd.Env = append(os.Environ(), "NBD_URI="+uri, "FIO_SIZE="+size, "FIO_RUNTIME="+runtime)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("fio against %s: %v\n%s", uri, err, out)
	}
	if i := strings.IndexByte(string(out), '{'); i > 0 {
		out = out[i:] // fio prints notes before the JSON
	}
	var rep struct {
		Jobs []struct {
			Name  string `json:"jobname"`
			Error int    `json:"error"`
			Read  struct {
				IOPS float64 `json:"iops"`
				BW   float64 `json:"bw"` // KiB/s
			} `json:"read"`
			Write struct {
				IOPS float64 `json:"iops"`
				BW   float64 `json:"bw"`
			} `json:"write"`
		} `json:"jobs"`
	}
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatalf("fio output: %v\n%s", err, out)
	}
	res := map[string]fioResult{}
	for _, j := range rep.Jobs {
		if j.Error != 0 {
			t.Fatalf("fio job %s failed: error %d", j.Name, j.Error)
		}
		r := fioResult{iops: j.Read.IOPS + j.Write.IOPS, mibs: (j.Read.BW + j.Write.BW) / 1024,
			big: strings.Contains(j.Name, "-1m-")}
		res[j.Name] = r
		t.Logf("%s %s: %s", uri, j.Name, r)
	}
	if len(res) != len(jobs) {
		t.Fatalf("fio reported %d jobs, want %d", len(res), len(jobs))
	}
	return res
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func parseSize(s string) (int64, error) {
	mult := int64(1)
	switch {
	case strings.HasSuffix(s, "g"):
		mult, s = 1<<30, strings.TrimSuffix(s, "g")
	case strings.HasSuffix(s, "m"):
		mult, s = 1<<20, strings.TrimSuffix(s, "m")
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n * mult, err
}

// freePort is a free TCP port on 127.0.0.1 below the kernel's ephemeral
// range, reserved for the rest of the test (internal/freeport).
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := freeport.Listen("127.0.0.1", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func waitListening(t *testing.T, addr string) {
	t.Helper()
	for range 100 {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s never listened", addr)
}

// flatMem is a memory export over one slice, as cheap as an export gets.
type flatMem struct {
	mu sync.RWMutex
	b  []byte
}

func (m *flatMem) Size() int64 { return int64(len(m.b)) }

func (m *flatMem) ReadAt(_ context.Context, p []byte, off int64) error {
	m.mu.RLock()
	copy(p, m.b[off:])
	m.mu.RUnlock()
	return nil
}

func (m *flatMem) WriteAt(_ context.Context, p []byte, off int64, _ bool) error {
	m.mu.Lock()
	copy(m.b[off:], p)
	m.mu.Unlock()
	return nil
}

func (m *flatMem) Flush(context.Context) error { return nil }

func (m *flatMem) Trim(ctx context.Context, off, n int64) error { return m.Zero(ctx, off, n, false) }

func (m *flatMem) Zero(_ context.Context, off, n int64, _ bool) error {
	m.mu.Lock()
	clear(m.b[off : off+n])
	m.mu.Unlock()
	return nil
}

func (m *flatMem) BlockStatus(_ context.Context, _, n int64) ([]nbd.Extent, error) {
	return []nbd.Extent{{Length: n}}, nil
}

func (m *flatMem) Close() error { return nil }
