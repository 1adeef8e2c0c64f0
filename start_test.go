package p2pstream

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/p2pstream/p2pstream/internal/wire"
)

// drain returns the control frames queued at c.
func drain(c *conn) []wire.Message {
	var out []wire.Message
	for {
		select {
		case m := <-c.ctrl:
			out = append(out, m)
		default:
			return out
		}
	}
}

// TestFirstChunkFromBothEnds: a viewer joining a swarm that holds its first
// chunk asks one peer for it and a second for it last piece first; the
// pieces of both make the chunk, and both requests are then cancelled.
func TestFirstChunkFromBothEnds(t *testing.T) {
	_, key, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	s, c1 := pieceTestStream(t, key, false)
	delete(c1.inflight, 5)
	conns := []*conn{c1}
	for i := byte(2); i <= 5; i++ {
		c := testConn(i)
		c.s, c.late = s, make(map[uint64]struct{})
		s.conns[c.id] = c
		conns = append(conns, c)
	}
	for _, c := range conns {
		for seq := range uint64(6) {
			c.has[seq] = struct{}{}
		}
	}
	s.mu.Lock()
	s.known, s.knownValid = 5, true
	s.startLocked(5)
	s.scheduleLocked(time.Now())
	s.mu.Unlock()

	var front, back *conn
	for _, c := range conns {
		for _, m := range drain(c) {
			switch m := m.(type) {
			case *wire.Request:
				assert.Nil(t, front, "asked twice from the front")
				assert.Equal(t, uint64(5), m.Seq)
				front = c
			case *wire.RequestBack:
				assert.Nil(t, back, "asked twice from the back")
				assert.Equal(t, uint64(5), m.Seq)
				back = c
			}
		}
	}
	require.NotNil(t, front)
	require.NotNil(t, back)
	require.NotEqual(t, front, back)

	want, head, pieces := signedPieces(t, key)
	require.NoError(t, s.receiveHead(front, head))
	require.NoError(t, s.receiveHead(back, head))
	require.NoError(t, s.receivePiece(front, pieces[0]))
	require.NoError(t, s.receivePiece(back, pieces[2]))
	require.NoError(t, s.receivePiece(back, pieces[1]))

	got, ok := s.st.get(5)
	require.True(t, ok, "the two halves make the chunk")
	assert.Equal(t, want.Data, got.Data)
	assert.Empty(t, s.pending)
	assert.Empty(t, s.helpers)
	assert.Zero(t, s.counters.wasted)
	for _, c := range []*conn{front, back} {
		assert.Contains(t, drain(c), wire.Message(&wire.Cancel{Seq: 5}), "the other sender is stopped")
		assert.Empty(t, c.inflight)
		assert.False(t, c.closed())
	}
}

// scheduleFirstChunk makes a live viewer's stream with neighbours conns,
// the newest chunk advertised 5, starting at 5, and runs a scheduling pass:
// its requests are in the connections' control queues.
func scheduleFirstChunk(conns []*conn) *Stream {
	s := liveTestStream(0, conns...)
	s.log, s.pending, s.helpers, s.seen = slog.New(slog.DiscardHandler), map[uint64]*conn{}, map[uint64]*conn{}, map[uint64]time.Time{}
	s.info.ChunkDuration = time.Second
	for _, c := range conns {
		c.s = s
	}
	s.known, s.knownValid = 5, true
	s.startLocked(5)
	s.scheduleLocked(time.Now())
	return s
}

// TestFirstChunkScarce: a chunk few neighbours hold (a flash crowd's
// first) is asked of one peer only: its holders have requests enough.
func TestFirstChunkScarce(t *testing.T) {
	var conns []*conn
	for i := byte(1); i <= 5; i++ {
		c := testConn(i)
		c.has[0] = struct{}{}
		if i <= 2 {
			c.has[5] = struct{}{}
		}
		conns = append(conns, c)
	}
	scheduleFirstChunk(conns)
	requests := 0
	for _, c := range conns {
		for _, m := range drain(c) {
			switch m.(type) {
			case *wire.Request:
				requests++
			case *wire.RequestBack:
				t.Errorf("asked %v from the back for a chunk 2 of 5 neighbours hold", c)
			}
		}
	}
	assert.Equal(t, 1, requests)
}

