package s3load

import (
	"math"
	"slices"
	"time"
)

// Op is the name of one timed S3 operation, as warp prints it.
type Op string

// The timed operations.
const (
	OpPut       Op = "PUT"
	OpGet       Op = "GET"
	OpStat      Op = "STAT"
	OpDelete    Op = "DELETE"
	OpList      Op = "LIST"
	OpPart      Op = "PUTPART"   // one UploadPart of a multipart upload
	OpMultipart Op = "MULTIPART" // a whole multipart upload, create to complete
)

// opOrder is the order operations appear in tables.
func opOrder() []Op {
	return []Op{OpPut, OpGet, OpStat, OpDelete, OpList, OpPart, OpMultipart}
}

// Record is one timed operation: a line of the CSV.
type Record struct {
	Op    Op
	Start time.Time
	Dur   time.Duration
	TTFB  time.Duration // GET: until the first body byte; 0 otherwise
	Bytes int64
	Err   string // empty on success
}

// OpStats summarises the records of one operation. Latencies and throughput
// count successful operations only; failed ones are counted in Errors.
type OpStats struct {
	Op          Op            `json:"op"`
	Count       int           `json:"count"`
	Errors      int           `json:"errors"`
	Bytes       int64         `json:"bytes"`
	Span        time.Duration `json:"span_ns"` // the run's wall time the rates are over
	OpsPerSec   float64       `json:"ops_per_sec"`
	BytesPerSec float64       `json:"bytes_per_sec"`
	P50         time.Duration `json:"p50_ns"`
	P90         time.Duration `json:"p90_ns"`
	P99         time.Duration `json:"p99_ns"`
	Max         time.Duration `json:"max_ns"`
	TTFBP50     time.Duration `json:"ttfb_p50_ns,omitempty"`
	TTFBP99     time.Duration `json:"ttfb_p99_ns,omitempty"`
	FirstError  string        `json:"first_error,omitempty"`
}

// Summarize computes per-operation statistics. Rates are over the span of
// the whole run, from the first start to the last end of any record, so the
// shares of a mixed run add up to its total.
func Summarize(recs []Record) []OpStats {
	if len(recs) == 0 {
		return nil
	}
	first, last := recs[0].Start, recs[0].Start.Add(recs[0].Dur)
	by := map[Op][]Record{}
	for _, r := range recs {
		if r.Start.Before(first) {
			first = r.Start
		}
		if end := r.Start.Add(r.Dur); end.After(last) {
			last = end
		}
		by[r.Op] = append(by[r.Op], r)
	}
	span := last.Sub(first)
	ops := opOrder()
	for op := range by {
		if !slices.Contains(ops, op) {
			ops = append(ops, op)
		}
	}
	var out []OpStats
	for _, op := range ops {
		rs, ok := by[op]
		if !ok {
			continue
		}
		out = append(out, summarizeOp(op, rs, span))
	}
	return out
}

func summarizeOp(op Op, rs []Record, span time.Duration) OpStats {
	s := OpStats{Op: op, Span: span}
	var lat, ttfb []time.Duration
	for _, r := range rs {
		if r.Err != "" {
			s.Errors++
			if s.FirstError == "" {
				s.FirstError = r.Err
			}
			continue
		}
		s.Count++
		s.Bytes += r.Bytes
		lat = append(lat, r.Dur)
		if r.TTFB > 0 {
			ttfb = append(ttfb, r.TTFB)
		}
	}
	if span > 0 {
		s.OpsPerSec = float64(s.Count) / span.Seconds()
		s.BytesPerSec = float64(s.Bytes) / span.Seconds()
	}
	slices.Sort(lat)
	slices.Sort(ttfb)
	s.P50, s.P90, s.P99 = percentile(lat, 50), percentile(lat, 90), percentile(lat, 99)
	if len(lat) > 0 {
		s.Max = lat[len(lat)-1]
	}
	s.TTFBP50, s.TTFBP99 = percentile(ttfb, 50), percentile(ttfb, 99)
	return s
}

// percentile is the nearest-rank percentile of sorted values.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p/100*float64(len(sorted)))) - 1
	return sorted[max(0, min(rank, len(sorted)-1))]
}
