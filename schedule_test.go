package p2pstream

import (
	"log/slog"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/p2pstream/p2pstream/internal/wire"
)

// testConn is a connection with queues and no network, for scheduler tests.
func testConn(id byte) *conn {
	return &conn{
		id:       PeerID{id},
		ctrl:     make(chan wire.Message, ctrlQueueLive),
		data:     make(chan uint64, 2*defaultMaxServe),
		done:     make(chan struct{}),
		has:      make(map[uint64]struct{}),
		inflight: make(map[uint64]time.Time),
		queued:   make(map[uint64]struct{}),
		limit:    4,
	}
}

// liveTestStream is a live viewer's stream holding chunks 0..n-1 and
// uploading as many chunks as it has upload slots, so they are all full.
func liveTestStream(n uint64, conns ...*conn) *Stream {
	s := &Stream{peer: &Peer{}, st: newLiveStore(30), conns: make(map[PeerID]*conn), uploading: liveUploadSlots}
	for seq := range n {
		s.st.put(Chunk{Seq: seq, Data: []byte{byte(seq)}})
	}
	for _, c := range conns {
		s.conns[c.id] = c
	}
	return s
}

func TestWaitUploadKeepsNewest(t *testing.T) {
	a, b, c := testConn(1), testConn(2), testConn(3)
	s := liveTestStream(5, a, b, c)

	require.True(t, s.waitUploadLocked(a, 2), "a busy peer keeps one request")
	require.True(t, s.waitUploadLocked(b, 3), "a newer request replaces it")
	require.Len(t, a.ctrl, 1)
	assert.Equal(t, &wire.Reject{Seq: 2}, <-a.ctrl, "the replaced request is rejected")
	assert.False(t, s.waitUploadLocked(c, 1), "an older request is not kept")
	assert.False(t, s.waitUploadLocked(c, 9), "a chunk the peer does not hold is not kept")

	s.uploading = 0 // the upload ended
	s.startWaitingLocked()
	require.Len(t, b.data, 1)
	assert.Equal(t, uint64(3), <-b.data, "the kept request starts when the slot frees")
	assert.Contains(t, b.queued, uint64(3))
	assert.Empty(t, s.waiting)
}

func TestWaitUploadCancelAndFreeSlot(t *testing.T) {
	a, b := testConn(1), testConn(2)
	s := liveTestStream(5, a, b)
	require.True(t, s.waitUploadLocked(a, 4))
	s.cancelWaitingLocked(a, 4)
	assert.Empty(t, s.waiting, "a cancelled request is forgotten")
	assert.Empty(t, a.data)

	s.uploading = 0
	assert.False(t, s.waitUploadLocked(b, 1), "with a free slot the request is served at once, not kept")

	src := liveTestStream(5, a)
	src.source = true
	assert.False(t, src.waitUploadLocked(a, 1), "a source keeps no requests")
}

// TestReadyAfterBusy: a peer that turns requests away as busy tells the
// oldest of them when there is room again (wire.Ready), and a Ready lifts
// the requester's back-off from that peer.
func TestReadyAfterBusy(t *testing.T) {
	a, b, c := testConn(1), testConn(2), testConn(3)
	s := liveTestStream(5, a, b, c)
	s.serveLocked(a, 2) // kept to serve next
	s.serveLocked(b, 1) // older than the kept one: turned away
	s.serveLocked(c, 0)
	assert.Equal(t, &wire.Reject{Seq: 1}, <-b.ctrl)
	assert.Equal(t, &wire.Reject{Seq: 0}, <-c.ctrl)
	assert.Equal(t, []*conn{b, c}, s.turnedAway)

	s.uploading = 0 // the upload ended: a's request starts, the waiting place frees
	s.startWaitingLocked()
	s.readyLocked()
	assert.Equal(t, uint64(2), <-a.data)
	require.Len(t, b.ctrl, 1)
	assert.Equal(t, &wire.Ready{}, <-b.ctrl, "the oldest turned away hears of the free place")
	assert.Empty(t, c.ctrl, "one place, one Ready")
	assert.Equal(t, []*conn{c}, s.turnedAway)

	src := liveTestStream(5, a)
	src.source = true
	src.serveLocked(a, 1)
	assert.Empty(t, src.turnedAway, "a source serves only rescues: it sends no Ready")

	viewer := &Stream{st: newLiveStore(30), conns: map[PeerID]*conn{a.id: a}}
	a.busyUntil = time.Now().Add(time.Hour)
	require.NoError(t, viewer.handle(a, &wire.Ready{}))
	assert.True(t, a.busyUntil.IsZero(), "a Ready lifts the back-off")
}

