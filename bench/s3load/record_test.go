package s3load

import (
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		out := make([]time.Duration, len(v))
		for i, x := range v {
			out[i] = time.Duration(x) * time.Millisecond
		}
		return out
	}
	for _, tc := range []struct {
		in   []time.Duration
		p    float64
		want time.Duration
	}{
		{nil, 50, 0},
		{ms(5), 99, 5 * time.Millisecond},
		{ms(1, 2, 3, 4), 50, 2 * time.Millisecond},
		{ms(1, 2, 3, 4), 51, 3 * time.Millisecond},
		{ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 90, 9 * time.Millisecond},
		{ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 99, 10 * time.Millisecond},
		{ms(1, 2, 3), 100, 3 * time.Millisecond},
	} {
		if got := percentile(tc.in, tc.p); got != tc.want {
			t.Errorf("percentile(%v, %g) = %s, want %s", tc.in, tc.p, got, tc.want)
		}
	}
}

func TestSummarize(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	recs := []Record{
		{Op: OpGet, Start: t0, Dur: 100 * time.Millisecond, TTFB: 10 * time.Millisecond, Bytes: 1000},
		{Op: OpPut, Start: t0.Add(time.Second), Dur: 200 * time.Millisecond, Bytes: 500},
		{Op: OpGet, Start: t0.Add(500 * time.Millisecond), Dur: 300 * time.Millisecond, TTFB: 30 * time.Millisecond, Bytes: 1000},
		{Op: OpGet, Start: t0.Add(time.Second), Dur: time.Second, Err: "NoSuchKey"},
		{Op: "COPY", Start: t0, Dur: time.Millisecond},
	}
	got := Summarize(recs)
	if len(got) != 3 || got[0].Op != OpPut || got[1].Op != OpGet || got[2].Op != "COPY" {
		t.Fatalf("ops %+v: want PUT, GET, COPY", got)
	}
	get := got[1]
	want := OpStats{
		Op: OpGet, Count: 2, Errors: 1, Bytes: 2000, Span: 2 * time.Second, OpsPerSec: 1, BytesPerSec: 1000,
		P50: 100 * time.Millisecond, P90: 300 * time.Millisecond, P99: 300 * time.Millisecond, Max: 300 * time.Millisecond,
		TTFBP50: 10 * time.Millisecond, TTFBP99: 30 * time.Millisecond, FirstError: "NoSuchKey",
	}
	if get != want {
		t.Errorf("GET\n got %+v\nwant %+v", get, want)
	}
	if got[0].TTFBP50 != 0 || got[0].OpsPerSec != 0.5 {
		t.Errorf("PUT %+v", got[0])
	}
	if Summarize(nil) != nil {
		t.Error("summary of nothing")
	}
}
