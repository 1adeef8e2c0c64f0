package p2pstream_test

import (
	"bytes"
	"context"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/p2pstream/p2pstream"
	"github.com/p2pstream/p2pstream/internal/adversary"
	"github.com/p2pstream/p2pstream/internal/ts"
)

// stallingReader reads src, but once at byte `at` it blocks for `stall`:
// a broadcaster whose input (camera, encoder, network) hangs.
type stallingReader struct {
	src   io.Reader
	at    int
	stall time.Duration
	n     int
	once  sync.Once
	// stalled is closed when the stall begins.
	stalled chan struct{}
}

func (r *stallingReader) Read(p []byte) (int, error) {
	if r.n < r.at && r.n+len(p) > r.at {
		p = p[:r.at-r.n]
	}
	if r.n == r.at {
		r.once.Do(func() {
			close(r.stalled)
			time.Sleep(r.stall) // the fault itself, not synchronisation
		})
	}
	n, err := r.src.Read(p)
	r.n += n
	return n, err
}

// TestBroadcasterStall stalls the broadcaster's input for 5 s in the middle
// of a live stream. The viewers must wait and carry on with the same
// streams: every byte delivered, nothing skipped, the stall not counted as
// lateness.
func TestBroadcasterStall(t *testing.T) {
	const stall = 5 * time.Second
	sw := newSwarm(t)
	src := ts.Synthetic(6*time.Second, 250_000, 250*time.Millisecond)
	in := &stallingReader{src: bytes.NewReader(src), at: len(src) / 2 / ts.PacketSize * ts.PacketSize, stall: stall, stalled: make(chan struct{})}
	pub := sw.peer()
	stream, err := pub.Publish(context.Background(), in, p2pstream.PublishOptions{ChunkDuration: 250 * time.Millisecond})
	require.NoError(t, err)
	// A 3 s buffer, so a busy machine does not make chunks late: what is
	// tested is the stall, which is longer.
	sinks, streams := joinWithDelay(t, sw, stream.ID(), 5, 3*time.Second)

	select {
	case <-in.stalled:
	case <-time.After(30 * time.Second):
		t.Fatal("the broadcaster never reached the stall")
	}
	before := make([]int, len(sinks))
	for i, c := range sinks {
		before[i] = len(c.snapshot())
	}
	for i, s := range streams {
		waitDone(t, s, 60*time.Second)
		checkLive(t, src, sinks[i])
		st := s.Stats()
		after := len(sinks[i].snapshot()) - before[i]
		t.Logf("viewer %d: %d chunks before the stall, %d after; continuity %.3f, %d skipped", i, before[i], after, st.Continuity, st.ChunksSkipped)
		assert.Positive(t, after, "viewer %d resumed after the stall", i)
		assert.Zero(t, st.ChunksSkipped, "viewer %d skipped nothing", i)
	}
}

// TestCloseUnderLoad closes every peer of a busy swarm, with adversaries
// attacking it, in the middle of a stream. Each Close must return promptly
// and leave no goroutine behind.
func TestCloseUnderLoad(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent(),
		goleak.IgnoreAnyFunction("net/http.(*conn).closeWriteAndWait"))
	sw := newSwarm(t)
	src := ts.Synthetic(60*time.Second, 1_000_000, 250*time.Millisecond)
	pub := sw.peer()
	stream, err := pub.Publish(context.Background(), bytes.NewReader(src), p2pstream.PublishOptions{ChunkDuration: 250 * time.Millisecond})
	require.NoError(t, err)
	advs := startAdversaries(t, sw, stream.ID(), 3, []adversary.Kind{adversary.SlowLoris, adversary.Flooder, adversary.Liar})
	peers := []*p2pstream.Peer{pub}
	var sinks []*collector
	for range 10 {
		p := sw.peer()
		c := &collector{}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err := p.Join(ctx, stream.ID(), c)
		cancel()
		require.NoError(t, err)
		peers = append(peers, p)
		sinks = append(sinks, c)
	}
	// Close once every viewer is playing, mid-stream.
	require.Eventually(t, func() bool {
		for _, c := range sinks {
			if len(c.snapshot()) < 4 {
				return false
			}
		}
		return true
	}, 30*time.Second, 50*time.Millisecond)

	var slowest time.Duration
	for i := len(peers) - 1; i >= 0; i-- { // viewers first, the source last
		start := time.Now()
		require.NoError(t, peers[i].Close())
		slowest = max(slowest, time.Since(start))
	}
	for _, a := range advs {
		a.Close()
	}
	sw.tracker.Close()
	sw.net.Close()
	t.Logf("closed %d busy peers; the slowest Close took %v", len(peers), slowest.Round(time.Millisecond))
	// Generous: a Close waits for connections to notice they are closed,
	// and this machine may be busy. Hanging (a goroutine that never ends)
	// is what this catches.
	assert.Less(t, slowest, 10*time.Second)
	for _, c := range sinks {
		c.mu.Lock()
		assert.True(t, c.closed, "the sink was closed")
		c.mu.Unlock()
	}
}