func TestSourceServeLimit(t *testing.T) {
	const chunk = 1000
	tests := []struct {
		name      string
		published int64
		up        int64
		queued    int
		want      bool
	}{
		{"nothing published yet", 0, 0, 0, true},
		{"within Fanout+ServeLimit", 10 * chunk, 12 * chunk, 0, true},
		{"at the limit", 10 * chunk, 14 * chunk, 0, true},
		{"over the limit", 10 * chunk, 15 * chunk, 0, false},
		{"queued uploads count", 10 * chunk, 12 * chunk, 3, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := testConn(1)
			for i := range tt.queued {
				c.queued[uint64(i)] = struct{}{}
			}
			s := &Stream{st: newLiveStore(30), conns: map[PeerID]*conn{c.id: c}, source: true, fanout: 1, serve: 0.5}
			s.st.put(Chunk{Seq: 0, Data: make([]byte, chunk)})
			s.published, s.counters.up = tt.published, tt.up
			assert.Equal(t, tt.want, s.sourceMayServeLocked())
		})
	}
	viewer := &Stream{st: newLiveStore(30), conns: map[PeerID]*conn{}}
	assert.True(t, viewer.sourceMayServeLocked(), "only a source is limited")
}

func TestLiveStartHold(t *testing.T) {
	now := time.Now()
	tests := []struct {
		name    string
		known   uint64 // newest chunk advertised
		end     bool   // the newest chunk ends the stream
		holders int    // of 5 neighbours, those that hold chunk 1; -1: only 3 neighbours; -2: 5 that started later
		want    bool   // the first chunk goes to the sink
		wide    bool   // the start was held by half the neighbours when chosen
		liar    bool   // a sixth neighbour advertises chunks 100 past known
	}{
		{"newest too close", startBehind - 1, false, 5, false, false, false},
		{"newest far enough behind", startBehind, false, 5, true, false, false},
		{"the stream ends sooner", 2, true, 5, true, false, false},
		{"the next chunk has not spread", startBehind, false, 2, false, false, false},
		{"it has reached half the neighbours", startBehind, false, 3, true, false, false},
		{"too few neighbours to tell", startBehind, false, -1, true, false, false},
		{"waited long enough", startBehind + maxSpreadWait, false, 0, true, false, false},
		{"neighbours that started later count", startBehind, false, -2, true, false, false},
		{"joined a swarm that had spread the start", startBehind, false, 2, true, true, false},
		{"... but not too close to the newest", startBehind - 1, false, 5, false, true, false},
		{"a lone neighbour far ahead is believed one chunk", startBehind - 2, false, 5, false, false, true},
		{"... nor makes the wait for the spread short", startBehind, false, 2, false, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &Stream{peer: &Peer{}, log: slog.New(slog.DiscardHandler), st: newLiveStore(30), info: StreamInfo{ChunkDuration: time.Second}, conns: map[PeerID]*conn{}}
			neighbours, later := 5, false
			switch tt.holders {
			case -1:
				neighbours, tt.holders = 3, 0
			case -2: // they hold chunk 2 only: they started after chunk 1
				later, tt.holders = true, 0
			}
			for i := range neighbours {
				c := testConn(byte(i + 1))
				if later {
					c.has[2] = struct{}{}
				} else {
					c.has[0] = struct{}{}
				}
				if i < tt.holders {
					c.has[1] = struct{}{}
				}
				c.top, c.topValid = tt.known, true
				s.conns[c.id] = c
			}
			known := tt.known
			if tt.liar {
				c := testConn(9)
				c.has[0] = struct{}{}
				known += 100
				c.has[known] = struct{}{}
				c.top, c.topValid = known, true
				s.conns[c.id] = c
			}
			s.st.put(Chunk{Seq: 0, Timestamp: now.UnixMicro(), Flags: FlagKeyframe, Data: []byte{0}})
			if tt.end {
				s.st.put(Chunk{Seq: tt.known, Timestamp: now.UnixMicro(), Flags: FlagEnd})
			}
			s.known, s.knownValid = known, true
			s.startLocked(0)
			s.play.wide = tt.wide
			c, ok := s.nextChunkLocked(now)
			assert.Equal(t, tt.want, ok)
			if ok {
				assert.Equal(t, uint64(0), c.c.Seq)
			}
		})
	}
}