// TestWritePiecesBack: asked for a chunk it holds whole from the back, a
// peer sends the head and then the pieces last first; asked from the front,
// in order; asked for some stripes (wire.RequestStripes), only their pieces.
func TestWritePiecesBack(t *testing.T) {
	_, key, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	for _, tt := range []struct {
		back bool
		mask uint8
		want []uint32
	}{
		{false, 0, []uint32{0, 1, 2}},
		{true, 0, []uint32{2, 1, 0}},
		{false, 0b0101, []uint32{0, 2}},
		{true, 0b0010, []uint32{1}},
	} {
		s, c := pieceTestStream(t, key, false)
		ch, _, pieces := signedPieces(t, key)
		s.st.put(ch)
		a, b := net.Pipe()
		t.Cleanup(func() { a.Close(); b.Close() })
		c.nc = a
		done := make(chan error, 1)
		go func() {
			bw := bufio.NewWriter(a)
			_, err := c.writePieces(context.Background(), bw, 5, time.Now().Add(5*time.Second), tt.back, tt.mask)
			if err == nil {
				err = bw.Flush()
			}
			done <- err
		}()
		r := wire.NewReader(b, wire.Limits{})
		m, err := r.ReadMessage()
		require.NoError(t, err)
		require.IsType(t, &wire.Head{}, m)
		var got []uint32
		for range tt.want {
			m, err := r.ReadMessage()
			require.NoError(t, err)
			p, ok := m.(*wire.Piece)
			require.True(t, ok, "got %T", m)
			assert.Equal(t, pieces[p.Index].Data, p.Data)
			got = append(got, p.Index)
		}
		require.NoError(t, <-done)
		assert.Equal(t, tt.want, got, "back %v", tt.back)
	}
}

// TestJoinStartsAtFetchedChunk: the start point follows the live edge while
// a new viewer fetches its first chunk, but a keyframe chunk it has fetched
// is taken if it is at most joinSlack below the start point now, instead
// of fetching the next one.
func TestJoinStartsAtFetchedChunk(t *testing.T) {
	tests := []struct {
		name   string
		stored map[uint64]bool // chunks held: seq -> keyframe
		start  uint64          // the start point chosen, or noSeq
		probes []uint64        // else, the chunks to fetch
	}{
		{"nothing fetched", nil, noSeq, []uint64{7, 6}},
		{"the start point itself", map[uint64]bool{7: true}, 7, nil},
		{"fetched before the edge moved on", map[uint64]bool{5: true}, 5, nil},
		{"as far below as allowed", map[uint64]bool{7 - joinSlack: true}, 7 - joinSlack, nil},
		{"too far below", map[uint64]bool{7 - joinSlack - 1: true}, noSeq, []uint64{7, 6}},
		{"not a keyframe", map[uint64]bool{6: false}, noSeq, []uint64{7, 5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := testConn(1)
			src.source = true
			for seq := range uint64(11) { // the source's newest is 10: start 3 behind, at 7
				src.has[seq] = struct{}{}
			}
			s := liveTestStream(0, src)
			s.log = slog.New(slog.DiscardHandler)
			for seq, key := range tt.stored {
				ch := Chunk{Seq: seq, Data: []byte{1}}
				if key {
					ch.Flags = FlagKeyframe
				}
				s.st.put(ch)
			}
			got := s.joinProbesLocked()
			if tt.start == noSeq {
				assert.False(t, s.play.started)
				assert.Equal(t, tt.probes, got)
				return
			}
			require.True(t, s.play.started)
			assert.Equal(t, tt.start, s.play.next)
		})
	}
}

// TestLongerBufferMap: a live peer that keeps a longer window than ours
// (Peer.Window) sends longer buffer maps; they are read, not refused, up
// to maxAheadWindows of our windows, and beyond that their newest part. On
// demand, a map longer than the file is a protocol error.
func TestLongerBufferMap(t *testing.T) {
	_, key, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	s, _ := pieceTestStream(t, key, false)
	w := s.maxBufferMap() / maxAheadWindows
	for _, n := range []uint64{3 * w, maxAheadWindows * w, 10 * w} {
		s, c := pieceTestStream(t, key, false)
		bm := wire.NewBufferMap(0, uint32(n))
		bm.Set(0)
		bm.Set(n - 1)
		require.NoError(t, s.handle(c, bm), "%d chunks", n)
		s.mu.Lock()
		assert.Contains(t, c.has, n-1, "%d chunks", n)
		_, old := c.has[0]
		assert.Equal(t, n <= maxAheadWindows*w, old, "%d chunks: the oldest read", n)
		s.mu.Unlock()
		assert.False(t, c.closed())
	}
	s, c := pieceTestStream(t, key, false)
	s.info.Kind, s.st = KindVOD, nil
	bm := wire.NewBufferMap(0, uint32(s.maxBufferMap()+1))
	var pe *ProtocolError
	assert.ErrorAs(t, s.handle(c, bm), &pe)
}

