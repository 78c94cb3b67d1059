package meta

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wolke-cloud/wolke/internal/metric"
	"github.com/wolke-cloud/wolke/meta/fsm"
)

type metrics struct {
	applied       *prometheus.CounterVec
	applyLatency  *prometheus.HistogramVec
	propose       *prometheus.HistogramVec
	leaderChanges prometheus.Counter
	isLeader      prometheus.Gauge
}

// newMetrics makes the node's metrics, labelled with its id (dev mode runs
// several nodes on one registry), and registers them when reg is set.
func newMetrics(id string, reg prometheus.Registerer) *metrics {
	labels := prometheus.Labels{"node": id}
	m := &metrics{
		applied: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wolke_meta_applied_commands_total", Help: "State machine commands applied, by op and result.",
			ConstLabels: labels,
		}, []string{"op", "result"}),
		applyLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "wolke_meta_apply_duration_seconds", Help: "Time the state machine took to apply one command.",
			ConstLabels: labels, Buckets: prometheus.ExponentialBuckets(1e-6, 4, 10),
		}, []string{"op"}),
		propose: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "wolke_meta_propose_duration_seconds", Help: "Time from proposing a command on the leader to its result.",
			ConstLabels: labels, Buckets: prometheus.ExponentialBuckets(1e-4, 3, 10),
		}, []string{"op"}),
		leaderChanges: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "wolke_meta_leader_changes_total", Help: "Leader changes this node observed.", ConstLabels: labels,
		}),
		isLeader: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "wolke_meta_is_leader", Help: "1 while this node is the raft leader.", ConstLabels: labels,
		}),
	}
	// A node restarted in the same process (dev mode, tests) finds its
	// collectors registered already and reuses them.
	m.applied, _ = metric.Register(reg, m.applied)
	m.applyLatency, _ = metric.Register(reg, m.applyLatency)
	m.propose, _ = metric.Register(reg, m.propose)
	m.leaderChanges, _ = metric.Register(reg, m.leaderChanges)
	m.isLeader, _ = metric.Register(reg, m.isLeader)
	return m
}

func (m *metrics) observeApply(op fsm.Op, err error, took time.Duration) {
	result := "ok"
	if err != nil {
		result = "error"
	}
	m.applied.WithLabelValues(op.String(), result).Inc()
	m.applyLatency.WithLabelValues(op.String()).Observe(took.Seconds())
}

func (m *metrics) setLeader(b bool) {
	if b {
		m.isLeader.Set(1)
	} else {
		m.isLeader.Set(0)
	}
}
