// Tests of `wolke bench` (cmd/wolke/bench.go, bench_core.go).

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wolke-cloud/wolke/bench/report"
	"github.com/wolke-cloud/wolke/bench/s3load"
	"github.com/wolke-cloud/wolke/bench/s3load/s3loadtest"
)

// runBench runs `wolke bench ARGS...` and returns stdout, stderr and the error.
func runBench(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	cmd := benchCmd()
	var out, errOut bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetArgs(args)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	err := cmd.ExecuteContext(context.Background())
	return out.String(), errOut.String(), err
}

func TestBenchS3FlagErrors(t *testing.T) {
	ok := []string{"--endpoint", "http://127.0.0.1:1", "--access-key", "a", "--secret-key", "b"}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"s3"}, "accepts 1 arg(s)"},
		{append([]string{"s3", "copy"}, ok...), `unknown operation "copy": want one of put, get, mixed`},
		{append([]string{"s3", "put", "--obj.size", "huge"}, ok...), `invalid argument "huge" for "--obj.size" flag: "huge" is not a size`},
		{append([]string{"s3", "put", "--part.size", "0"}, ok...), `"--part.size"`},
		{append([]string{"s3", "put", "--duration", "soon"}, ok...), `"--duration"`},
		{[]string{"s3", "put"}, "--endpoint is required"},
		{[]string{"s3", "put", "--endpoint", "http://127.0.0.1:1"}, "--access-key and --secret-key are required"},
		{append([]string{"s3", "get", "--objects", "0", "--concurrent", "0"}, ok...), "--concurrent 0"},
		{append([]string{"s3", "mixed", "--get-distrib", "-1"}, ok...), "--get-distrib -1"},
		{[]string{"s3", "put", "--endpoint", "http://203.0.113.9:9000", "--access-key", "a", "--secret-key", "b"}, "not loopback; pass --allow-remote"},
		{[]string{"compare", "only-one.csv"}, "accepts 2 arg(s)"},
		{[]string{"compare", "/nonexistent/a.csv", "b.csv"}, "no such file"},
	} {
		_, _, err := runBench(t, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("wolke bench %s: %v; want %q", strings.Join(tc.args, " "), err, tc.want)
		}
	}
}

