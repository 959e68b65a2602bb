package relay

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the relay's Prometheus series.
type metrics struct {
	received    *prometheus.CounterVec
	invocations *prometheus.CounterVec
	durations   *prometheus.HistogramVec
	deliveries  *prometheus.CounterVec
	retries     prometheus.Counter
	// transport counts delivery attempts by how they were sent: direct
	// (the relay dialed) or agent.
	transport *prometheus.CounterVec
	// leaseLost counts the deliveries this process held whose lease it
	// found lost (another node may have claimed them): their attempts
	// are not recorded here.
	leaseLost prometheus.Counter
	// unknownLookups counts the store lookups of inputs the routes did
	// not know (newInput), by result.
	unknownLookups *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer, depth, agents func() int) (*metrics, error) {
	m := &metrics{
		received: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "relayfn_webhooks_received_total",
			Help: "Webhooks received, by bucket and answer status.",
		}, []string{"bucket", "status"}),
		invocations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "relayfn_function_invocations_total",
			Help: "Function invocations, by function and outcome (ok or error).",
		}, []string{"function", "outcome"}),
		durations: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "relayfn_function_duration_seconds",
			Help:    "Function invocation durations.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .05, .1, .5, 1, 5, 10},
		}, []string{"function"}),
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "relayfn_deliveries_total",
			Help: "Delivery attempts, by outcome (succeeded, failed, retry, stopped).",
		}, []string{"outcome"}),
		retries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "relayfn_delivery_retries_total",
			Help: "Delivery attempts that will be retried.",
		}),
		transport: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "relayfn_deliveries_by_transport_total",
			Help: "Delivery attempts, by transport (direct: the relay sent it; agent: an agent did).",
		}, []string{"transport"}),
		leaseLost: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "relayfn_delivery_lease_lost_total",
			Help: "Deliveries whose lease this relay lost before recording their attempt (another node may attempt them).",
		}),
		unknownLookups: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "relayfn_unknown_input_lookups_total",
			Help: "Webhooks to an input this node's routes did not know, looked up in the shared store, by result (found, absent, error, skipped: over the lookup rate).",
		}, []string{"result"}),
	}
	if reg == nil {
		return m, nil
	}
	held := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "relayfn_delivery_queue_depth",
		Help: "Deliveries held in memory by the delivery engine, waiting for a worker or in flight (retries wait in the store).",
	}, func() float64 { return float64(depth()) })
	connected := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "relayfn_agents_connected",
		Help: "Agents connected to this relay.",
	}, func() float64 { return float64(agents()) })
	for _, c := range []prometheus.Collector{m.received, m.invocations, m.durations, m.deliveries, m.retries, held, m.transport, connected, m.leaseLost, m.unknownLookups} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (m *metrics) invocation(fn string, ms float64, err error) {
	outcome := "ok"
	if err != nil {
		outcome = "error"
	}
	m.invocations.WithLabelValues(fn, outcome).Inc()
	m.durations.WithLabelValues(fn).Observe(ms / float64(time.Second/time.Millisecond))
}
