package s3load

import (
	"context"
	"fmt"
	"io"
	"math"
	"time"
)

// sample is what completed in one second of the run.
type sample struct {
	ops, bytes float64
}

// Autoterm looks at the run as warp does: the per-second samples so far
// are downsampled to autotermPoints points, and throughput is stable when
// the last autotermLast of them lie within pct percent of their mean and
// cover at least the minimum stable time.
const autotermPoints, autotermLast = 25, 7

// stable tells whether throughput has settled, by the rule above. Bytes are
// compared when the run moves bytes, operations otherwise.
func stable(samples []sample, minSecs int, pct float64) bool {
	n := len(samples)
	useBytes := false
	for _, s := range samples {
		useBytes = useBytes || s.bytes > 0
	}
	value := func(s sample) float64 {
		if useBytes {
			return s.bytes
		}
		return s.ops
	}
	// points[i] is the mean per-second value of its share of the samples.
	buckets := min(n, autotermPoints)
	if buckets < autotermLast {
		return false
	}
	points := make([]float64, buckets)
	for i := range buckets {
		lo, hi := i*n/buckets, (i+1)*n/buckets
		for _, s := range samples[lo:hi] {
			points[i] += value(s)
		}
		points[i] /= float64(hi - lo)
	}
	if covered := n - (buckets-autotermLast)*n/buckets; covered < minSecs {
		return false
	}
	last := points[buckets-autotermLast:]
	mean := 0.0
	for _, v := range last {
		mean += v / autotermLast
	}
	if mean <= 0 {
		return false
	}
	for _, v := range last {
		if math.Abs(v-mean) > pct/100*mean {
			return false
		}
	}
	return true
}

// monitor samples the counters every second until ctx ends: it prints the
// progress line and, with autoterm, calls stop once throughput is stable.
type monitor struct {
	name        string
	count       *counters
	out         io.Writer // nil: no progress line
	interactive bool
	total       time.Duration
	autoterm    bool
	minStable   int // seconds throughput must have been stable
	pct         float64
	stop        func()

	start, printed time.Time
	prev, atPrint  sample
	samples        []sample
	stopped        bool // autoterm fired
}

// run samples on every tick until ctx ends; start is when the run began.
func (m *monitor) run(ctx context.Context, start time.Time, tick <-chan time.Time) {
	m.start, m.printed = start, start
	for {
		select {
		case <-ctx.Done():
			if m.out != nil && m.interactive && len(m.samples) > 0 {
				fmt.Fprintln(m.out)
			}
			return
		case now := <-tick:
			m.observe(now)
		}
	}
}

// observe takes one sample (ticks come every second): it prints the
// progress line, every tick on a terminal and every fifth otherwise, with
// the rates since the previous line, and checks for stable throughput.
func (m *monitor) observe(now time.Time) {
	cur := sample{ops: float64(m.count.ops.Load()), bytes: float64(m.count.bytes.Load())}
	m.samples = append(m.samples, sample{ops: cur.ops - m.prev.ops, bytes: cur.bytes - m.prev.bytes})
	m.prev = cur
	if m.out != nil && (m.interactive || len(m.samples)%5 == 0) {
		secs := max(now.Sub(m.printed).Seconds(), 1e-3)
		line := fmt.Sprintf("%s %s/%s: %.1f ops/s, %s/s, %d errors", m.name, now.Sub(m.start).Round(time.Second), m.total,
			(cur.ops-m.atPrint.ops)/secs, FormatBytes((cur.bytes-m.atPrint.bytes)/secs), m.count.errs.Load())
		if m.interactive {
			fmt.Fprintf(m.out, "\r%-78s", line)
		} else {
			fmt.Fprintln(m.out, line)
		}
		m.printed, m.atPrint = now, cur
	}
	if m.autoterm && !m.stopped && stable(m.samples, m.minStable, m.pct) {
		m.stopped = true
		m.stop()
	}
}

// FormatBytes renders a byte count (or rate) with a binary unit.
func FormatBytes(v float64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB"}
	i := 0
	for v >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%.0f B", v)
	}
	return fmt.Sprintf("%.2f %s", v, units[i])
}
