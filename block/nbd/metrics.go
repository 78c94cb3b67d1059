package nbd

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	requests    *prometheus.CounterVec // by command
	errors      *prometheus.CounterVec // by errno
	bytesRead   prometheus.Counter
	bytesWrite  prometheus.Counter
	inflight    prometheus.Gauge
	connections prometheus.Gauge
	handshakes  *prometheus.CounterVec // by result

	byCommand [cmdResize + 2]prometheus.Counter // requests children, resolved once
}

// request counts one request of command typ.
func (m *metrics) request(typ uint16) {
	i := int(typ)
	if i >= len(m.byCommand)-1 {
		i = len(m.byCommand) - 1 // "other"
	}
	m.byCommand[i].Inc()
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wolke_nbd_requests_total", Help: "NBD transmission requests by command.",
		}, []string{"command"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wolke_nbd_errors_total", Help: "NBD requests answered with an error, by errno.",
		}, []string{"errno"}),
		bytesRead: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "wolke_nbd_read_bytes_total", Help: "Bytes sent to clients by READ.",
		}),
		bytesWrite: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "wolke_nbd_written_bytes_total", Help: "Bytes received from clients by WRITE.",
		}),
		inflight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "wolke_nbd_inflight_requests", Help: "NBD requests being executed.",
		}),
		connections: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "wolke_nbd_connections", Help: "Open NBD connections.",
		}),
		handshakes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wolke_nbd_handshakes_total", Help: "NBD handshakes by result (ok, failed, aborted, shutdown).",
		}, []string{"result"}),
	}
	for i := range m.byCommand {
		m.byCommand[i] = m.requests.WithLabelValues(commandName(uint16(i)))
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.requests, m.errors, m.bytesRead, m.bytesWrite,
		m.inflight, m.connections, m.handshakes} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}
