package chunk

import (
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wolke-cloud/wolke/internal/errs"
)

// metrics of one server; every series carries the disk id.
type metrics struct {
	readBytes    *prometheus.CounterVec
	writtenBytes *prometheus.CounterVec
	ops          *prometheus.CounterVec
	capacity     *prometheus.GaugeVec
	used         *prometheus.GaugeVec
	failed       *prometheus.GaugeVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		readBytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wolke_chunk_read_bytes_total", Help: "Chunk bytes served.",
		}, []string{"disk"}),
		writtenBytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wolke_chunk_written_bytes_total", Help: "Chunk bytes stored.",
		}, []string{"disk"}),
		ops: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wolke_chunk_ops_total", Help: "Chunk requests by operation and result.",
		}, []string{"disk", "op", "result"}),
		capacity: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "wolke_chunk_disk_capacity_bytes", Help: "Data capacity of a disk.",
		}, []string{"disk"}),
		used: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "wolke_chunk_disk_used_bytes", Help: "Bytes in use on a disk.",
		}, []string{"disk"}),
		failed: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "wolke_chunk_disk_failed", Help: "1 once a disk gave too many I/O errors in a row.",
		}, []string{"disk"}),
	}
	for _, c := range []prometheus.Collector{m.readBytes, m.writtenBytes, m.ops, m.capacity, m.used, m.failed} {
		if err := reg.Register(c); err != nil {
			return nil, errs.E("chunk.newMetrics", errs.Internal, err)
		}
	}
	return m, nil
}

func (m *metrics) unregister(reg prometheus.Registerer) {
	for _, c := range []prometheus.Collector{m.readBytes, m.writtenBytes, m.ops, m.capacity, m.used, m.failed} {
		reg.Unregister(c)
	}
}

// result is the ops label of an outcome.
func result(err error) string {
	if err == nil {
		return "ok"
	}
	return strings.ReplaceAll(errs.KindOf(err).String(), " ", "_")
}
