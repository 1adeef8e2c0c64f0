package p2pstream

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestMemoryStoreSampleIsUniform: with room for one peer, every other peer
// turns up sooner or later.
func TestMemoryStoreSampleIsUniform(t *testing.T) {
	ms := newMemoryStore(time.Minute)
	ctx, now, id := context.Background(), time.Now(), testStreamID(1)
	const others = 4
	for n := range others {
		_, err := ms.announce(ctx, id, PeerStatus{ID: testPeerID(n), LastSeen: now}, nil, now, 1)
		require.NoError(t, err)
	}
	counts := map[PeerID]int{}
	const draws = 400 // each peer is missed in all draws with probability (3/4)^400
	for range draws {
		res, err := ms.announce(ctx, id, PeerStatus{ID: testPeerID(99), LastSeen: now}, nil, now, 1)
		require.NoError(t, err)
		require.Len(t, res.peers, 1)
		counts[res.peers[0].ID]++
	}
	assert.Len(t, counts, others)
	assert.NotContains(t, counts, testPeerID(99))
}

func TestMemoryStoreSources(t *testing.T) {
	tests := []struct {
		name    string
		sources int
		viewers int
		max     int
		want    int // peers answered to a new viewer
	}{
		{"source and room", 1, 5, 10, 6},
		{"source and no room", 1, 5, 2, 2},
		{"two sources", 2, 5, 4, 4},
		{"sources fill max", 3, 5, 2, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ms := newMemoryStore(time.Minute)
			ctx, now, id := context.Background(), time.Now(), testStreamID(1)
			info := liveInfo(id, "x")
			for n := range tt.sources {
				_, err := ms.announce(ctx, id, PeerStatus{ID: testPeerID(n), Source: true, LastSeen: now}, info, now, tt.max)
				require.NoError(t, err)
			}
			for n := range tt.viewers {
				_, err := ms.announce(ctx, id, PeerStatus{ID: testPeerID(100 + n), LastSeen: now}, nil, now, tt.max)
				require.NoError(t, err)
			}
			res, err := ms.announce(ctx, id, PeerStatus{ID: testPeerID(999), LastSeen: now}, nil, now, tt.max)
			require.NoError(t, err)
			require.Len(t, res.peers, tt.want)
			for i, p := range res.peers {
				assert.Equal(t, i < tt.sources, p.Source, "sources first: %v", res.peers)
			}
		})
	}
}

func TestMemoryStoreRegistered(t *testing.T) {
	ms := newMemoryStore(time.Minute)
	ctx, now, id := context.Background(), time.Now(), testStreamID(1)
	viewer := PeerStatus{ID: testPeerID(1), LastSeen: now}
	source := PeerStatus{ID: testPeerID(0), Source: true, LastSeen: now}

	res, err := ms.announce(ctx, id, viewer, nil, now, 5)
	require.NoError(t, err)
	assert.False(t, res.registered)
	assert.Nil(t, res.info)

	res, err = ms.announce(ctx, id, source, liveInfo(id, "a"), now, 5)
	require.NoError(t, err)
	assert.True(t, res.registered, "the first info registers the stream")

	res, err = ms.announce(ctx, id, source, liveInfo(id, "b"), now, 5)
	require.NoError(t, err)
	assert.False(t, res.registered, "later ones update it")
	assert.Equal(t, "b", res.info.Name)

	res.info.Name = "changed by the caller"
	st, err := ms.stream(ctx, id, now)
	require.NoError(t, err)
	assert.Equal(t, "b", st.info.Name, "the store keeps its own copy")
}

func TestMemoryStorePeersPerStreamLimit(t *testing.T) {
	ms := newMemoryStore(time.Minute)
	ctx, now, id := context.Background(), time.Now(), testStreamID(1)
	for n := range maxTrackerPeersPerStream {
		_, err := ms.announce(ctx, id, PeerStatus{ID: testPeerID(n), LastSeen: now}, nil, now, 1)
		require.NoError(t, err)
	}
	_, err := ms.announce(ctx, id, PeerStatus{ID: testPeerID(maxTrackerPeersPerStream), LastSeen: now}, nil, now, 1)
	require.ErrorIs(t, err, errTrackerFull)
	_, err = ms.announce(ctx, id, PeerStatus{ID: testPeerID(0), LastSeen: now}, nil, now, 1)
	require.NoError(t, err, "known peers may still announce")

	later := now.Add(time.Minute)
	_, err = ms.announce(ctx, id, PeerStatus{ID: testPeerID(maxTrackerPeersPerStream), LastSeen: later}, nil, later, 1)
	require.NoError(t, err, "expired entries make room")
}

// TestMemoryStoreSweep: streams nobody asks about still go away.
func TestMemoryStoreSweep(t *testing.T) {
	ms := newMemoryStore(10 * time.Second)
	ctx, now := context.Background(), time.Now()
	for n := range 5 {
		_, err := ms.announce(ctx, testStreamID(byte(n)), PeerStatus{ID: testPeerID(1), LastSeen: now}, nil, now, 1)
		require.NoError(t, err)
	}
	later := now.Add(10 * time.Second)
	_, err := ms.announce(ctx, testStreamID(99), PeerStatus{ID: testPeerID(1), LastSeen: later}, nil, later, 1)
	require.NoError(t, err)
	ms.mu.Lock()
	defer ms.mu.Unlock()
	assert.Len(t, ms.byID, 1, "an announce swept the expired streams")
}

// TestMemoryStoreSampleSkipsExpired: expired entries met while sampling are
// removed, and the sample is made of live peers only.
func TestMemoryStoreSampleSkipsExpired(t *testing.T) {
	ms := newMemoryStore(10 * time.Second)
	ctx, t0, id := context.Background(), time.Now(), testStreamID(1)
	t1 := t0.Add(5 * time.Second)
	for n := range 20 {
		at := t0
		if n%2 == 1 {
			at = t1
		}
		_, err := ms.announce(ctx, id, PeerStatus{ID: testPeerID(n), Source: n == 1, LastSeen: at}, nil, at, 1)
		require.NoError(t, err)
	}
	t2 := t0.Add(10 * time.Second) // the even peers expire
	res, err := ms.announce(ctx, id, PeerStatus{ID: testPeerID(99), LastSeen: t2}, nil, t2, 100)
	require.NoError(t, err)
	require.Len(t, res.peers, 10)
	assert.Equal(t, testPeerID(1), res.peers[0].ID, "the source first")
	for _, p := range res.peers {
		assert.Equal(t, 1, int(p.ID[2])%2, "peer %s is live", p.ID)
	}
	st, err := ms.stream(ctx, id, t2)
	require.NoError(t, err)
	assert.Len(t, st.peers, 11)
}
