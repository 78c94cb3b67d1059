package gateway

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	requests *prometheus.CounterVec
	in       *prometheus.CounterVec
	out      *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wolke_gateway_requests_total",
			Help: "Requests served, by operation and HTTP status.",
		}, []string{"operation", "status"}),
		in: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wolke_gateway_received_bytes_total",
			Help: "Request body bytes read, by operation.",
		}, []string{"operation"}),
		out: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wolke_gateway_sent_bytes_total",
			Help: "Response body bytes written, by operation.",
		}, []string{"operation"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "wolke_gateway_request_duration_seconds",
			Help:    "Time to serve a request, by operation.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 9),
		}, []string{"operation"}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.requests, m.in, m.out, m.latency} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}

func (m *metrics) observe(op string, status int, in, out int64, d time.Duration) {
	m.requests.WithLabelValues(op, strconv.Itoa(status)).Inc()
	m.in.WithLabelValues(op).Add(float64(in))
	m.out.WithLabelValues(op).Add(float64(out))
	m.latency.WithLabelValues(op).Observe(d.Seconds())
}
