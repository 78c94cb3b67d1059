package report

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wolke-cloud/wolke/bench/s3load"
)

func readTestCSV(t *testing.T, name string) []s3load.Record {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := ReadCSV(f)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return recs
}

func TestCSVRoundTrip(t *testing.T) {
	for _, name := range []string{"a.csv", "b.csv"} {
		want, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		recs := readTestCSV(t, name)
		if len(recs) != 7 {
			t.Errorf("%s: %d records, want 7", name, len(recs))
		}
		var buf bytes.Buffer
		if err := WriteCSV(&buf, recs); err != nil {
			t.Fatal(err)
		}
		if buf.String() != string(want) {
			t.Errorf("%s: rewritten as\n%s", name, buf.String())
		}
	}
	recs := readTestCSV(t, "a.csv")
	want := s3load.Record{Op: s3load.OpGet, Start: time.Date(2026, 1, 1, 0, 0, 0, 5e8, time.UTC), Dur: 20 * time.Millisecond, TTFB: 5 * time.Millisecond, Bytes: 1 << 20}
	if !recs[1].Start.Equal(want.Start) || recs[1].Op != want.Op || recs[1].Dur != want.Dur || recs[1].TTFB != want.TTFB || recs[1].Bytes != want.Bytes {
		t.Errorf("record 1 = %+v, want %+v", recs[1], want)
	}
	if recs[5].Err != "NoSuchKey: The specified key does not exist, it says" {
		t.Errorf("error column %q", recs[5].Err)
	}
}

func TestReadCSVErrors(t *testing.T) {
	head := "op,start,duration_ns,ttfb_ns,bytes,error\n"
	for _, tc := range []struct{ in, want string }{
		{"", "empty file"},
		{"op,start,dur\n", "wrong number of fields"},
		{"a,b,c,d,e,f\n", "line 1: header"},
		{head + "GET,yesterday,1,0,0,\n", `line 2: start "yesterday"`},
		{head + "GET,2026-01-01T00:00:00Z,1,0,0,\nGET,2026-01-01T00:00:00Z,-5,0,0,\n", `line 3: duration_ns "-5"`},
		{head + "GET,2026-01-01T00:00:00Z,1,x,0,\n", `ttfb_ns "x"`},
		{head + ",2026-01-01T00:00:00Z,1,0,0,\n", "empty op"},
	} {
		_, err := ReadCSV(strings.NewReader(tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ReadCSV(%q) = %v; want an error with %q", tc.in, err, tc.want)
		}
	}
}

func TestMarkdownFromCSV(t *testing.T) {
	runs := []Run{
		{Name: "a.csv", Ops: s3load.Summarize(readTestCSV(t, "a.csv"))},
		{Name: "b|c", Ops: s3load.Summarize(readTestCSV(t, "b.csv"))},
	}
	var buf bytes.Buffer
	if err := Markdown(&buf, runs); err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(filepath.Join("testdata", "ab.md"))
	if err != nil {
		t.Fatal(err)
	}
	if buf.String() != string(want) {
		t.Errorf("markdown:\n%s\nwant:\n%s", buf.String(), want)
	}
}

func TestFromResult(t *testing.T) {
	res := &s3load.Result{Benchmark: s3load.BenchGet, Concurrent: 16, Ops: s3load.Summarize(readTestCSV(t, "a.csv"))}
	var buf bytes.Buffer
	if err := Markdown(&buf, []Run{FromResult(res)}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "| get c=16 | GET | 0.75 |") {
		t.Errorf("markdown:\n%s", buf.String())
	}
}

func TestTable(t *testing.T) {
	var buf bytes.Buffer
	if err := Table(&buf, s3load.Summarize(readTestCSV(t, "a.csv"))); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 5 {
		t.Fatalf("%d lines:\n%s", len(lines), buf.String())
	}
	for i, want := range [][]string{
		{"OP", "OPS/S", "MiB/S", "P50", "P90", "P99", "MAX", "TTFB", "P50", "TTFB", "P99", "OK", "ERRORS"},
		{"PUT", "0.50", "0.50", "100ms", "300ms", "300ms", "300ms", "-", "-", "2", "0"},
		{"GET", "0.75", "0.75", "40ms", "60ms", "60ms", "60ms", "10ms", "15ms", "3", "1"},
		{"STAT", "0.25", "0.00", "500ms", "500ms", "500ms", "500ms", "-", "-", "1", "0"},
	} {
		if got := strings.Fields(lines[i]); strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("line %d: %q, want %q", i, got, want)
		}
	}
	if !strings.HasPrefix(lines[4], "GET: first error: NoSuchKey") {
		t.Errorf("error line %q", lines[4])
	}
}

func TestCompareFixedCSVs(t *testing.T) {
	a := s3load.Summarize(readTestCSV(t, "a.csv"))
	b := s3load.Summarize(readTestCSV(t, "b.csv"))
	changes := Compare(a, b)
	type key struct {
		op     s3load.Op
		metric string
	}
	got := map[key]Change{}
	for _, c := range changes {
		got[key{c.Op, c.Metric}] = c
	}
	if len(changes) != 16 {
		t.Errorf("%d changes, want 4 metrics of PUT, GET, STAT, DELETE", len(changes))
	}
	for _, tc := range []struct {
		op      s3load.Op
		metric  string
		a, b    float64
		percent float64 // NaN: not comparable
		only    string
	}{
		{s3load.OpPut, "ops/s", 0.5, 0.75, 50, ""},
		{s3load.OpPut, "MiB/s", 0.5, 0.75, 50, ""},
		{s3load.OpPut, "p50", 0.1, 0.15, 50, ""},
		{s3load.OpPut, "p99", 0.3, 0.15, -50, ""},
		{s3load.OpGet, "ops/s", 0.75, 0.75, 0, ""},
		{s3load.OpGet, "p50", 0.04, 0.03, -25, ""},
		{s3load.OpGet, "p99", 0.06, 0.09, 50, ""},
		{s3load.OpStat, "ops/s", 0.25, 0, -100, "A"},
		{s3load.OpDelete, "p50", 0, 1, math.NaN(), "B"},
	} {
		c, ok := got[key{tc.op, tc.metric}]
		near := func(x, y float64) bool { return math.Abs(x-y) < 1e-9 || math.IsNaN(x) && math.IsNaN(y) }
		if !ok || !near(c.A, tc.a) || !near(c.B, tc.b) || !near(c.Percent(), tc.percent) || c.OnlyIn != tc.only {
			t.Errorf("%s %s = %+v (%.1f%%), want %g -> %g (%.1f%%) only in %q", tc.op, tc.metric, c, c.Percent(), tc.a, tc.b, tc.percent, tc.only)
		}
	}
	var buf bytes.Buffer
	if err := WriteCompare(&buf, changes); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"PUT ops/s 0.50 0.75 +50.0%", "GET    p99  60ms  90ms   +50.0%", "DELETE    p50      0µs   1.00s  only in B"} {
		if !strings.Contains(strings.Join(strings.Fields(buf.String()), " "), strings.Join(strings.Fields(want), " ")) {
			t.Errorf("compare output lacks %q:\n%s", want, buf.String())
		}
	}
}
