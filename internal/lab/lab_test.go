package lab

import (
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/p2pstream/p2pstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestSmallLiveSwarm runs the lab at a small size and checks that every
// figure is measured and the swarm carried the stream.
func TestSmallLiveSwarm(t *testing.T) {
	cfg := Config{Peers: 10, Bitrate: 500_000, Chunk: 500 * time.Millisecond, Duration: 6 * time.Second, GCLimit: -1, Logf: t.Logf}
	p2p, err := RunLive(cfg)
	require.NoError(t, err)
	t.Log(Header)
	t.Log(p2p)
	assert.Equal(t, "p2p", p2p.Mode)
	assert.Len(t, p2p.Series, 6) // one sample a second
	assert.Greater(t, p2p.Continuity, 0.5)
	assert.Positive(t, p2p.StartupP50)
	assert.Positive(t, p2p.SourceUpload)
	assert.Positive(t, p2p.HeapPerPeer)
	assert.Zero(t, p2p.NeverStarted)

	cs, err := RunClientServer(cfg)
	require.NoError(t, err)
	t.Log(cs)
	assert.Equal(t, "client-server", cs.Mode)
	// Ten viewers cannot all be served by a source that uploads four copies.
	assert.Greater(t, cs.SourceUpload, p2p.SourceUpload)
}

// TestBaselineNeverStarted: client-server viewers that get no chunk count
// as missing every chunk of the run, not as missing none.
func TestBaselineNeverStarted(t *testing.T) {
	// A source with a tenth of the stream's rate for 20 viewers: none gets
	// a whole chunk in 2 s.
	cfg := Config{Peers: 20, Bitrate: 500_000, SourceUpload: 0.1, Duration: 2 * time.Second, GCLimit: -1, Logf: t.Logf}
	cs, err := RunClientServer(cfg)
	require.NoError(t, err)
	t.Log(cs)
	assert.Equal(t, 20, cs.NeverStarted)
	assert.Zero(t, cs.Continuity)
	assert.Equal(t, "client-server: 20 of 20 viewers got no chunk by the end of the run", cs.Note())
}

func TestPlot(t *testing.T) {
	r := Result{Mode: "p2p", Series: []Sample{{T: time.Second, Continuity: 1, LagP50: time.Second, SourceUpload: 1.2}, {T: 2 * time.Second, Continuity: 0.9, LagP50: 2 * time.Second, SourceUpload: 1.1}}}
	path := t.TempDir() + "/plot.png"
	require.NoError(t, Plot(path, "test", r, Result{Mode: "client-server", Series: r.Series}))
	assert.FileExists(t, path)
}

// BenchmarkSwarm runs a 30-viewer live swarm for 10 s and reports the lab's
// figures, with the client-server baseline's continuity beside them.
//
//	go test -run '^$' -bench Swarm -benchtime 1x ./internal/lab
func BenchmarkSwarm(b *testing.B) {
	cfg := Config{Peers: 30, Bitrate: 1_000_000, Duration: 10 * time.Second}
	for b.Loop() {
		p2p, err := RunLive(cfg)
		require.NoError(b, err)
		cs, err := RunClientServer(cfg)
		require.NoError(b, err)
		b.ReportMetric(p2p.Continuity, "continuity")
		b.ReportMetric(cs.Continuity, "cs-continuity")
		b.ReportMetric(p2p.SourceUpload, "source-up-x")
		b.ReportMetric(cs.SourceUpload, "cs-source-up-x")
		b.ReportMetric(p2p.StartupP95.Seconds(), "startup-p95-s")
		b.ReportMetric(p2p.LagP95.Seconds(), "lag-p95-s")
		b.ReportMetric(p2p.P2PRatio, "p2p-ratio")
		b.ReportMetric(float64(p2p.HeapPerPeer), "heap-B/peer")
	}
}

func TestDiagCounts(t *testing.T) {
	d := newDiag()
	log := slog.New(d)
	log.Debug("request", "seq", 1, "source", false)
	log.Debug("request", "seq", 2, "source", true)
	log.Debug("request", "seq", 3, "source", true)
	log.Debug("deadline missed", "reason", "requested from peer", "seq", uint64(7), "requested", 300*time.Millisecond, "seen", 4*time.Second)
	log.Debug("deadline missed", "reason", "requested from peer", "seq", uint64(7), "requested", 100*time.Millisecond, "seen", 6*time.Second)
	log.Debug("deadline missed", "reason", "no neighbour has it", "seq", uint64(9))
	for _, age := range []time.Duration{time.Second, 2 * time.Second, 3 * time.Second} {
		log.Debug("chunk stored", "seq", 1, "age", age)
		log.Debug("chunk head", "seq", 1, "age", age/2)
	}
	log.Debug("chunk stored", "seq", uint64(2), "age", 4*time.Second, "pulled", 3)
	log.Debug("chunk stored", "seq", uint64(3), "age", 2*time.Second, "pulled", 0)
	log.Debug("banned peer", "peer", "10.0.0.7:7000", "err", errors.New("chunk 12: piece 3 does not match its hash"))
	got := d.String()
	for _, want := range []string{
		"       2  request (source)\n",
		"       1  request\n",
		"       2  deadline missed: requested from peer (mean wait 200ms) (advertised 5s before)\n",
		"       1  deadline missed: no neighbour has it\n",
		"chunks missed by the most viewers (seq: viewers): 7: 2 9: 1; 2 chunks missed by any\n",
		"chunk heads received by viewers: 3, age since cut p50 1s, p95 1s, p99 1s\n",
		"chunks stored by viewers: 5, age since cut p50 2s, p95 3s, p99 3s\n",
		"  of them, all pieces down the trees: 1, age since cut p50 2s, p95 2s, p99 2s\n",
		"  of them, some pieces pulled: 1, age since cut p50 4s, p95 4s, p99 4s\n",
		"chunk age at p50 when stored, by seq: 1:2.0s 2:4.0s 3:2.0s\n",
		"       1  banned peer: chunk N: piece N does not match its hash\n",
	} {
		assert.Contains(t, got, want)
	}
}

// TestTreeFormation: how many viewers get all four stripes, and how deep
// their deepest stripe is, among those fed any.
func TestTreeFormation(t *testing.T) {
	tests := []struct {
		name string
		all  []p2pstream.Stats
		want string
	}{
		{"none yet", []p2pstream.Stats{{}, {}}, "0 of 2 viewers fed all four stripes"},
		{"forming", []p2pstream.Stats{
			{TreeStripes: 4, TreeDepth: 2},
			{TreeStripes: 4, TreeDepth: 5},
			{TreeStripes: 2, TreeDepth: 3},
			{},
		}, "2 of 4 viewers fed all four stripes, deepest stripe at depth p50 3, p95 5"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, treeFormation(tc.all))
		})
	}
}
