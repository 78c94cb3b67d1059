package report

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/wolke-cloud/wolke/bench/s3load"
)

const mib = 1 << 20

// Table writes the per-operation summary a run ends with.
func Table(w io.Writer, ops []s3load.OpStats) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "OP\tOPS/S\tMiB/S\tP50\tP90\tP99\tMAX\tTTFB P50\tTTFB P99\tOK\tERRORS\t")
	for _, s := range ops {
		fmt.Fprintf(tw, "%s\t%.2f\t%.2f\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t\n", s.Op, s.OpsPerSec, s.BytesPerSec/mib,
			Dur(s.P50), Dur(s.P90), Dur(s.P99), Dur(s.Max), ttfb(s.TTFBP50), ttfb(s.TTFBP99), s.Count, s.Errors)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, s := range ops {
		if s.FirstError != "" {
			fmt.Fprintf(w, "%s: first error: %s\n", s.Op, s.FirstError)
		}
	}
	return nil
}

// Run is one benchmark run for a Markdown report.
type Run struct {
	Name string // e.g. "get c=16" or a CSV file name
	Ops  []s3load.OpStats
}

// FromResult names a run after its benchmark and concurrency.
func FromResult(r *s3load.Result) Run {
	return Run{Name: fmt.Sprintf("%s c=%d", r.Benchmark, r.Concurrent), Ops: r.Ops}
}

// Markdown writes one table with a row per run and operation.
func Markdown(w io.Writer, runs []Run) error {
	var b strings.Builder
	b.WriteString("| run | op | ops/s | MiB/s | p50 | p90 | p99 | max | TTFB p50 | TTFB p99 | ok | errors |\n")
	b.WriteString("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, r := range runs {
		for _, s := range r.Ops {
			fmt.Fprintf(&b, "| %s | %s | %.2f | %.2f | %s | %s | %s | %s | %s | %s | %d | %d |\n",
				mdEscape(r.Name), s.Op, s.OpsPerSec, s.BytesPerSec/mib, Dur(s.P50), Dur(s.P90), Dur(s.P99), Dur(s.Max),
				ttfb(s.TTFBP50), ttfb(s.TTFBP99), s.Count, s.Errors)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func mdEscape(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

// Dur renders a latency with three significant digits or so.
func Dur(d time.Duration) string {
	switch {
	case d >= time.Second:
		return fmt.Sprintf("%.2fs", d.Seconds())
	case d >= 10*time.Millisecond:
		return fmt.Sprintf("%.0fms", float64(d)/float64(time.Millisecond))
	case d >= time.Millisecond:
		return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
	default:
		return fmt.Sprintf("%dµs", d.Microseconds())
	}
}

func ttfb(d time.Duration) string {
	if d == 0 {
		return "-"
	}
	return Dur(d)
}
