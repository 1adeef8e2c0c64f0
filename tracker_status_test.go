package p2pstream

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestNewStreamStatus(t *testing.T) {
	id := testStreamID(1)
	source := PeerStatus{ID: testPeerID(0), Source: true, Stats: Stats{Source: true, BytesUp: 1000, Bans: 1}}
	viewer := func(n int, s Stats) PeerStatus { return PeerStatus{ID: testPeerID(n), Stats: s} }
	tests := []struct {
		name  string
		peers []PeerStatus
		want  StreamStatus
	}{
		{
			name:  "source only",
			peers: []PeerStatus{source},
			want:  StreamStatus{Peers: 1, SourceUpload: 1000, Bans: 1},
		},
		{
			name: "viewers",
			peers: []PeerStatus{source,
				viewer(1, Stats{Continuity: 1, BytesFromSource: 1000, Lag: 1 * time.Second}),
				viewer(2, Stats{Continuity: 0.8, BytesFromPeers: 900, BytesFromSource: 100, Lag: 3 * time.Second, Bans: 2}),
				viewer(3, Stats{Continuity: 0.9, BytesFromPeers: 1000, Lag: 2 * time.Second}),
			},
			want: StreamStatus{Peers: 4, Viewers: 3, Continuity: 0.9, P2PRatio: 1900.0 / 3000, SourceUpload: 1000,
				Received: 3000, LagP50: 2 * time.Second, LagMax: 3 * time.Second, Bans: 3},
		},
		{
			name: "even count takes the lower median",
			peers: []PeerStatus{
				viewer(1, Stats{Continuity: 1, Lag: 1 * time.Second}),
				viewer(2, Stats{Continuity: 1, Lag: 4 * time.Second}),
			},
			want: StreamStatus{Peers: 2, Viewers: 2, Continuity: 1, LagP50: 1 * time.Second, LagMax: 4 * time.Second},
		},
		{
			name: "lies are clamped",
			peers: []PeerStatus{
				viewer(1, Stats{Continuity: 1e300, BytesFromPeers: -5, BytesFromSource: 10, Lag: -time.Second, Bans: -9}),
				viewer(2, Stats{Continuity: math.NaN()}),
			},
			want: StreamStatus{Peers: 2, Viewers: 2, Continuity: 0.5, Received: 10},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := newStreamStatus(storedStream{id: id, peers: tt.peers}, false)
			tt.want.Info = StreamInfo{ID: id}
			assert.InDelta(t, tt.want.P2PRatio, got.P2PRatio, 1e-9)
			assert.InDelta(t, tt.want.Continuity, got.Continuity, 1e-9)
			got.P2PRatio, tt.want.P2PRatio = 0, 0
			got.Continuity, tt.want.Continuity = 0, 0
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestStreamStatusSourceSaving(t *testing.T) {
	tests := []struct {
		upload, received int64
		want             float64
	}{
		{0, 0, 0},
		{1000, 1000, 0},
		{250, 1000, 0.75},
		{2000, 1000, 0}, // the source sent more than viewers kept
	}
	for _, tt := range tests {
		s := StreamStatus{SourceUpload: tt.upload, Received: tt.received}
		assert.InDelta(t, tt.want, s.SourceSaving(), 1e-9, "%+v", tt)
	}
}

func TestTrackerPageFormats(t *testing.T) {
	assert.Equal(t, "512 B", formatBytes(512))
	assert.Equal(t, "1.5 KiB", formatBytes(1536))
	assert.Equal(t, "3.0 MiB", formatBytes(3<<20))
	assert.Equal(t, "2.0 GiB", formatBytes(2<<30))
	assert.Equal(t, "350 ms", formatDuration(350*time.Millisecond))
	assert.Equal(t, "4.2 s", formatDuration(4200*time.Millisecond))
	assert.Equal(t, "3 min", formatDuration(3*time.Minute+5*time.Second))
	assert.Equal(t, "800 kbit/s", formatRate(800_000))
	assert.Equal(t, "2.5 Mbit/s", formatRate(2_500_000))
	assert.Equal(t, "good", health(1))
	assert.Equal(t, "warn", health(0.95))
	assert.Equal(t, "bad", health(0.5))
	assert.Equal(t, "–", formatTrees(Stats{}), "pulling")
	assert.Equal(t, "4/4 · depth 5 · 3 feeds", formatTrees(Stats{TreeStripes: 4, TreeDepth: 5, TreeFeeds: 3}))
	assert.Equal(t, "4 feeds", formatTrees(Stats{Source: true, TreeFeeds: 4}))
	assert.Equal(t, "4/4 · depth 255 · 0 feeds", formatTrees(Stats{TreeStripes: 99, TreeDepth: 1 << 40, TreeFeeds: -3}), "a lying peer")
}
