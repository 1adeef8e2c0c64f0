package p2pstream

import (
	"crypto/ed25519"
	"crypto/rand"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/p2pstream/p2pstream/internal/wire"
)

// TestSourceRestartRejoins: a Have from the proved source for a chunk older
// than the whole window means the publisher started over; the viewer drops
// the earlier run and joins the new one, keeping its statistics. A Have
// inside the window changes nothing.
func TestSourceRestartRejoins(t *testing.T) {
	src, peer := testConn(1), testConn(2)
	src.source = true
	s := liveTestStream(50, src, peer) // chunks 0..49 in a window of 30: oldest 20
	s.log = slog.New(slog.DiscardHandler)
	s.pending, s.helpers, s.seen = map[uint64]*conn{}, map[uint64]*conn{}, map[uint64]time.Time{}
	joined := time.Now().Add(-time.Minute)
	s.play = playout{joined: joined, first: joined.Add(time.Second), t0: joined, started: true, next: 45, due: 45, onTime: 44}
	peer.has[46], peer.inflight[46] = struct{}{}, time.Now()
	s.pending[46] = peer
	require.Equal(t, uint64(20), s.st.oldest)

	require.NoError(t, s.handle(src, &wire.Have{Seq: 25}))
	assert.Equal(t, 30, s.st.len(), "a Have inside the window is no restart")
	assert.True(t, s.play.started)

	require.NoError(t, s.handle(src, &wire.Have{Seq: 3}))
	assert.Zero(t, s.st.len(), "the earlier run's chunks are gone")
	assert.False(t, s.play.started, "the new run is joined afresh")
	assert.Equal(t, uint64(3), s.known)
	assert.Equal(t, map[uint64]struct{}{3: {}}, src.has)
	assert.Empty(t, peer.has)
	assert.Empty(t, s.pending)
	sent := drain(peer)
	assert.Contains(t, sent, wire.Message(&wire.Cancel{Seq: 46}))
	assert.Contains(t, sent, wire.Message(wire.NewBufferMap(0, 0)), "the earlier run's map is withdrawn")
	assert.Contains(t, drain(src), wire.Message(wire.NewBufferMap(0, 0)))
	assert.Equal(t, int64(45), s.play.due, "statistics are kept")
	assert.Equal(t, time.Second, s.play.first.Sub(s.play.joined), "startup delay kept")

	other := testConn(3) // an unproved peer cannot restart the stream
	s2 := liveTestStream(50, other)
	s2.log = slog.New(slog.DiscardHandler)
	s2.seen = map[uint64]time.Time{}
	s2.play.started = true
	require.NoError(t, s2.handle(other, &wire.Have{Seq: 3}))
	assert.Equal(t, 30, s2.st.len())
}

// TestOlderRunRefused: a peer that missed the publisher's restart offers
// chunk 5 of the earlier run, correctly signed, stamped before the chunk 4
// of the new run that we hold. It is refused, whole or as a head, and the
// request goes elsewhere; the peer is not banned. Stamped after it (or
// within a chunk duration before), it is taken.
func TestOlderRunRefused(t *testing.T) {
	_, key, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	for _, tt := range []struct {
		name   string
		prevTS time.Duration // chunk 4's timestamp, relative to chunk 5's
		pieces bool
		taken  bool
	}{
		{"whole, older run", time.Hour, false, false},
		{"head, older run", time.Hour, true, false},
		{"whole, in order", -time.Second, false, true},
		{"head, clock set back a little", 500 * time.Millisecond, true, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s, c := pieceTestStream(t, key, false)
			c.has[5] = struct{}{}
			s.pending[5] = c
			ch, head, _ := signedPieces(t, key)
			s.st.put(Chunk{Seq: 4, Timestamp: ch.Timestamp + tt.prevTS.Microseconds(), Data: []byte{1}})
			if tt.pieces {
				require.NoError(t, s.receiveHead(c, head))
			} else {
				require.NoError(t, s.receive(c, &wire.Chunk{Seq: 5, Timestamp: ch.Timestamp, Flags: uint8(ch.Flags), Data: ch.Data, Sig: ch.Sig}))
			}
			s.mu.Lock()
			defer s.mu.Unlock()
			got := s.st.has(5) || s.partials[5] != nil
			assert.Equal(t, tt.taken, got)
			if !tt.taken {
				assert.NotContains(t, c.inflight, uint64(5), "asked elsewhere")
				assert.NotContains(t, c.has, uint64(5))
				assert.Contains(t, drain(c), wire.Message(&wire.Cancel{Seq: 5}))
				assert.False(t, c.closed(), "not banned")
			}
		})
	}
}

// TestSourceRestartByPush: a viewer that is the source's only neighbour
// gets every chunk pushed and no Have; a push (whole, or as a head) of a
// chunk older than its window tells it of the restart as well, and the
// chunk is the new run's first.
func TestSourceRestartByPush(t *testing.T) {
	_, key, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	for _, pieces := range []bool{false, true} {
		s, src := pieceTestStream(t, key, true)
		for seq := uint64(40); seq < 70; seq++ {
			s.st.put(Chunk{Seq: seq, Data: []byte{1}})
		}
		s.play = playout{started: true, t0: time.Now(), next: 65}
		ch, head, _ := signedPieces(t, key) // chunk 5, below the window
		if pieces {
			require.NoError(t, s.receiveHead(src, head))
		} else {
			require.NoError(t, s.receive(src, &wire.Chunk{Seq: 5, Timestamp: ch.Timestamp, Flags: uint8(ch.Flags), Data: ch.Data, Sig: ch.Sig}))
		}
		s.mu.Lock()
		assert.False(t, s.st.has(69), "pieces %v: the earlier run is gone", pieces)
		assert.True(t, s.st.has(5) || s.partials[5] != nil, "pieces %v: the pushed chunk is taken", pieces)
		assert.False(t, s.play.started)
		s.mu.Unlock()
	}
}

// TestLiveBufferMapReplaces: a live buffer map replaces what the peer
// advertised before (an empty one withdraws it all).
func TestLiveBufferMapReplaces(t *testing.T) {
	c := testConn(1)
	s := liveTestStream(0, c)
	s.info.Kind = KindLive
	s.seen = map[uint64]time.Time{}
	bm := wire.NewBufferMap(10, 4)
	bm.Set(11)
	bm.Set(13)
	require.NoError(t, s.handle(c, bm))
	assert.Equal(t, map[uint64]struct{}{11: {}, 13: {}}, c.has)
	require.NoError(t, s.handle(c, wire.NewBufferMap(0, 0)))
	assert.Empty(t, c.has)
	assert.False(t, c.topValid)
}
