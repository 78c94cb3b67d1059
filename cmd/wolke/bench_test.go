// Tests of `wolke bench` (cmd/wolke/bench.go). Kept here, where the Go tool
// ignores it, because the bench brief owns only bench.go in cmd/wolke; to run
// it, move it to cmd/wolke/bench_test.go.

package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wolke-cloud/wolke/bench/report"
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
