package p2pstream

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// collectTimeout bounds how long a scrape waits for the store.
const collectTimeout = 5 * time.Second

// trackerMetrics is a tracker's Prometheus collector: counters the tracker
// updates as it serves, and per-stream gauges read from the store at each
// scrape.
type trackerMetrics struct {
	t *Tracker

	announces  *prometheus.CounterVec // by HTTP status code
	latency    prometheus.Histogram   // seconds per announce
	viewerLag  prometheus.Histogram   // lag each viewer announces
	startup    prometheus.Histogram   // startup delay each viewer announces, once
	storeFails prometheus.Counter     // scrapes the store could not answer

	mu      sync.Mutex              // guards started
	started map[startupKey]struct{} // viewers whose startup delay was observed

	streams      *prometheus.Desc
	peers        *prometheus.Desc
	viewers      *prometheus.Desc
	continuity   *prometheus.Desc
	p2pRatio     *prometheus.Desc
	received     *prometheus.Desc
	sourceUpload *prometheus.Desc
	sourceSaving *prometheus.Desc
	lagP50       *prometheus.Desc
	lagMax       *prometheus.Desc
	bans         *prometheus.Desc
}

func newTrackerMetrics(t *Tracker) *trackerMetrics {
	stream := []string{"stream", "name"}
	desc := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("p2pstream_tracker_"+name, help, append(stream[:len(stream):len(stream)], labels...), nil)
	}
	return &trackerMetrics{
		t: t,
		announces: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "p2pstream_tracker_announces_total",
			Help: "Announces answered, by HTTP status code (200 ok, 429 rate limited, 4xx refused, 5xx failed).",
		}, []string{"code"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "p2pstream_tracker_announce_duration_seconds",
			Help:    "Time to answer an announce, store included.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 4, 9), // 0.1 ms to 6.5 s
		}),
		viewerLag: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "p2pstream_tracker_viewer_lag_seconds",
			Help:    "Lag behind the live edge that viewers report, one observation per announce.",
			Buckets: durationBuckets,
		}),
		startup: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "p2pstream_tracker_viewer_startup_seconds",
			Help:    "Startup delay that viewers report (join to first chunk), once per viewer and stream.",
			Buckets: durationBuckets,
		}),
		started: make(map[startupKey]struct{}),
		storeFails: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "p2pstream_tracker_store_errors_total",
			Help: "Scrapes whose per-stream metrics could not be read from the store.",
		}),
		streams:      prometheus.NewDesc("p2pstream_tracker_streams", "Streams with live entries.", nil, nil),
		peers:        desc("stream_peers", "Live peers of the stream, its source included."),
		viewers:      desc("stream_viewers", "Live peers of the stream other than its source."),
		continuity:   desc("stream_continuity", "Mean continuity of the viewers: chunks on time / chunks due."),
		p2pRatio:     desc("stream_p2p_ratio", "Share of the bytes viewers received that came from peers, not the source."),
		received:     desc("stream_received_bytes", "Bytes the live viewers say they received, by where from (peers, source).", "from"),
		sourceUpload: desc("stream_source_upload_bytes", "Bytes the source says it has sent to peers."),
		sourceSaving: desc("stream_source_saving", "Share of the bytes viewers received that the source did not have to send."),
		lagP50:       desc("stream_lag_p50_seconds", "Median lag of the viewers behind the live edge."),
		lagMax:       desc("stream_lag_max_seconds", "Largest lag of a viewer behind the live edge."),
		bans:         desc("stream_bans", "Bans of misbehaving peers that the live peers report."),
	}
}

// Collector returns the tracker's Prometheus metrics, to register with a
// prometheus.Registerer or to serve with NewMetricsHandler or
// ListenAndServeMetrics. Counters count this tracker's requests; the
// per-stream gauges describe the swarms in its store, which trackers that
// share a Redis report alike.
func (t *Tracker) Collector() prometheus.Collector {
	t.initOnce.Do(t.init)
	return t.metrics
}

