package s3load

import (
	"bytes"
	"context"
	"fmt"
	"hash/crc32"
	"strings"
	"testing"
	"time"

	"github.com/wolke-cloud/wolke/bench/s3load/s3loadtest"
)

func testConfig(endpoint string, b Benchmark) Config {
	cfg := Defaults()
	cfg.Benchmark, cfg.Endpoint = b, endpoint
	cfg.AccessKey, cfg.SecretKey = "bench", "bench-secret"
	cfg.ObjectSize, cfg.Objects, cfg.Concurrent = 1000, 24, 4
	cfg.Duration = 300 * time.Millisecond
	cfg.Seed = 7
	return cfg
}

func opStats(t *testing.T, res *Result, op Op) OpStats {
	t.Helper()
	for _, s := range res.Ops {
		if s.Op == op {
			return s
		}
	}
	t.Fatalf("no %s in result %+v", op, res.Ops)
	return OpStats{}
}

func noErrors(t *testing.T, res *Result) {
	t.Helper()
	for _, s := range res.Ops {
		if s.Errors != 0 {
			t.Errorf("%s: %d errors, first %q", s.Op, s.Errors, s.FirstError)
		}
	}
	if res.CleanupErr != "" {
		t.Errorf("cleanup: %s", res.CleanupErr)
	}
}

func TestRunPutWritesAndClears(t *testing.T) {
	srv := s3loadtest.NewServer(t)
	url := srv.URL
	res, err := Run(context.Background(), testConfig(url, BenchPut))
	if err != nil {
		t.Fatal(err)
	}
	noErrors(t, res)
	put := opStats(t, res, OpPut)
	if put.Count == 0 || put.Bytes != int64(put.Count)*1000 {
		t.Errorf("PUT count %d bytes %d: want count > 0 and 1000 bytes each", put.Count, put.Bytes)
	}
	if got := srv.Count("PUT object"); got < put.Count {
		t.Errorf("server saw %d PUTs, result counts %d", got, put.Count)
	}
	if res.Cleared < put.Count || res.EndReason != EndDuration {
		t.Errorf("cleared %d of %d, ended by %q", res.Cleared, put.Count, res.EndReason)
	}
	if objs := srv.Objects("wolke-bench"); objs != nil {
		t.Errorf("bucket the run created is left with %d objects", len(objs))
	}
	if len(res.Records) != put.Count {
		t.Errorf("%d records for %d PUTs", len(res.Records), put.Count)
	}
	for _, r := range res.Records {
		if !strings.HasPrefix(res.Prefix, "wolke-bench-") || r.Op != OpPut {
			t.Fatalf("prefix %q, record %+v", res.Prefix, r)
		}
	}
}

func TestRunReadBenchmarks(t *testing.T) {
	for _, tc := range []struct {
		bench    Benchmark
		op       Op
		perOp    int64 // bytes each op moves
		wantTTFB bool
	}{
		{BenchGet, OpGet, 1000, true},
		{BenchStat, OpStat, 0, false},
		{BenchList, OpList, 0, true},
	} {
		t.Run(string(tc.bench), func(t *testing.T) {
			srv := s3loadtest.NewServer(t)
			url := srv.URL
			res, err := Run(context.Background(), testConfig(url, tc.bench))
			if err != nil {
				t.Fatal(err)
			}
			noErrors(t, res)
			if res.Prepared != 24 {
				t.Errorf("prepared %d objects, want 24", res.Prepared)
			}
			s := opStats(t, res, tc.op)
			if s.Count == 0 || s.Bytes != int64(s.Count)*tc.perOp {
				t.Errorf("%s count %d bytes %d: want count > 0 and %d bytes each", tc.op, s.Count, s.Bytes, tc.perOp)
			}
			if (s.TTFBP50 > 0) != tc.wantTTFB || s.P50 <= 0 || s.P99 < s.P50 || s.Max < s.P99 {
				t.Errorf("latencies %+v", s)
			}
			if res.Cleared != 24 {
				t.Errorf("cleared %d objects, want the 24 prepared", res.Cleared)
			}
			if srv.Objects("wolke-bench") != nil {
				t.Error("bucket not removed")
			}
		})
	}
}

