package p2pstream

import (
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/p2pstream/p2pstream/internal/ts"
	"github.com/p2pstream/p2pstream/internal/wire"
)

// TestPlayoutLagAndBuffered checks a live viewer's lag and buffer against
// its play clock: the player plays each chunk at its deadline, delay after
// the play clock, whereas the sink gets chunks as soon as they are held.
func TestPlayoutLagAndBuffered(t *testing.T) {
	const (
		chunk = time.Second
		delay = 2 * time.Second
	)
	ts0 := time.Date(2026, 12, 2, 5, 0, 0, 0, time.UTC).UnixMicro()
	at := func(d time.Duration) int64 { return ts0 + d.Microseconds() } // a publisher timestamp
	// The first chunk went to the sink 6 s after it was cut (the start
	// behind the newest chunk), so the player plays 8 s behind the edge.
	t0 := time.UnixMicro(ts0).Add(6 * time.Second)
	tests := []struct {
		name          string
		t0            time.Time     // zero: nothing handed to the sink yet
		lastTS        int64         // timestamp of the last chunk handed to the sink
		held          uint64        // verified chunks held from the next one for the sink on
		partOff       int           // of 4 parts of the last chunk: handed over so far, if begun in parts
		now           time.Duration // since t0
		lag, buffered time.Duration
	}{
		{name: "held back at the start", held: 6, buffered: 6 * chunk},
		{name: "first chunk handed over", t0: t0, lastTS: ts0, lag: 8 * time.Second, buffered: delay + chunk},
		{name: "first chunk not played yet", t0: t0, lastTS: ts0, now: time.Second, lag: 8 * time.Second, buffered: 2 * time.Second},
		{name: "fresh chunks handed over at once", t0: t0, lastTS: at(10*time.Second - 50*time.Millisecond), now: 4 * time.Second,
			lag: 8 * time.Second, buffered: 9*time.Second - 50*time.Millisecond},
		{name: "more held, not handed over yet", t0: t0, lastTS: at(8*time.Second - 50*time.Millisecond), held: 2, now: 4 * time.Second,
			lag: 8 * time.Second, buffered: 9*time.Second - 50*time.Millisecond},
		{name: "chunks arriving just in time", t0: t0, lastTS: at(3 * time.Second), now: 4*time.Second + 900*time.Millisecond,
			lag: 8 * time.Second, buffered: 1100 * time.Millisecond},
		{name: "waiting for a late chunk", t0: t0, lastTS: at(3 * time.Second), now: 7 * time.Second,
			lag: 9 * time.Second, buffered: 0},
		{name: "waiting for the rest of a chunk begun in parts", t0: t0, lastTS: at(3 * time.Second), partOff: 2, now: 7 * time.Second,
			lag: 9500 * time.Millisecond, buffered: 0},
		{name: "a later chunk came", t0: t0, lastTS: at(6 * time.Second), now: 7 * time.Second,
			lag: 8 * time.Second, buffered: 2 * time.Second},
		{name: "a quarter of a chunk handed over in parts", t0: t0, lastTS: at(6 * time.Second), partOff: 1, now: 7 * time.Second,
			lag: 8 * time.Second, buffered: 1250 * time.Millisecond},
		{name: "the chunk begun in parts held whole", t0: t0, lastTS: at(6 * time.Second), partOff: 1, held: 1, now: 7 * time.Second,
			lag: 8 * time.Second, buffered: 1250 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &Stream{peer: &Peer{Delay: delay}, info: StreamInfo{Kind: KindLive, ChunkDuration: chunk}, st: newLiveStore(30)}
			s.play.started, s.play.next = true, 100
			if !tt.t0.IsZero() {
				s.play.first, s.play.t0, s.play.ts0, s.play.lastTS = tt.t0, tt.t0, ts0, tt.lastTS
			}
			if tt.partOff > 0 {
				s.play.partOff, s.play.partSize = tt.partOff, 4
			}
			for seq := range tt.held {
				s.st.put(Chunk{Seq: 100 + seq, Data: []byte{1}})
			}
			now := t0.Add(tt.now)
			assert.Equal(t, tt.lag, s.play.lagAt(now, delay, chunk), "lag")
			assert.Equal(t, tt.buffered, s.bufferedLocked(now, delay), "buffered")
		})
	}
}