// Describe implements prometheus.Collector.
func (m *trackerMetrics) Describe(ch chan<- *prometheus.Desc) {
	m.announces.Describe(ch)
	m.latency.Describe(ch)
	m.viewerLag.Describe(ch)
	m.startup.Describe(ch)
	m.storeFails.Describe(ch)
	for _, d := range []*prometheus.Desc{
		m.streams, m.peers, m.viewers, m.continuity, m.p2pRatio, m.received,
		m.sourceUpload, m.sourceSaving, m.lagP50, m.lagMax, m.bans,
	} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (m *trackerMetrics) Collect(ch chan<- prometheus.Metric) {
	m.announces.Collect(ch)
	m.latency.Collect(ch)
	m.viewerLag.Collect(ch)
	m.startup.Collect(ch)
	defer m.storeFails.Collect(ch)

	ctx, cancel := context.WithTimeout(context.Background(), collectTimeout)
	defer cancel()
	list, err := m.t.statusList(ctx, false)
	if err != nil {
		m.storeFails.Inc()
		m.t.log().Warn("metrics: reading the store", "err", err)
		return
	}
	ch <- prometheus.MustNewConstMetric(m.streams, prometheus.GaugeValue, float64(len(list)))
	for _, s := range list {
		lv := []string{s.Info.ID.String(), s.Info.Name}
		gauge := func(d *prometheus.Desc, v float64, extra ...string) {
			// Names come from peers: a bad one spoils its own series only.
			metric, err := prometheus.NewConstMetric(d, prometheus.GaugeValue, v, append(lv[:2:2], extra...)...)
			if err != nil {
				metric = prometheus.NewInvalidMetric(d, err)
			}
			ch <- metric
		}
		fromPeers := s.P2PRatio * float64(s.Received)
		gauge(m.peers, float64(s.Peers))
		gauge(m.viewers, float64(s.Viewers))
		gauge(m.continuity, s.Continuity)
		gauge(m.p2pRatio, s.P2PRatio)
		gauge(m.received, fromPeers, "peers")
		gauge(m.received, float64(s.Received)-fromPeers, "source")
		gauge(m.sourceUpload, float64(s.SourceUpload))
		gauge(m.sourceSaving, s.SourceSaving())
		gauge(m.lagP50, s.LagP50.Seconds())
		gauge(m.lagMax, s.LagMax.Seconds())
		gauge(m.bans, float64(s.Bans))
	}
}

// observeAnnounce records an answered announce.
func (m *trackerMetrics) observeAnnounce(code int, took time.Duration, a *Announce) {
	m.announces.WithLabelValues(strconv.Itoa(code)).Inc()
	m.latency.Observe(took.Seconds())
	if code != http.StatusOK || a == nil || a.Event != "" || a.Info != nil || a.Stats.Source || a.Stats.Delivered == 0 {
		return
	}
	m.viewerLag.Observe(max(0, a.Stats.Lag).Seconds())
	if a.Stats.StartupDelay > 0 {
		m.mu.Lock()
		defer m.mu.Unlock()
		k := startupKey{a.Stream, a.Peer}
		if _, ok := m.started[k]; !ok {
			if len(m.started) >= maxStartupKeys {
				clear(m.started)
			}
			m.started[k] = struct{}{}
			m.startup.Observe(a.Stats.StartupDelay.Seconds())
		}
	}
}

// maxStartupKeys bounds the viewers a tracker remembers having observed the
// startup delay of; past it, it forgets them all, and observes again those
// that announce on (a rare double count, for bounded memory).
const maxStartupKeys = 100_000

// startupKey is one viewer of one stream.
type startupKey struct {
	stream StreamID
	peer   PeerID
}

// statusRecorder remembers the status code a handler answered with.
type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.code == 0 {
		r.code = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.code == 0 {
		r.code = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}