func TestRunGetDetectsBadContent(t *testing.T) {
	for _, tc := range []struct {
		name    string
		corrupt func(key string, b []byte) []byte
		want    string
	}{
		{"flipped byte", func(_ string, b []byte) []byte { b[len(b)/2] ^= 1; return b }, "content mismatch"},
		{"truncated", func(_ string, b []byte) []byte { return b[:len(b)-1] }, "size mismatch"},
		{"one object", func(k string, b []byte) []byte {
			if strings.HasSuffix(k, "/p5") {
				b[0]++
			}
			return b
		}, "content mismatch"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := s3loadtest.NewServer(t)
			url := srv.URL
			cfg := testConfig(url, BenchGet)
			cfg.Objects = 8
			srv.SetCorrupt(tc.corrupt)
			res, err := Run(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			get := opStats(t, res, OpGet)
			if get.Errors == 0 || !strings.Contains(get.FirstError, tc.want) {
				t.Errorf("GET errors %d, first %q; want errors with %q", get.Errors, get.FirstError, tc.want)
			}
		})
	}
}

func TestRunMixed(t *testing.T) {
	url := s3loadtest.NewServer(t).URL
	cfg := testConfig(url, BenchMixed)
	cfg.Duration = 800 * time.Millisecond
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	noErrors(t, res)
	total := 0
	for _, op := range []Op{OpGet, OpStat, OpPut, OpDelete} {
		total += opStats(t, res, op).Count
	}
	if total < 100 {
		t.Skipf("only %d operations: too few to check the mix", total)
	}
	for op, want := range map[Op]float64{OpGet: 45, OpStat: 30, OpPut: 15, OpDelete: 10} {
		got := 100 * float64(opStats(t, res, op).Count) / float64(total)
		if got < want-12 || got > want+12 {
			t.Errorf("%s is %.1f%% of operations, want about %.0f%%", op, got, want)
		}
	}
}

func TestRunDeleteEndsWhenExhausted(t *testing.T) {
	srv := s3loadtest.NewServer(t)
	url := srv.URL
	cfg := testConfig(url, BenchDelete)
	cfg.Duration, cfg.NoClear = 3*time.Second, true
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	noErrors(t, res)
	if d := opStats(t, res, OpDelete); d.Count != 24 || res.EndReason != EndExhausted {
		t.Errorf("deleted %d ending by %q, want 24 and %q", d.Count, res.EndReason, EndExhausted)
	}
	if objs := srv.Objects("wolke-bench"); len(objs) != 0 {
		t.Errorf("%d objects left", len(objs))
	}
}

func TestRunMultipartContent(t *testing.T) {
	srv := s3loadtest.NewServer(t)
	url := srv.URL
	cfg := testConfig(url, BenchMultipart)
	cfg.Parts, cfg.PartSize, cfg.NoClear = 3, 100_000, true
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	noErrors(t, res)
	mp, parts := opStats(t, res, OpMultipart), opStats(t, res, OpPart)
	if mp.Count == 0 || parts.Count < 3*mp.Count || mp.Bytes != int64(mp.Count)*300_000 {
		t.Errorf("%d uploads of %d bytes, %d parts", mp.Count, mp.Bytes, parts.Count)
	}
	table := crc32.MakeTable(crc32.Castagnoli)
	complete := 0
	for k, v := range srv.Objects("wolke-bench") {
		if len(v) != 300_000 || crc32.Checksum(v, table) != checksum(k, 300_000, table) {
			t.Errorf("%s: %d bytes, not the generated content", k, len(v))
		}
		complete++
	}
	if complete < mp.Count {
		t.Errorf("%d objects stored for %d completed uploads", complete, mp.Count)
	}
}

func TestRunInterrupted(t *testing.T) {
	srv := s3loadtest.NewServer(t)
	url := srv.URL
	cfg := testConfig(url, BenchPut)
	cfg.Duration = time.Minute
	var progress bytes.Buffer
	cfg.Progress = &progress
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	res, err := Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.EndReason != EndInterrupted || res.End.Sub(res.Start) > 10*time.Second {
		t.Errorf("ended by %q after %s", res.EndReason, res.End.Sub(res.Start))
	}
	noErrors(t, res)
	if objs := srv.Objects("wolke-bench"); objs != nil {
		t.Errorf("interrupted run left the bucket with %d objects; cleared %d, cleanup error %q", len(objs), res.Cleared, res.CleanupErr)
	}
	if !strings.Contains(progress.String(), "cleaning up") {
		t.Errorf("progress %q", progress.String())
	}
}

func TestRunRefusesRemoteEndpoint(t *testing.T) {
	cfg := testConfig("http://192.0.2.1:9000", BenchPut)
	_, err := Run(context.Background(), cfg)
	if err == nil || !strings.Contains(err.Error(), "--allow-remote") {
		t.Fatalf("err %v: want a refusal naming --allow-remote", err)
	}
}