func TestBenchS3RunWritesTableAndCSV(t *testing.T) {
	srv := s3loadtest.NewServer(t)
	csvPath := filepath.Join(t.TempDir(), "get.csv")
	out, stderr, err := runBench(t, "s3", "get", "--endpoint", srv.URL, "--access-key", "a", "--secret-key", "b",
		"--obj.size", "2KiB", "--objects", "10", "--concurrent", "2", "--duration", "300ms", "--csv", csvPath)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	if !strings.Contains(out, "TTFB P50") || !strings.Contains(out, "GET") || !strings.Contains(stderr, "run ended (duration)") {
		t.Errorf("stdout:\n%s\nstderr:\n%s", out, stderr)
	}
	f, err := os.Open(csvPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := report.ReadCSV(f)
	if err != nil || len(recs) == 0 {
		t.Fatalf("csv: %d records, %v", len(recs), err)
	}
	for _, r := range recs {
		if r.Op != "GET" || r.Bytes != 2048 || r.Err != "" {
			t.Fatalf("csv record %+v", r)
		}
	}
	if srv.Objects("wolke-bench") != nil {
		t.Error("objects left behind")
	}
}

func TestBenchS3JSON(t *testing.T) {
	srv := s3loadtest.NewServer(t)
	out, _, err := runBench(t, "s3", "put", "--endpoint", srv.URL, "--access-key", "a", "--secret-key", "b",
		"--obj.size", "100", "--concurrent", "2", "--duration", "200ms", "--json")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"benchmark": "put"`, `"op": "PUT"`, `"end_reason": "duration"`} {
		if !strings.Contains(out, want) {
			t.Errorf("JSON lacks %s:\n%s", want, out)
		}
	}
}

func TestBenchCompareAndReport(t *testing.T) {
	a, b := "../../bench/report/testdata/a.csv", "../../bench/report/testdata/b.csv"
	out, _, err := runBench(t, "compare", a, b)
	if err != nil {
		t.Fatal(err)
	}
	flat := strings.Join(strings.Fields(out), " ")
	for _, want := range []string{"PUT ops/s 0.50 0.75 +50.0%", "GET p50 40ms 30ms -25.0%", "STAT ops/s 0.25 0.00 only in A", "DELETE ops/s 0.00 0.25 only in B"} {
		if !strings.Contains(flat, want) {
			t.Errorf("compare lacks %q:\n%s", want, out)
		}
	}
	out, _, err = runBench(t, "report", a)
	if err != nil || !strings.Contains(out, "| a.csv | GET | 0.75 | 0.75 | 40ms |") {
		t.Errorf("report: %v\n%s", err, out)
	}
}

func TestBenchPlot(t *testing.T) {
	dir := t.TempDir()
	out, _, err := runBench(t, "plot", "--out", dir, "../../bench/report/testdata/a.csv", "../../bench/report/testdata/b.csv")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"latency-cdf.png", "throughput.png"} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil || !bytes.HasPrefix(b, []byte("\x89PNG")) || !strings.Contains(out, f) {
			t.Errorf("%s: %v, %d bytes; output %q", f, err, len(b), out)
		}
	}
}

func TestBenchS3ServerCPU(t *testing.T) {
	srv := s3loadtest.NewServer(t)
	for _, tc := range []struct {
		name    string
		pid     int
		wantErr bool
	}{
		{"this process", os.Getpid(), false},
		{"no such process", 1 << 30, true},
	} {
		out, _, err := runBench(t, "s3", "put", "--endpoint", srv.URL, "--access-key", "a", "--secret-key", "b",
			"--obj.size", "100", "--concurrent", "2", "--duration", "200ms", "--json", "--server-pid", fmt.Sprint(tc.pid))
		if err != nil {
			t.Fatal(err)
		}
		var res struct {
			Ops       []struct{ Count int }
			ServerCPU *benchCPUResult `json:"server_cpu"`
		}
		if err := json.Unmarshal([]byte(out), &res); err != nil {
			t.Fatalf("%s: %v\n%s", tc.name, err, out)
		}
		c := res.ServerCPU
		if c == nil || c.PID != tc.pid || (c.Error != "") != tc.wantErr || len(res.Ops) == 0 || res.Ops[0].Count == 0 {
			t.Fatalf("%s: server_cpu %+v, ops %+v", tc.name, c, res.Ops)
		}
		// This process did the work, so it used CPU; bytes moved, so per GB too.
		if !tc.wantErr && (c.Seconds < 0 || math.Abs(c.Seconds-(c.User+c.System)) > 1e-9 || c.MsPerOp < 0 || c.PerGB < 0) {
			t.Errorf("%s: %+v", tc.name, c)
		}
	}
}

func TestBenchCPUCharges(t *testing.T) {
	c := &benchCPU{pid: 1}
	c.after.User, c.after.System = 3*time.Second, time.Second
	res := &s3load.Result{Ops: []s3load.OpStats{
		{Op: s3load.OpPart, Count: 8, Bytes: 1e9},
		{Op: s3load.OpMultipart, Count: 2, Bytes: 1e9},
		{Op: s3load.OpGet, Count: 2, Bytes: 1e9},
	}}
	r := c.result(res)
	// 2 GB moved (parts and GETs, not the MULTIPART total again), 4 operations.
	if r.Seconds != 4 || r.PerGB != 2 || r.MsPerOp != 1000 || r.Error != "" {
		t.Errorf("%+v", r)
	}
	if (*benchCPU)(nil).result(res) != nil {
		t.Error("no pid, yet a result")
	}
}

func TestBenchDurability(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		want    string
		wantErr bool
	}{
		{[]string{"--ec", "4"}, "want DATA+PARITY", true},
		{[]string{"--disk-size", "0"}, "--disk-size", true},
		{[]string{"--afr", "1.5"}, "annual failure rate", true},
		{[]string{"--disks", "5"}, "cannot hold a 4+2 group", true},
		{[]string{"--trials", "-1"}, "--trials -1", true},
		{[]string{"--trials", "0"}, "Monte Carlo: not run", false},
		{[]string{"--trials", "20", "--seed", "5"}, "600 disks in 100 placement groups of 4+2, AFR 2 %, 8 TB disks rebuilt at 100 MB/s (repair window 22.2 h), over 10 years", false},
		{[]string{"--trials", "20", "--seed", "5", "--json"}, `"seed": 5`, false},
	} {
		out, _, err := runBench(t, append([]string{"durability"}, tc.args...)...)
		got := out
		if err != nil {
			got = err.Error()
		}
		if (err != nil) != tc.wantErr || !strings.Contains(got, tc.want) {
			t.Errorf("durability %v: %v\n%s\nwant %q", tc.args, err, out, tc.want)
		}
	}
}

func TestBenchDisk(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "disk.img")
	out, _, err := runBench(t, "disk", "--file", file, "--size", "8MiB", "--concurrent", "2", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var res struct {
		File        string
		Write, Read struct {
			Chunks int
			Bytes  int64
			MBps   float64 `json:"mb_per_sec"`
		}
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if res.File != file || res.Write.Chunks != 8 || res.Read.Chunks != 8 || res.Read.Bytes != 8<<20 || res.Write.MBps <= 0 {
		t.Errorf("result %+v", res)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("left behind: %v", left)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"disk"}, "--file is required"},
		{[]string{"disk", "--file", file, "--size", "100"}, "want at least one chunk"},
		{[]string{"disk", "--file", file, "--chunk", "128MiB"}, "chunks of up to"},
		{[]string{"disk", "--file", dir}, "exists"},
	} {
		if _, _, err := runBench(t, tc.args...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v; want %q", tc.args, err, tc.want)
		}
	}
}
