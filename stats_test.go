package p2pstream_test

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/p2pstream/p2pstream"
	"github.com/p2pstream/p2pstream/internal/ts"
)

// timedSink records when it got the first chunk, and the last chunk's
// timestamp.
type timedSink struct {
	mu            sync.Mutex
	n             int
	ts0, lastTS   int64
	firstReceived time.Time
	lastReceived  time.Time
}

func (s *timedSink) WriteChunk(c p2pstream.Chunk) error {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.n == 0 {
		s.firstReceived, s.ts0 = now, c.Timestamp
	}
	s.n++
	s.lastTS, s.lastReceived = c.Timestamp, now
	return nil
}

func (s *timedSink) Close() error { return nil }

func (s *timedSink) state() (n int, firstReceived, lastReceived time.Time, ts0, lastTS int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n, s.firstReceived, s.lastReceived, s.ts0, s.lastTS
}

// TestLiveStatsLagAndBuffered checks that a live viewer reports how far
// behind the live edge it plays and how much stream it has ready, though
// chunks go to the sink as soon as they are held: the player plays each
// chunk at its deadline, the start behind the newest chunk plus the
// play-out delay after it was cut.
func TestLiveStatsLagAndBuffered(t *testing.T) {
	const (
		chunk = 200 * time.Millisecond
		delay = 2 * time.Second
	)
	sw := newSwarm(t)
	src := ts.Synthetic(30*time.Second, 500_000, chunk)
	pub, err := sw.peer().Publish(context.Background(), bytes.NewReader(src), p2pstream.PublishOptions{ChunkDuration: chunk})
	require.NoError(t, err)

	viewer := sw.peer()
	viewer.Delay = delay
	sink := &timedSink{}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second) // longer than the samples
	defer cancel()
	s, err := viewer.Join(ctx, pub.ID(), sink)
	require.NoError(t, err)

	require.EventuallyWithT(t, func(c *assert.CollectT) {
		n, firstReceived, lastReceived, ts0, lastTS := sink.state()
		st := s.Stats()
		now := time.Now()
		if !assert.GreaterOrEqual(c, n, 10, "chunks handed to the sink") {
			return
		}
		// The player plays the first chunk delay after it was handed over,
		// and the rest at the same pace: the first chunk's age then, plus
		// delay (less while the player waits for a late chunk).
		startLag := firstReceived.Sub(time.UnixMicro(ts0))
		assert.GreaterOrEqual(c, st.Lag, startLag+delay-250*time.Millisecond, "lag %v: start %v behind, delay %v", st.Lag, startLag, delay)
		// A chunk skipped on a busy machine makes the player wait a chunk
		// longer from then on.
		skipped := time.Duration(st.ChunksSkipped) * chunk
		assert.LessOrEqual(c, st.Lag, startLag+delay+skipped+time.Millisecond, "lag %v: start %v behind, delay %v, %d skipped", st.Lag, startLag, delay, st.ChunksSkipped)
		// The source pushes each chunk to its one viewer as it is cut, so
		// the player has what it has not yet played, the newest chunk
		// whole: at least the delay until the next chunk is due, less what
		// the newest chunk came later after its cut than the first (a busy
		// machine).
		lastLag := lastReceived.Sub(time.UnixMicro(lastTS))
		assert.GreaterOrEqual(c, st.Buffered, delay-max(0, lastLag-startLag), "buffered: first chunk %v after its cut, newest %v", startLag, lastLag)
		assert.GreaterOrEqual(c, st.Buffered, st.Lag-now.Sub(time.UnixMicro(lastTS)), "buffered: the stream handed over and not played")
		// No more than the viewer is behind, the newest chunk's duration
		// (counted to its end), and one held but not yet handed over.
		assert.LessOrEqual(c, st.Buffered, st.Lag+2*chunk, "buffered: no more than the viewer is behind")
	}, 20*time.Second, 50*time.Millisecond)
}
