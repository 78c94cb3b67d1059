package core

import (
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wolke-cloud/wolke/internal/errs"
)

type metrics struct {
	putBytes       prometheus.Counter
	getBytes       prometheus.Counter
	stripes        prometheus.Counter
	degraded       prometheus.Counter
	shardErrors    *prometheus.CounterVec // op, kind
	putSeconds     prometheus.Histogram
	getSeconds     prometheus.Histogram
	freeFailures   prometheus.Counter
	freedStripes   prometheus.Counter
	hedgedReads    prometheus.Counter
	groupRefreshes prometheus.Counter
	intents        prometheus.Counter
	shardTimeouts  prometheus.Counter
	unsettled      prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	buckets := prometheus.ExponentialBuckets(0.001, 2, 16) // 1ms .. 32s
	m := &metrics{
		putBytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "wolke_core_put_bytes_total", Help: "Object bytes stored by PUTs and part uploads."}),
		getBytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "wolke_core_get_bytes_total", Help: "Object bytes returned by readers."}),
		stripes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "wolke_core_stripes_written_total", Help: "Stripes written with their write quorum."}),
		degraded: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "wolke_core_degraded_reads_total", Help: "Stripe reads that had to reconstruct data from parity."}),
		shardErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wolke_core_shard_errors_total", Help: "Failed shard operations by operation and error kind."},
			[]string{"op", "kind"}),
		putSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "wolke_core_put_duration_seconds", Help: "Latency of PutObject and UploadPart.", Buckets: buckets}),
		getSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "wolke_core_get_duration_seconds", Help: "Time from OpenObject to Close of the reader.", Buckets: buckets}),
		freeFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "wolke_core_free_failures_total", Help: "Shards of freed stripes that could not be deleted."}),
		freedStripes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "wolke_core_freed_stripes_total", Help: "Stripes of replaced or deleted versions freed."}),
		hedgedReads: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "wolke_core_hedged_reads_total", Help: "Stripe reads that asked extra shards because some were slow."}),
		groupRefreshes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "wolke_core_placement_refreshes_total", Help: "Placement group cache refreshes from meta."}),
		intents: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "wolke_core_write_intents_total", Help: "Write intents recorded or extended in meta by long writes."}),
		shardTimeouts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "wolke_core_shard_write_timeouts_total", Help: "Stripe writes that missed their quorum within ShardWriteTimeout."}),
		unsettled: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "wolke_core_unsettled_commits_total", Help: "Failed commits (PUTs, parts) whose outcome stayed unknown: their shards are left to garbage collection."}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.putBytes, m.getBytes, m.stripes, m.degraded, m.shardErrors,
		m.putSeconds, m.getSeconds, m.freeFailures, m.freedStripes, m.hedgedReads, m.groupRefreshes, m.intents, m.shardTimeouts, m.unsettled} {
		if err := reg.Register(c); err != nil {
			return nil, errs.E("core.New", errs.Invalid, "registering metrics", err)
		}
	}
	return m, nil
}

// shardError counts a failed shard operation. checksum marks a CRC mismatch
// found by the object layer itself.
func (m *metrics) shardError(op string, err error) {
	kind := "checksum"
	if err != nil {
		kind = strings.ReplaceAll(errs.KindOf(err).String(), " ", "_")
	}
	m.shardErrors.WithLabelValues(op, kind).Inc()
}
