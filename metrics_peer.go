package p2pstream

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// peerSampleInterval is how often PeerMetrics samples lags.
const peerSampleInterval = time.Second

// PeerMetrics is a Prometheus collector of one Peer's streams: for each
// open stream its continuity, lag, buffer, connected peers, bytes received
// from peers and from the source, bytes sent, bytes received but not
// needed, chunks and bans (labelled with the stream ID and the peer's
// role, "source" or "viewer"), and two
// histograms over all streams: the startup delay of each stream joined,
// and the lag behind the live edge, sampled once a second. It reads
// [Stream.Stats] and does not slow the streams down.
//
// Register it with a prometheus.Registerer, or serve it with
// NewMetricsHandler or ListenAndServeMetrics. Close stops its sampling.
type PeerMetrics struct {
	peer     *Peer
	interval time.Duration

	startup prometheus.Histogram
	lag     prometheus.Histogram

	mu       sync.Mutex // guards observed
	observed map[*Stream]bool

	stop chan struct{}
	done chan struct{}
	once sync.Once

	streams    *prometheus.Desc
	continuity *prometheus.Desc
	streamLag  *prometheus.Desc
	buffered   *prometheus.Desc
	conns      *prometheus.Desc
	received   *prometheus.Desc
	sent       *prometheus.Desc
	wasted     *prometheus.Desc
	due        *prometheus.Desc
	onTime     *prometheus.Desc
	skipped    *prometheus.Desc
	bans       *prometheus.Desc
}

// NewPeerMetrics returns a collector of p's metrics and starts sampling
// them. Call Close when done with it.
func NewPeerMetrics(p *Peer) *PeerMetrics {
	return newPeerMetrics(p, peerSampleInterval)
}

func newPeerMetrics(p *Peer, interval time.Duration) *PeerMetrics {
	labels := []string{"stream", "role"}
	desc := func(name, help string, extra ...string) *prometheus.Desc {
		return prometheus.NewDesc("p2pstream_peer_"+name, help, append(labels[:2:2], extra...), nil)
	}
	m := &PeerMetrics{
		peer:     p,
		interval: interval,
		startup: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "p2pstream_peer_startup_seconds",
			Help:    "Time from joining a stream to its first chunk handed to the sink, one observation per stream.",
			Buckets: durationBuckets,
		}),
		lag: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "p2pstream_peer_lag_seconds",
			Help:    "Lag of the playing live streams behind their live edge, sampled once a second.",
			Buckets: durationBuckets,
		}),
		observed:   make(map[*Stream]bool),
		stop:       make(chan struct{}),
		done:       make(chan struct{}),
		streams:    prometheus.NewDesc("p2pstream_peer_streams", "Streams open at this peer, published or joined.", nil, nil),
		continuity: desc("continuity", "Chunks handed to the sink on time / chunks due; 1 before any is due."),
		streamLag:  desc("stream_lag_seconds", "How far behind the live edge the viewer plays."),
		buffered:   desc("buffered_seconds", "Verified stream ready ahead of the player."),
		conns:      desc("connected_peers", "Peers connected for this stream."),
		received:   desc("received_bytes_total", "Chunk bytes received, by where from (peers, source).", "from"),
		sent:       desc("sent_bytes_total", "Chunk bytes sent to other peers."),
		wasted:     desc("wasted_bytes_total", "Chunk bytes received that were not needed: held already, or no longer wanted."),
		due:        desc("chunks_due_total", "Chunks whose playback deadline has come."),
		onTime:     desc("chunks_on_time_total", "Due chunks handed to the sink by their deadline."),
		skipped:    desc("chunks_skipped_total", "Live chunks skipped because they missed their deadline."),
		bans:       desc("bans_total", "Peers banned for bad chunks or malformed frames, or refused for a while for leaving requests unanswered or not reading our messages."),
	}
	go m.run()
	return m
}

