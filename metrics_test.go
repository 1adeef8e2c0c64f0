package p2pstream_test

import (
	"bufio"
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/p2pstream/p2pstream"
	"github.com/p2pstream/p2pstream/internal/ts"
)

// metrics is one scrape: each series ("name{labels}") and its value.
type metrics map[string]float64

// scrape gets url's metrics over HTTP.
func scrape(t *testing.T, url string) metrics {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	m := metrics{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		require.Positive(t, i, "line %q", line)
		v, err := strconv.ParseFloat(line[i+1:], 64)
		require.NoError(t, err, "line %q", line)
		m[line[:i]] = v
	}
	require.NoError(t, sc.Err())
	return m
}

// sum adds the values of every series of the metric name whose labels
// contain each of match (such as `from="peers"`).
func (m metrics) sum(name string, match ...string) float64 {
	var total float64
	for series, v := range m {
		base, labels, _ := strings.Cut(series, "{")
		if base != name {
			continue
		}
		ok := true
		for _, s := range match {
			ok = ok && strings.Contains(labels, s)
		}
		if ok {
			total += v
		}
	}
	return total
}

// has reports whether the scrape has any series of the metric name.
func (m metrics) has(name string) bool {
	for series := range m {
		if base, _, _ := strings.Cut(series, "{"); base == name {
			return true
		}
	}
	return false
}