// TestWritePiecesStopsOnCancel: a cancel stops a chunk the sender holds
// whole after the piece under way, not at its end (both senders of a first
// chunk are cancelled when their halves meet).
func TestWritePiecesStopsOnCancel(t *testing.T) {
	_, key, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	s, c := pieceTestStream(t, key, false)
	ch, _, _ := signedPieces(t, key)
	s.st.put(ch)
	a, b := net.Pipe()
	t.Cleanup(func() { a.Close(); b.Close() })
	c.nc, c.stop = a, make(chan struct{}, 1)
	notify(c.stop) // the cancel came while the first piece went out
	done := make(chan error, 1)
	go func() {
		bw := bufio.NewWriter(a)
		_, err := c.writePieces(context.Background(), bw, 5, time.Now().Add(5*time.Second), false, 0)
		done <- err
	}()
	r := wire.NewReader(b, wire.Limits{})
	for _, want := range []wire.Type{wire.TypeHead, wire.TypePiece} {
		m, err := r.ReadMessage()
		require.NoError(t, err)
		assert.Equal(t, want, m.Type())
	}
	require.NoError(t, <-done)
	a.Close()
	_, err = r.ReadMessage()
	assert.Error(t, err, "nothing after the first piece")
}

// TestRequestBackFlag: a RequestBack marks its chunk to go last piece
// first; a later Request or Cancel for it clears the mark.
func TestRequestBackFlag(t *testing.T) {
	_, key, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	for _, then := range []wire.Message{&wire.Request{Seq: 5}, &wire.Cancel{Seq: 5}} {
		s, c := pieceTestStream(t, key, false)
		require.NoError(t, s.handle(c, &wire.RequestBack{Seq: 5}))
		assert.Equal(t, uint64(5), c.back)
		require.NoError(t, s.handle(c, then))
		assert.Equal(t, noSeq, c.back, "after %T", then)
	}
}

// TestHelperNotSource: the second request for a first chunk never goes to
// the source, which is kept for rescues, even when no other peer is free.
func TestHelperNotSource(t *testing.T) {
	src := testConn(9)
	src.source = true
	conns := []*conn{src}
	for i := byte(1); i <= 5; i++ {
		c := testConn(i)
		if i > 1 {
			c.busyUntil = time.Now().Add(time.Minute)
		}
		conns = append(conns, c)
	}
	for _, c := range conns {
		for seq := range uint64(6) {
			c.has[seq] = struct{}{}
		}
	}
	s := scheduleFirstChunk(conns)
	for _, c := range conns {
		for _, m := range drain(c) {
			if _, ok := m.(*wire.RequestBack); ok {
				t.Errorf("%v (source %v) asked from the back", c, c.source)
			}
		}
	}
	assert.Len(t, s.pending, 1)
	assert.Empty(t, s.helpers)
}

// TestJoinWideStart: a viewer that starts where half its neighbours hold
// the chunk skips the flash crowd's spread wait (playout.wide), but not in
// the stream's first chunks, when the viewers around are a flash crowd.
func TestJoinWideStart(t *testing.T) {
	for _, tt := range []struct {
		newest uint64 // the source's newest chunk
		want   bool
	}{{startBehind + maxJoinBehind - 1, false}, {startBehind + maxJoinBehind, true}, {40, true}} {
		src := testConn(1)
		src.source = true
		conns := []*conn{src}
		for i := byte(2); i <= 6; i++ {
			conns = append(conns, testConn(i))
		}
		for seq := range tt.newest + 1 {
			for _, c := range conns {
				c.has[seq] = struct{}{}
			}
		}
		s := liveTestStream(0, conns...)
		s.log = slog.New(slog.DiscardHandler)
		start := tt.newest - startBehind
		s.st.put(Chunk{Seq: start, Flags: FlagKeyframe, Data: []byte{1}})
		s.joinProbesLocked()
		require.True(t, s.play.started)
		assert.Equal(t, start, s.play.next)
		assert.Equal(t, tt.want, s.play.wide, "newest %d", tt.newest)
	}
}