// Close stops the sampling. The collector still answers scrapes. Close may
// be called more than once.
func (m *PeerMetrics) Close() error {
	m.once.Do(func() { close(m.stop) })
	<-m.done
	return nil
}

func (m *PeerMetrics) run() {
	defer close(m.done)
	tick := time.NewTicker(m.interval)
	defer tick.Stop()
	for {
		select {
		case <-m.stop:
			return
		case <-tick.C:
			m.sample(true)
		}
	}
}

// sample observes the startup delay of streams that have started since the
// last call, and, if withLag, the lag of every playing live stream. It
// forgets closed streams.
func (m *PeerMetrics) sample(withLag bool) []streamStats {
	list := m.peer.openStreams()
	out := make([]streamStats, 0, len(list))
	m.mu.Lock()
	defer m.mu.Unlock()
	open := make(map[*Stream]bool, len(list))
	for _, s := range list {
		st := streamStats{s: s, Stats: s.Stats()}
		out = append(out, st)
		open[s] = true
		if st.Source || st.Delivered == 0 {
			continue
		}
		if !m.observed[s] && st.StartupDelay > 0 {
			m.observed[s] = true
			m.startup.Observe(st.StartupDelay.Seconds())
		}
		if withLag && s.Info().Kind == KindLive {
			m.lag.Observe(max(0, st.Lag).Seconds())
		}
	}
	for s := range m.observed {
		if !open[s] {
			delete(m.observed, s)
		}
	}
	return out
}

// streamStats is a stream and its stats at one moment.
type streamStats struct {
	s *Stream
	Stats
}

// Describe implements prometheus.Collector.
func (m *PeerMetrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		m.streams, m.continuity, m.streamLag, m.buffered, m.conns, m.received,
		m.sent, m.wasted, m.due, m.onTime, m.skipped, m.bans,
	} {
		ch <- d
	}
	m.startup.Describe(ch)
	m.lag.Describe(ch)
}

// Collect implements prometheus.Collector.
func (m *PeerMetrics) Collect(ch chan<- prometheus.Metric) {
	list := m.sample(false)
	ch <- prometheus.MustNewConstMetric(m.streams, prometheus.GaugeValue, float64(len(list)))
	for _, st := range list {
		role := "viewer"
		if st.Source {
			role = "source"
		}
		lv := []string{st.s.ID().String(), role}
		metric := func(d *prometheus.Desc, t prometheus.ValueType, v float64, extra ...string) {
			ch <- prometheus.MustNewConstMetric(d, t, v, append(lv[:2:2], extra...)...)
		}
		metric(m.continuity, prometheus.GaugeValue, st.Continuity)
		metric(m.streamLag, prometheus.GaugeValue, max(0, st.Lag).Seconds())
		metric(m.buffered, prometheus.GaugeValue, st.Buffered.Seconds())
		metric(m.conns, prometheus.GaugeValue, float64(st.Peers))
		metric(m.received, prometheus.CounterValue, float64(st.BytesFromPeers), "peers")
		metric(m.received, prometheus.CounterValue, float64(st.BytesFromSource), "source")
		metric(m.sent, prometheus.CounterValue, float64(st.BytesUp))
		metric(m.wasted, prometheus.CounterValue, float64(st.BytesWasted))
		metric(m.due, prometheus.CounterValue, float64(st.ChunksDue))
		metric(m.onTime, prometheus.CounterValue, float64(st.ChunksOnTime))
		metric(m.skipped, prometheus.CounterValue, float64(st.ChunksSkipped))
		metric(m.bans, prometheus.CounterValue, float64(st.Bans))
	}
	m.startup.Collect(ch)
	m.lag.Collect(ch)
}

// openStreams returns the streams open at p.
func (p *Peer) openStreams() []*Stream {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]*Stream, 0, len(p.streams))
	for _, s := range p.streams {
		out = append(out, s)
	}
	return out
}
