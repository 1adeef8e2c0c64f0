package p2pstream

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Prometheus metrics. A Tracker's come from [Tracker.Collector], a Peer's
// from [NewPeerMetrics]; [NewMetricsHandler] serves any of them over HTTP,
// and [ListenAndServeMetrics] on an address of its own.
// docs/OPERATIONS.md lists every metric.

// Buckets of the duration histograms, in seconds: startup delays and lags
// from a tenth of a second to a minute.
var durationBuckets = []float64{0.1, 0.25, 0.5, 1, 2, 3, 5, 8, 13, 21, 34, 60}

// NewMetricsHandler returns an HTTP handler that serves the metrics of cs,
// and those of the Go runtime and of this process, in the Prometheus
// exposition format. It fails if two collectors export the same metric.
func NewMetricsHandler(cs ...prometheus.Collector) (http.Handler, error) {
	reg := prometheus.NewRegistry()
	cs = append(cs, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorLog: nil, MaxRequestsInFlight: 4}), nil
}

// ListenAndServeMetrics serves the metrics of cs (see NewMetricsHandler) at
// http://addr/metrics until ctx ends; then it shuts the server down and
// returns nil. It returns an error at once if it cannot listen on addr.
func ListenAndServeMetrics(ctx context.Context, addr string, cs ...prometheus.Collector) error {
	h, err := NewMetricsHandler(cs...)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", h)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
	}
	if err := <-done; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
