package report

import (
	"fmt"
	"io"
	"math"
	"text/tabwriter"
	"time"

	"github.com/wolke-cloud/wolke/bench/s3load"
)

// Change is one metric of one operation in two runs.
type Change struct {
	Op     s3load.Op
	Metric string  // "ops/s", "MiB/s", "p50", "p99"
	A, B   float64 // ops/s, MiB/s, or latency in seconds
	OnlyIn string  // "A" or "B" when the other run lacks the op
}

// Percent is the change from A to B in percent; NaN when A is 0.
func (c Change) Percent() float64 {
	if c.A == 0 {
		return math.NaN()
	}
	return (c.B - c.A) / c.A * 100
}

// Compare lists, per operation, ops/s, MiB/s, p50 and p99 of runs a and b,
// in a's operation order followed by operations only b has.
func Compare(a, b []s3load.OpStats) []Change {
	find := func(ops []s3load.OpStats, op s3load.Op) (s3load.OpStats, bool) {
		for _, s := range ops {
			if s.Op == op {
				return s, true
			}
		}
		return s3load.OpStats{}, false
	}
	metrics := func(s s3load.OpStats) [4]float64 {
		return [4]float64{s.OpsPerSec, s.BytesPerSec / mib, s.P50.Seconds(), s.P99.Seconds()}
	}
	names := [4]string{"ops/s", "MiB/s", "p50", "p99"}
	var out []Change
	add := func(op s3load.Op, sa, sb s3load.OpStats, only string) {
		ma, mb := metrics(sa), metrics(sb)
		for i := range names {
			out = append(out, Change{Op: op, Metric: names[i], A: ma[i], B: mb[i], OnlyIn: only})
		}
	}
	for _, sa := range a {
		sb, ok := find(b, sa.Op)
		only := ""
		if !ok {
			only = "A"
		}
		add(sa.Op, sa, sb, only)
	}
	for _, sb := range b {
		if _, ok := find(a, sb.Op); !ok {
			add(sb.Op, s3load.OpStats{}, sb, "B")
		}
	}
	return out
}

// WriteCompare prints changes as a table; latency rises and throughput
// falls are both shown with their sign, so read them per metric.
func WriteCompare(w io.Writer, changes []Change) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "OP\tMETRIC\tA\tB\tCHANGE\t")
	for _, c := range changes {
		change := fmt.Sprintf("%+.1f%%", c.Percent())
		switch {
		case c.OnlyIn != "":
			change = "only in " + c.OnlyIn
		case math.IsNaN(c.Percent()) && c.B == 0:
			change = "0"
		case math.IsNaN(c.Percent()):
			change = "new"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t\n", c.Op, c.Metric, value(c.Metric, c.A), value(c.Metric, c.B), change)
	}
	return tw.Flush()
}

func value(metric string, v float64) string {
	switch metric {
	case "p50", "p99":
		return Dur(durationOf(v))
	case "MiB/s":
		return fmt.Sprintf("%.2f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

func durationOf(seconds float64) (d time.Duration) {
	return time.Duration(math.Round(seconds * float64(time.Second)))
}