// TestJoinAgainWhenStartVanishes: two lying neighbours make up the median
// newest chunk, and a new viewer picks its start there; once they are gone
// (banned for the unanswered requests), nobody advertises the start chunk,
// and the viewer chooses again from the honest peers.
func TestJoinAgainWhenStartVanishes(t *testing.T) {
	honest, liar1, liar2 := testConn(1), testConn(2), testConn(3)
	for seq := range uint64(11) {
		honest.has[seq] = struct{}{}
	}
	const bogus = 1_000_000
	for _, c := range []*conn{liar1, liar2} {
		c.has[bogus] = struct{}{}
		c.top, c.topValid = bogus, true
	}
	honest.top, honest.topValid = 10, true
	s := liveTestStream(0, honest, liar1, liar2)
	s.log = slog.New(slog.DiscardHandler)

	s.wantedLocked()
	require.True(t, s.play.started)
	require.Greater(t, s.play.next, uint64(10), "the liars' median picked the start")

	delete(s.conns, liar1.id)
	delete(s.conns, liar2.id)
	s.recomputeKnownLocked()
	assert.Equal(t, []uint64{7, 6}, s.wantedLocked(), "probes for a start among the honest peer's chunks")
	assert.False(t, s.play.started)
	s.st.put(Chunk{Seq: 7, Flags: FlagKeyframe, Data: []byte{1}})
	s.wantedLocked()
	require.True(t, s.play.started)
	assert.Equal(t, uint64(7), s.play.next)
}

// TestPruneSeenAhead: advertisements of chunks far beyond the window, taken
// before the first chunk showed where the stream is, are forgotten with
// those that left it, so they cannot fill the bounded s.seen.
func TestPruneSeenAhead(t *testing.T) {
	s := liveTestStream(0)
	now := time.Now()
	s.seen = map[uint64]time.Time{0: now, 40: now, 1_000_000: now}
	for seq := range uint64(35) { // a window of 30: 5 chunks left it
		s.st.put(Chunk{Seq: seq, Data: []byte{1}})
	}
	s.pruneLocked()
	assert.Equal(t, map[uint64]time.Time{40: now}, s.seen)
}

// TestHelperForUrgentChunk: once a viewer plays, a chunk asked of a peer
// that is due within two chunk durations is also asked of a second peer,
// from the end; not sooner, not when the source was asked, once, and not
// while another chunk's second request is out.
func TestHelperForUrgentChunk(t *testing.T) {
	now := time.Now()
	peer, src := testConn(1), testConn(2)
	src.source = true
	tests := []struct {
		name string
		seq  uint64
		from *conn
		want bool
	}{
		{"due in 1 s", 10, peer, true},
		{"due in 3 s", 12, peer, false},
		{"asked of the source", 10, src, false},
		{"not asked at all", 10, nil, false},
		{"another chunk's second request out", 10, peer, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &Stream{peer: &Peer{Pull: true}, st: newLiveStore(30), info: StreamInfo{ChunkDuration: time.Second},
				pending: map[uint64]*conn{}, helpers: map[uint64]*conn{}}
			// Playing since 3 s ago, chunk 10 next: it is due 1 s from now
			// (Peer.Delay 3 s, pulling), chunk 11 a second later.
			s.play = playout{started: true, t0: now.Add(-3 * time.Second), next: 10, lastSeq: 9, avgDur: time.Second}
			if tt.from != nil {
				s.pending[tt.seq] = tt.from
			}
			if tt.name == "another chunk's second request out" {
				s.helpers[9] = src
			}
			assert.Equal(t, tt.want, s.wantsHelperLocked(tt.seq, now))
			if tt.want {
				s.helpers[tt.seq] = src
				assert.False(t, s.wantsHelperLocked(tt.seq, now), "a second helper")
			}
		})
	}
}

// TestRejectForgetsHas: an upload given up is no longer counted as held by
// the peer (noted when it began), so the trees push it the chunk after all.
func TestRejectForgetsHas(t *testing.T) {
	_, key, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	s, c := pieceTestStream(t, key, false)
	s.mu.Lock()
	c.has[9] = struct{}{} // as chunkToSend does
	s.mu.Unlock()
	_, err = c.writePieces(context.Background(), bufio.NewWriter(io.Discard), 9, time.Now().Add(time.Second), false, 0)
	require.NoError(t, err)
	assert.Equal(t, &wire.Reject{Seq: 9}, <-c.ctrl, "chunk 9 is not here")
	s.mu.Lock()
	defer s.mu.Unlock()
	assert.NotContains(t, c.has, uint64(9))
}
