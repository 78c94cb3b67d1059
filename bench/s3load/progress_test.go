package s3load

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestStable(t *testing.T) {
	flat := func(n int, v float64) []sample {
		out := make([]sample, n)
		for i := range out {
			out[i] = sample{ops: v}
		}
		return out
	}
	ramp := func(n int) []sample {
		out := make([]sample, n)
		for i := range out {
			out[i] = sample{ops: float64(10 + 5*i)}
		}
		return out
	}
	bytesJumpy := flat(50, 100) // ops steady, bytes swing point to point
	for i := range bytesJumpy {
		bytesJumpy[i].bytes = float64(1000 * (1 + i/2%2*3))
	}
	warmedUp := append(ramp(30), flat(20, 200)...)
	noisy := flat(50, 0) // 10, 30, 10, 30: each point of two seconds is 20
	for i := range noisy {
		noisy[i].ops = float64(10 + 20*(i%2))
	}
	for _, tc := range []struct {
		name    string
		samples []sample
		minSecs int
		pct     float64
		want    bool
	}{
		{"flat, long enough", flat(36, 50), 10, 7.5, true},
		{"flat, window too short", flat(30, 50), 10, 7.5, false},
		{"flat, few samples", flat(7, 50), 5, 7.5, true},
		{"fewer samples than points", flat(6, 50), 1, 7.5, false},
		{"idle", flat(40, 0), 10, 7.5, false},
		{"ramp", ramp(50), 10, 7.5, false},
		{"ramp, wide tolerance", ramp(50), 10, 60, true},
		{"noise averages out", noisy, 10, 7.5, true},
		{"bytes decide", bytesJumpy, 5, 7.5, false},
		{"only the end counts", warmedUp, 10, 5, true},
	} {
		if got := stable(tc.samples, tc.minSecs, tc.pct); got != tc.want {
			t.Errorf("%s: stable = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestMonitorAutoTermAndProgress(t *testing.T) {
	for _, tc := range []struct {
		name        string
		interactive bool
		perTick     int64
		ticks       int
		wantStop    bool
		wantLines   int
	}{
		{"steady stops", false, 100, 12, true, 2},
		{"too soon to stop", false, 100, 6, false, 1},
		{"idle runs on", false, 0, 12, false, 2},
		{"terminal refreshes", true, 100, 4, false, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var (
				count counters
				out   bytes.Buffer
			)
			stopped := false
			m := &monitor{
				name: "get", count: &count, out: &out, interactive: tc.interactive, total: time.Minute,
				autoterm: true, minStable: 6, pct: 5, stop: func() { stopped = true },
			}
			now := time.Unix(0, 0)
			m.start, m.printed = now, now
			for range tc.ticks {
				count.ops.Add(tc.perTick)
				count.bytes.Add(tc.perTick * 1024)
				now = now.Add(time.Second)
				m.observe(now)
			}
			if stopped != tc.wantStop {
				t.Errorf("stopped = %v, want %v", stopped, tc.wantStop)
			}
			s := out.String()
			if got := strings.Count(s, "\n"); !tc.interactive && got != tc.wantLines {
				t.Errorf("%d lines, want %d:\n%s", got, tc.wantLines, s)
			}
			if tc.interactive && strings.Count(s, "\r") != tc.ticks {
				t.Errorf("%d refreshes for %d ticks: %q", strings.Count(s, "\r"), tc.ticks, s)
			}
			if tc.perTick > 0 && !strings.Contains(s, "100.0 ops/s, 100.00 KiB/s, 0 errors") {
				t.Errorf("progress %q", s)
			}
		})
	}
}

func TestFormatBytes(t *testing.T) {
	for in, want := range map[float64]string{0: "0 B", 1023: "1023 B", 1024: "1.00 KiB", 1.5 * (1 << 20): "1.50 MiB", 1 << 40: "1.00 TiB"} {
		if got := FormatBytes(in); got != want {
			t.Errorf("FormatBytes(%g) = %q, want %q", in, got, want)
		}
	}
}