// TestSkipAddsDelay: a viewer that skips a late chunk plays a chunk
// duration further behind from then on, up to twice Peer.Delay, so its
// later chunks get more time.
func TestSkipAddsDelay(t *testing.T) {
	const (
		chunk = time.Second
		delay = 2 * time.Second
	)
	ts0 := time.Date(2026, 12, 2, 5, 0, 0, 0, time.UTC).UnixMicro()
	s := &Stream{peer: &Peer{Delay: delay}, info: StreamInfo{Kind: KindLive, ChunkDuration: chunk}, st: newLiveStore(30), log: slog.New(slog.DiscardHandler)}
	s.play.started, s.play.next = true, 100
	put := func(seq uint64) {
		s.st.put(Chunk{Seq: seq, Timestamp: ts0 + int64(seq-100)*chunk.Microseconds(), Data: []byte{1}})
	}
	t0 := time.UnixMicro(ts0).Add(5 * time.Second)
	put(100)
	c, ok := s.nextChunkLocked(t0)
	require.True(t, ok)
	require.Equal(t, uint64(100), c.c.Seq)

	tests := []struct {
		missing uint64
		at      time.Duration // since t0: past the missing chunk's deadline, the later one due within a chunk
		extra   time.Duration
	}{
		{101, 3500 * time.Millisecond, chunk},
		{103, 7500 * time.Millisecond, 2 * chunk},
		{105, 10500 * time.Millisecond, 2 * chunk}, // at most Peer.Delay more
	}
	for _, tt := range tests {
		put(tt.missing + 1)
		c, ok := s.nextChunkLocked(t0.Add(tt.at))
		require.True(t, ok, "chunk %d skipped", tt.missing)
		assert.Equal(t, tt.missing+1, c.c.Seq)
		assert.Equal(t, tt.extra, s.play.extra, "after skipping chunk %d", tt.missing)
		assert.Equal(t, delay+tt.extra, s.playDelayLocked())
	}
	assert.Equal(t, int64(3), s.Stats().ChunksSkipped)
}

// TestLagStopsAtLiveEnd: once a live stream's last chunk went to the sink,
// Stats.Lag stays what it was then, instead of growing with the clock.
func TestLagStopsAtLiveEnd(t *testing.T) {
	const delay = 2 * time.Second
	end := time.UnixMicro(time.Now().Add(-time.Hour).UnixMicro()) // whole microseconds, as timestamps are
	s := &Stream{peer: &Peer{Delay: delay}, info: StreamInfo{Kind: KindLive, ChunkDuration: time.Second}, st: newLiveStore(30)}
	p := &s.play
	// The first chunk went to the sink 5 s after it was cut; the last one,
	// 60 s of stream later, just before the end.
	p.first = end.Add(-60 * time.Second)
	p.t0, p.ts0 = p.first, p.first.Add(-5*time.Second).UnixMicro()
	p.lastTS = p.ts0 + (60 * time.Second).Microseconds()
	p.ended, p.liveEnd = true, end
	assert.Equal(t, 7*time.Second, s.Stats().Lag, "5 s behind when handed over, plus the 2 s delay")
}

// TestChunkDurationMeasured: chunks longer than the publisher's target (a
// source with keyframes further apart) set the timeouts and delays once
// measured; measured durations near the target do not.
func TestChunkDurationMeasured(t *testing.T) {
	for _, tt := range []struct {
		target, measured, want time.Duration
	}{
		{500 * time.Millisecond, 0, 500 * time.Millisecond},
		{500 * time.Millisecond, 600 * time.Millisecond, 500 * time.Millisecond},
		{500 * time.Millisecond, time.Second, time.Second},
		{0, 0, time.Second},
	} {
		s := &Stream{info: StreamInfo{ChunkDuration: tt.target}}
		s.measuredDur.Store(int64(tt.measured))
		assert.Equal(t, tt.want, s.chunkDuration(), "target %v, measured %v", tt.target, tt.measured)
	}
}

// TestAvgDurOverSkips: the chunks' mean duration is measured per chunk,
// also across chunks skipped between two delivered ones.
func TestAvgDurOverSkips(t *testing.T) {
	var p playout
	now := time.Now()
	ts0 := now.UnixMicro()
	for _, seq := range []uint64{0, 1, 3, 6} {
		p.begin(Chunk{Seq: seq, Timestamp: ts0 + int64(seq)*1e6}, now, time.Hour)
	}
	assert.Equal(t, time.Second, p.avgDur)
}