// TestRefusedNotRedialled: a peer that ended our handshake (it was full,
// or had not joined yet) is not dialled again at every tracker answer.
func TestRefusedNotRedialled(t *testing.T) {
	now := time.Now()
	s := &Stream{peer: &Peer{}, conns: map[PeerID]*conn{}, dialing: map[string]bool{}, refused: map[string]refusal{
		"10.0.0.9:1": {until: now.Add(time.Hour), n: 1},           // refused us just now
		"10.0.0.8:1": {until: now.Add(-2 * maxRefusedWait), n: 3}, // long ago
	}}
	s.connectPeers([]PeerAddr{{ID: PeerID{9}, Addr: "10.0.0.9:1", Source: true}})
	assert.Empty(t, s.dialing, "not dialled again yet, not even the source")
	assert.Equal(t, []string{"10.0.0.9:1"}, slices.Collect(maps.Keys(s.refused)), "long-past entries are forgotten")
}

// TestRefusedBackoff: each refusal in a row doubles the wait before the
// peer is dialled again, up to maxRefusedWait, with up to a quarter more
// of jitter.
func TestRefusedBackoff(t *testing.T) {
	s := &Stream{refused: map[string]refusal{}}
	now := time.Now()
	for i, want := range []time.Duration{5 * time.Second, 10 * time.Second, 20 * time.Second, 40 * time.Second, time.Minute, time.Minute} {
		s.refusedLocked("10.0.0.9:1", now)
		r := s.refused["10.0.0.9:1"]
		assert.Equal(t, i+1, r.n)
		wait := r.until.Sub(now)
		assert.GreaterOrEqual(t, wait, want, "refusal %d", i+1)
		assert.Less(t, wait, want+want/4, "refusal %d", i+1)
	}
}

// TestPushSkipsLiars: a source pushes a fresh chunk to none of the peers
// that showed they would not pass it on: one that advertised the chunk
// before it was published, one that claims to be the source too. A chunk
// sent to the source is a protocol error.
func TestPushSkipsLiars(t *testing.T) {
	for range 20 { // map order picks the candidates
		liar, claimer, honest := testConn(1), testConn(2), testConn(3)
		liar.has[5] = struct{}{}
		claimer.claim = true
		s := liveTestStream(5, liar, claimer, honest)
		s.source, s.fanout = true, 1
		s.pushLocked(5)
		assert.Empty(t, liar.data)
		assert.Empty(t, claimer.data)
		require.Len(t, honest.data, 1)
		assert.Equal(t, uint64(5), <-honest.data)
	}
	s := liveTestStream(5, testConn(1))
	s.source = true
	for _, m := range []wire.Message{&wire.Chunk{Seq: 1}, &wire.Head{Seq: 1}, &wire.Piece{Seq: 1}} {
		var perr *ProtocolError
		assert.ErrorAs(t, s.handle(s.conns[PeerID{1}], m), &perr, "%T", m)
	}
}

func TestPingOnlyQuietConns(t *testing.T) {
	now := time.Now()
	busy, quiet, fresh := testConn(1), testConn(2), testConn(3)
	busy.wrote.Store(now.Add(-time.Second).UnixNano())
	quiet.wrote.Store(now.Add(-pingEvery / 2).UnixNano())
	// fresh has written nothing yet.
	s := liveTestStream(1, busy, quiet, fresh)

	s.pingIdleLocked(now)
	assert.Empty(t, busy.ctrl, "a connection we wrote to lately needs no ping")
	require.Len(t, quiet.ctrl, 1)
	assert.IsType(t, &wire.Ping{}, <-quiet.ctrl, "one we wrote nothing to for half of pingEvery is pinged")
	require.Len(t, fresh.ctrl, 1)
	assert.IsType(t, &wire.Ping{}, <-fresh.ctrl)

	s.pingIdleLocked(now.Add(pingEvery / 2))
	assert.Empty(t, quiet.ctrl, "pings go out at most every pingEvery")
}
