package metric

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func TestRegisterTwice(t *testing.T) {
	reg := prometheus.NewRegistry()
	opts := prometheus.CounterOpts{Name: "wolke_test_things_total", Help: "Things."}
	first, err := Register(reg, prometheus.NewCounter(opts))
	if err != nil {
		t.Fatal(err)
	}
	first.Inc()
	second, err := Register(reg, prometheus.NewCounter(opts))
	if err != nil {
		t.Fatal(err)
	}
	second.Inc()
	if first != second {
		t.Fatal("second registration did not return the first collector")
	}
	// A different collector under the same name is an error.
	if _, err := Register(reg, prometheus.NewGauge(prometheus.GaugeOpts{Name: "wolke_test_things_total", Help: "Other."})); err == nil {
		t.Fatal("conflicting registration accepted")
	}
	if c, err := Register[prometheus.Counter](nil, first); err != nil || c != first {
		t.Fatal("nil registry")
	}
}