// TestPartsHandedOver: a part sink gets a live chunk's verified prefix as
// its pieces arrive. Each part is due when the player reaches its offset;
// a chunk counts as on time only if every part was; a chunk that stalls
// past its next part's time while a later chunk is held is cut short. Parts
// end at TS packet boundaries, so a chunk cut short tears no packet.
func TestPartsHandedOver(t *testing.T) {
	const (
		chunk = time.Second
		delay = time.Second
		size  = 64 << 10 // 16 pieces of 4 KiB
	)
	ts0 := time.Date(2026, 12, 3, 5, 0, 0, 0, time.UTC).UnixMicro()
	t0 := time.UnixMicro(ts0).Add(300 * time.Millisecond) // the first part's arrival
	s := &Stream{peer: &Peer{Delay: delay}, info: StreamInfo{Kind: KindLive, ChunkDuration: chunk}, st: newLiveStore(30),
		log: slog.New(slog.DiscardHandler), parts: true, partials: make(map[uint64]*partial)}
	s.play.started, s.play.next = true, 100
	n := wire.Pieces(size)
	require.Equal(t, 16, n)
	stamp := func(seq uint64) int64 { return ts0 + int64(seq-100)*chunk.Microseconds() }
	arriving := func(seq uint64, prefix int) {
		p := s.partials[seq]
		if p == nil {
			p = &partial{head: &wire.Head{Seq: seq, Timestamp: stamp(seq), Flags: uint8(FlagKeyframe), Size: size},
				data: make([]byte, size), got: make([]bool, n)}
			s.partials[seq] = p
		}
		p.prefix = prefix
	}
	whole := func(seq uint64) {
		delete(s.partials, seq)
		s.st.put(Chunk{Seq: seq, Timestamp: stamp(seq), Flags: FlagKeyframe, Data: make([]byte, size)})
	}
	// Parts end at a TS packet boundary, but for a chunk's last.
	pieceEnd := func(i int) int { _, end := wire.PieceBounds(size, i); return end - end%ts.PacketSize }
	type want struct {
		seq       uint64
		off, end  int
		last      bool
		due, onTo int64
	}
	steps := []struct {
		name  string
		at    time.Duration // since t0
		setup func()
		want  *want // nil: nothing to hand over
	}{
		{"first piece of the first chunk", 0, func() { arriving(100, 1) }, &want{100, 0, pieceEnd(0), false, 0, 0}},
		{"nothing new", 100 * time.Millisecond, func() {}, nil},
		{"pieces 1-14 in", 500 * time.Millisecond, func() { arriving(100, 15) }, &want{100, pieceEnd(0), pieceEnd(14), false, 0, 0}},
		{"the rest, once whole", 600 * time.Millisecond, func() { whole(100) }, &want{100, pieceEnd(14), size, true, 1, 1}},
		{"next chunk begins on time", 900 * time.Millisecond, func() { arriving(101, 1) }, &want{101, 0, pieceEnd(0), false, 1, 1}},
		// Chunk 101 plays from t0 + 1 s + delay; its piece 1 at 62.5 ms
		// into it, its piece 9 at 562.5 ms.
		{"its middle just in time", 2050 * time.Millisecond, func() { arriving(101, 9) }, &want{101, pieceEnd(0), pieceEnd(8), false, 1, 1}},
		{"its last pieces late", 2990 * time.Millisecond, func() { whole(101) }, &want{101, pieceEnd(8), size, true, 2, 1}},
		{"a chunk begun on time", 3000 * time.Millisecond, func() { arriving(102, 2) }, &want{102, 0, pieceEnd(1), false, 2, 1}},
		// Chunk 102 stalls; chunk 103 is held, due at t0 + 4 s.
		{"stalled, but no later chunk yet", 3500 * time.Millisecond, func() {}, nil},
		{"cut short for a later chunk", 3500 * time.Millisecond, func() { whole(103) }, &want{103, 0, size, true, 4, 2}},
	}
	for _, st := range steps {
		st.setup()
		h, ok := s.nextChunkLocked(t0.Add(st.at))
		if st.want == nil {
			assert.False(t, ok, st.name)
			continue
		}
		require.True(t, ok, st.name)
		assert.True(t, h.part, st.name)
		assert.Equal(t, st.want.seq, h.c.Seq, st.name)
		assert.Equal(t, st.want.off, h.off, st.name)
		assert.Len(t, h.c.Data, st.want.end-st.want.off, st.name)
		assert.Equal(t, st.want.last, h.last, st.name)
		assert.Equal(t, st.want.due, s.play.due, st.name+": due")
		assert.Equal(t, st.want.onTo, s.play.onTime, st.name+": on time")
		assert.False(t, s.play.partLate, st.name+": a part of the chunk late")
	}
	assert.Equal(t, int64(1), s.play.skipped)
	assert.Equal(t, uint64(104), s.play.next)
	assert.Equal(t, t0, s.play.t0, "the play clock starts at the first part")
}

// TestSkipLostStart: before its play clock runs, a viewer whose first
// chunk has not come within the play-out delay, while a later keyframe
// chunk has, starts on that one instead; not sooner, not if the first
// chunk is held, and not onto a chunk that is not a keyframe.
func TestSkipLostStart(t *testing.T) {
	now := time.Now()
	tests := []struct {
		name    string
		since   time.Duration // since the start was chosen
		held    []Chunk
		wantNow uint64
	}{
		{"lost", 2 * time.Second, []Chunk{{Seq: 3, Flags: FlagKeyframe}, {Seq: 4}}, 3},
		{"not yet", time.Second, []Chunk{{Seq: 3, Flags: FlagKeyframe}}, 0},
		{"first chunk held", 2 * time.Second, []Chunk{{Seq: 0, Flags: FlagKeyframe}, {Seq: 3, Flags: FlagKeyframe}}, 0},
		{"no keyframe after it", 2 * time.Second, []Chunk{{Seq: 3}, {Seq: 4}}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := liveTestStream(0)
			s.log = slog.New(slog.DiscardHandler)
			for _, c := range tt.held {
				c.Data = []byte{1}
				s.st.put(c)
			}
			s.play = playout{started: true, startAt: now.Add(-tt.since), next: 0}
			s.skipLostStartLocked(now, 1500*time.Millisecond)
			assert.Equal(t, tt.wantNow, s.play.next)
		})
	}
}