func TestRunKeepsExistingBucket(t *testing.T) {
	srv := s3loadtest.NewServer(t)
	url := srv.URL
	cfg := testConfig(url, BenchGet)
	srv.Put("wolke-bench", "mine", []byte("x"))
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	noErrors(t, res)
	objs := srv.Objects("wolke-bench")
	if len(objs) != 1 || objs["mine"] == nil {
		t.Errorf("left %d objects; want only the one that was there", len(objs))
	}
}

func TestRunVersioned(t *testing.T) {
	srv := s3loadtest.NewServer(t)
	cfg := testConfig(srv.URL, BenchVersioned)
	cfg.Duration = 600 * time.Millisecond
	cfg.NoClear = true
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	noErrors(t, res)
	for _, op := range []Op{OpGet, OpStat, OpPut, OpDelete} {
		if opStats(t, res, op).Count == 0 {
			t.Errorf("no %s", op)
		}
	}
	// PUTs wrote new versions of existing keys: more versions than keys.
	if v, k := srv.Versions("wolke-bench"), len(srv.Objects("wolke-bench")); v <= k {
		t.Errorf("%d versions of %d objects: PUT did not add versions", v, k)
	}

	// The same run with cleanup leaves no version behind.
	srv2 := s3loadtest.NewServer(t)
	cfg.Endpoint, cfg.NoClear = srv2.URL, false
	res, err = Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	noErrors(t, res)
	if srv2.Versions("wolke-bench") != 0 || srv2.Objects("wolke-bench") != nil {
		t.Errorf("%d versions left", srv2.Versions("wolke-bench"))
	}
}

func TestRunVersionedRefusesUnversionedBucket(t *testing.T) {
	srv := s3loadtest.NewServer(t)
	srv.Put("wolke-bench", "other", []byte("x"))
	_, err := Run(context.Background(), testConfig(srv.URL, BenchVersioned))
	if err == nil || !strings.Contains(err.Error(), "exists without versioning") {
		t.Fatalf("err %v", err)
	}
}

func TestRunVersionedDetectsWrongVersion(t *testing.T) {
	srv := s3loadtest.NewServer(t)
	srv.SetIgnoreVersionID(true)
	cfg := testConfig(srv.URL, BenchVersioned)
	cfg.Distrib = Distribution{Get: 50, Put: 50}
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	get := opStats(t, res, OpGet)
	if get.Errors == 0 || !strings.Contains(get.FirstError, "content mismatch") {
		t.Errorf("GET of old versions served the newest: %d errors, first %q", get.Errors, get.FirstError)
	}
}

func TestKeyPrefix(t *testing.T) {
	for in, want := range map[string]string{"": "", "team": "team/", "team/": "team/", "a/b": "a/b/"} {
		if got := keyPrefix(in); got != want {
			t.Errorf("keyPrefix(%q) = %q, want %q", in, got, want)
		}
	}
	srv := s3loadtest.NewServer(t)
	cfg := testConfig(srv.URL, BenchGet)
	cfg.Prefix, cfg.Objects, cfg.NoClear = "team", 4, true
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	for k := range srv.Objects("wolke-bench") {
		if !strings.HasPrefix(k, "team/wolke-bench-") || !strings.HasPrefix(k, res.Prefix) {
			t.Errorf("key %q outside prefix %q", k, res.Prefix)
		}
	}
}

// TestRunPrepareWritersAndMeasureHook: a list at one worker prepared by
// many writers lists every key, and OnMeasure brackets exactly the timed
// operations (no prepare PUT falls inside, no LIST outside).
func TestRunPrepareWritersAndMeasureHook(t *testing.T) {
	for _, writers := range []int{0, 1, 6} {
		t.Run(fmt.Sprint(writers), func(t *testing.T) {
			srv := s3loadtest.NewServer(t)
			cfg := testConfig(srv.URL, BenchList)
			cfg.Concurrent, cfg.PrepareConcurrent, cfg.Objects = 1, writers, 30
			var calls []bool
			var begin, end time.Time
			cfg.OnMeasure = func(b bool) {
				calls = append(calls, b)
				if b {
					begin = time.Now()
				} else {
					end = time.Now()
				}
			}
			res, err := Run(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			noErrors(t, res)
			if len(calls) != 2 || !calls[0] || calls[1] {
				t.Fatalf("OnMeasure calls %v, want [true false]", calls)
			}
			if s := opStats(t, res, OpList); s.Count == 0 {
				t.Fatal("no LIST")
			}
			for _, r := range res.Records {
				if r.Start.Before(begin) || r.Start.Add(r.Dur).After(end) {
					t.Fatalf("record %+v outside the measured phase [%v, %v]", r, begin, end)
				}
			}
			if got := srv.Count("PUT object"); got != 30 {
				t.Errorf("server saw %d prepare PUTs, want 30", got)
			}
		})
	}
}