// TestMetricsMoveAsStreamPlays scrapes the tracker's and a viewer's
// /metrics over loopback HTTP while a live stream plays to four viewers,
// and checks that the figures appear and move.
func TestMetricsMoveAsStreamPlays(t *testing.T) {
	sw := newSwarm(t)
	trackerMetrics, err := p2pstream.NewMetricsHandler(sw.tracker.Collector())
	require.NoError(t, err)
	trackerSrv := httptest.NewServer(trackerMetrics)
	defer trackerSrv.Close()

	src := ts.Synthetic(60*time.Second, 500_000, 500*time.Millisecond)
	pub := sw.peer()
	live, err := pub.Publish(context.Background(), bytes.NewReader(src), p2pstream.PublishOptions{Name: "metrics", ChunkDuration: 500 * time.Millisecond})
	require.NoError(t, err)
	_, streams := sw.join(live.ID(), 3)
	viewerPeer := sw.peer()
	viewer := p2pstream.NewPeerMetrics(viewerPeer)
	defer viewer.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := viewerPeer.Join(ctx, live.ID(), &collector{})
	require.NoError(t, err)
	streams = append(streams, s)
	viewerMetrics, err := p2pstream.NewMetricsHandler(viewer)
	require.NoError(t, err)
	viewerSrv := httptest.NewServer(viewerMetrics)
	defer viewerSrv.Close()

	stream := `stream="` + live.ID().String() + `"`
	var tr0, v0 metrics
	require.Eventually(t, func() bool {
		tr0, v0 = scrape(t, trackerSrv.URL), scrape(t, viewerSrv.URL)
		return tr0.sum("p2pstream_tracker_stream_viewers", stream) == 4 &&
			v0.sum("p2pstream_peer_startup_seconds_count") == 1 &&
			v0.sum("p2pstream_peer_chunks_due_total") > 0
	}, 30*time.Second, 100*time.Millisecond, "every viewer announced; the viewer with metrics started playing")

	assert.Equal(t, 1.0, tr0.sum("p2pstream_tracker_streams"))
	assert.Equal(t, 5.0, tr0.sum("p2pstream_tracker_stream_peers", stream, `name="metrics"`))
	assert.Positive(t, tr0.sum("p2pstream_tracker_announces_total", `code="200"`))
	assert.Equal(t, 1.0, v0.sum("p2pstream_peer_streams"))
	assert.Eventually(t, func() bool {
		return scrape(t, trackerSrv.URL).sum("p2pstream_tracker_viewer_startup_seconds_count") == 4
	}, 30*time.Second, 100*time.Millisecond, "the tracker observes each viewer's startup once")
	assert.InDelta(t, 1.0, v0.sum("p2pstream_peer_continuity", stream, `role="viewer"`), 0.5)
	for _, name := range []string{
		"p2pstream_tracker_stream_continuity", "p2pstream_tracker_stream_p2p_ratio",
		"p2pstream_tracker_stream_source_saving", "p2pstream_tracker_stream_lag_p50_seconds",
		"p2pstream_tracker_stream_bans", "p2pstream_tracker_viewer_lag_seconds_bucket",
		"p2pstream_tracker_announce_duration_seconds_count", "p2pstream_tracker_viewer_startup_seconds_bucket", "go_goroutines",
	} {
		assert.True(t, tr0.has(name), "tracker metric %s", name)
	}
	for _, name := range []string{
		"p2pstream_peer_stream_lag_seconds", "p2pstream_peer_buffered_seconds", "p2pstream_peer_connected_peers",
		"p2pstream_peer_sent_bytes_total", "p2pstream_peer_wasted_bytes_total", "p2pstream_peer_bans_total", "p2pstream_peer_chunks_skipped_total",
		"p2pstream_peer_lag_seconds_bucket", "process_open_fds",
	} {
		assert.True(t, v0.has(name), "peer metric %s", name)
	}

	// As the stream plays, the counters and histograms grow.
	received := func(m metrics, prefix string) float64 {
		return m.sum(prefix+"received_bytes", `from="peers"`) + m.sum(prefix+"received_bytes", `from="source"`)
	}
	var tr1, v1 metrics
	require.Eventually(t, func() bool {
		tr1, v1 = scrape(t, trackerSrv.URL), scrape(t, viewerSrv.URL)
		return tr1.sum("p2pstream_tracker_announces_total") > tr0.sum("p2pstream_tracker_announces_total") &&
			received(tr1, "p2pstream_tracker_stream_") > received(tr0, "p2pstream_tracker_stream_") &&
			tr1.sum("p2pstream_tracker_stream_source_upload_bytes") > tr0.sum("p2pstream_tracker_stream_source_upload_bytes") &&
			tr1.sum("p2pstream_tracker_viewer_lag_seconds_count") > tr0.sum("p2pstream_tracker_viewer_lag_seconds_count") &&
			v1.sum("p2pstream_peer_received_bytes_total") > v0.sum("p2pstream_peer_received_bytes_total") &&
			v1.sum("p2pstream_peer_chunks_due_total") > v0.sum("p2pstream_peer_chunks_due_total") &&
			v1.sum("p2pstream_peer_lag_seconds_count") > v0.sum("p2pstream_peer_lag_seconds_count")
	}, 30*time.Second, 100*time.Millisecond, "the figures move as the stream plays")
	assert.Equal(t, 4.0, tr1.sum("p2pstream_tracker_viewer_startup_seconds_count"), "once per viewer, however often it announces")

	// The collectors keep Prometheus's rules (descriptions match what they
	// collect, no duplicate series).
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(sw.tracker.Collector()))
	require.NoError(t, reg.Register(viewer))
	_, err = reg.Gather()
	require.NoError(t, err)

	var fromPeers, total int64
	for _, s := range streams {
		st := s.Stats()
		fromPeers += st.BytesFromPeers
		total += st.BytesFromPeers + st.BytesFromSource
	}
	t.Logf("tracker: %.0f announces, P2P ratio %.2f, source saving %.2f; viewer: %.0f bytes received, continuity %.3f (viewers' own P2P ratio %.2f)",
		tr1.sum("p2pstream_tracker_announces_total"), tr1.sum("p2pstream_tracker_stream_p2p_ratio"),
		tr1.sum("p2pstream_tracker_stream_source_saving"), v1.sum("p2pstream_peer_received_bytes_total"),
		v1.sum("p2pstream_peer_continuity"), float64(fromPeers)/float64(max(1, total)))
}

func TestNewMetricsHandlerDuplicate(t *testing.T) {
	tr := &p2pstream.Tracker{}
	_, err := p2pstream.NewMetricsHandler(tr.Collector(), tr.Collector())
	var dup prometheus.AlreadyRegisteredError
	assert.ErrorAs(t, err, &dup)
}

func TestListenAndServeMetrics(t *testing.T) {
	tr := &p2pstream.Tracker{}
	require.Error(t, p2pstream.ListenAndServeMetrics(context.Background(), "256.0.0.1:1", tr.Collector()))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p2pstream.ListenAndServeMetrics(ctx, "127.0.0.1:0", tr.Collector()) }()
	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("ListenAndServeMetrics did not return after its context ended")
	}
}
