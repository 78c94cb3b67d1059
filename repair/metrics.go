package repair

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/wolke-cloud/wolke/internal/errs"
)

type metrics struct {
	shards   prometheus.Counter
	bytes    prometheus.Counter
	failures prometheus.Counter
	passes   prometheus.Counter
	declared prometheus.Counter
	replaced prometheus.Counter
	gcChunks prometheus.Counter
	gcBytes  prometheus.Counter
	gcHeld   prometheus.Counter
	hints    prometheus.Counter
	copied   prometheus.Counter
	moves    prometheus.Counter
	removed  prometheus.Counter
	spread   prometheus.Gauge
	degraded prometheus.Gauge
	queue    prometheus.Gauge

	volChunks prometheus.Counter
	volBytes  prometheus.Counter
	volAtRisk prometheus.Gauge
}

// register registers c, or returns the collector registered before under
// the same name (a worker restarted in the same process).
func register[C prometheus.Collector](reg prometheus.Registerer, c C, err *error) C {
	if reg == nil || *err != nil {
		return c
	}
	if e := reg.Register(c); e != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(e, &are) {
			if old, ok := are.ExistingCollector.(C); ok {
				return old
			}
		}
		*err = errs.E("repair.metrics", errs.Internal, e)
	}
	return c
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	var err error
	counter := func(name, help string) prometheus.Counter {
		return register(reg, prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help}), &err)
	}
	gauge := func(name, help string) prometheus.Gauge {
		return register(reg, prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: help}), &err)
	}
	m := &metrics{
		shards:   counter("wolke_repair_shards_rebuilt_total", "Shards rebuilt and written."),
		bytes:    counter("wolke_repair_rebuilt_bytes_total", "Bytes of shards rebuilt and written."),
		failures: counter("wolke_repair_failures_total", "Stripes whose rebuild failed."),
		passes:   counter("wolke_repair_passes_total", "Repair passes completed."),
		declared: counter("wolke_repair_disks_declared_lost_total", "Disks declared lost because their server was gone."),
		replaced: counter("wolke_repair_group_replacements_total", "Placement group members replaced."),
		gcChunks: counter("wolke_gc_deleted_chunks_total", "Unreferenced chunks deleted."),
		gcBytes:  counter("wolke_gc_deleted_bytes_total", "Bytes of unreferenced chunks deleted."),
		gcHeld:   counter("wolke_gc_intent_held_chunks_total", "Unreferenced chunks past the grace kept because a write intent holds them."),
		hints:    counter("wolke_repair_hints_done_total", "Repair hints (stripes committed with a stale placement group) checked and cleared."),
		copied:   counter("wolke_repair_shards_copied_total", "Shards copied from an old readable copy instead of reconstructed."),
		moves:    counter("wolke_repair_rebalance_moves_total", "Placement group members moved to even out disk fill."),
		removed:  counter("wolke_repair_disks_removed_total", "Draining disks set REMOVED once drained."),
		spread:   gauge("wolke_repair_fill_spread_ratio", "Fill of the fullest minus the emptiest active disk (0..1), at the last clean pass."),
		degraded: gauge("wolke_repair_stripes_degraded", "Stripes missing at least one shard, at the last pass."),
		queue:    gauge("wolke_repair_queue_length", "Stripes left to rebuild in the current pass."),

		volChunks: counter("wolke_repair_volume_chunks_repaired_total", "Block volume chunks re-replicated off disks that are not active."),
		volBytes:  counter("wolke_repair_volume_bytes_total", "Bytes written re-replicating block volume chunks."),
		volAtRisk: gauge("wolke_repair_volume_chunks_at_risk", "Block volume chunks left with a replica on a disk that is not active, at the last pass."),
	}
	if err != nil {
		return nil, err
	}
	return m, nil
}
