package p2pstream_test

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/p2pstream/p2pstream"
	"github.com/p2pstream/p2pstream/internal/ts"
	"github.com/p2pstream/p2pstream/transport"
)

// swarm is a tracker and peers on one in-memory network.
type swarm struct {
	t       *testing.T
	net     *transport.Mem
	tracker *p2pstream.Tracker
	url     string
	hosts   int
	pull    bool // peers pull every chunk (Peer.Pull), out of the stripe trees
	parts   bool // viewers' sinks take chunks in parts (p2pstream.PartSink)
}

const trackerHost = "10.0.0.1"

func newSwarm(t *testing.T) *swarm {
	t.Helper()
	sw := &swarm{t: t, net: transport.NewMem(), url: "http://" + trackerHost + ":7070"}
	sw.startTracker()
	t.Cleanup(func() {
		sw.tracker.Close()
		sw.net.Close()
	})
	return sw
}

// startTracker starts a fresh tracker on the tracker's address.
func (sw *swarm) startTracker() {
	ln, err := sw.net.Host(trackerHost).Listen(":7070")
	require.NoError(sw.t, err)
	sw.tracker = &p2pstream.Tracker{Interval: 500 * time.Millisecond, TTL: 3 * time.Second}
	tr := sw.tracker
	go tr.Serve(ln)
}

// peer returns a new peer on its own host.
func (sw *swarm) peer() *p2pstream.Peer {
	sw.hosts++
	p := &p2pstream.Peer{
		Tracker:   sw.url,
		Transport: sw.net.Host("10.0.1." + strconv.Itoa(sw.hosts)),
		Pull:      sw.pull,
	}
	sw.t.Cleanup(func() { p.Close() })
	return p
}

// join adds n viewers of id, each with its own collector.
func (sw *swarm) join(id p2pstream.StreamID, n int) ([]*collector, []*p2pstream.Stream) {
	sw.t.Helper()
	sinks := make([]*collector, n)
	streams := make([]*p2pstream.Stream, n)
	for i := range n {
		sinks[i] = &collector{}
		var sink p2pstream.Sink = sinks[i]
		if sw.parts {
			sink = partCollector{sinks[i]}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		p := sw.peer()
		// These tests check exact bytes, not timing: a generous play-out
		// delay keeps a slow, shared machine from skipping late chunks.
		p.Delay = 30 * time.Second
		s, err := p.Join(ctx, id, sink)
		cancel()
		require.NoError(sw.t, err)
		streams[i] = s
	}
	return sinks, streams
}

// collector is a Sink that keeps everything it is given.
type collector struct {
	mu     sync.Mutex
	chunks []p2pstream.Chunk
	ages   []time.Duration // live: each chunk's age when handed over, by the publisher's clock
	offs   []int           // partCollector: where each chunk's first part began
	later  int             // partCollector: parts after a chunk's first
	closed bool
}

func (c *collector) WriteChunk(ch p2pstream.Chunk) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.chunks = append(c.chunks, ch)
	c.ages = append(c.ages, time.Since(time.UnixMicro(ch.Timestamp)))
	return nil
}

// partCollector is a collector that takes chunks in parts, and puts them
// back together; a part that does not follow on from the last is recorded
// as a chunk of its own, which checkLive rejects.
type partCollector struct{ *collector }

func (c partCollector) WritePart(ch p2pstream.Chunk, off int, data []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if n := len(c.chunks); off > 0 && n > 0 && c.chunks[n-1].Seq == ch.Seq && len(c.chunks[n-1].Data) == off {
		c.chunks[n-1].Data = append(c.chunks[n-1].Data, data...)
		c.later++
		return nil
	}
	ch.Data = slices.Clone(data)
	c.chunks = append(c.chunks, ch)
	c.ages = append(c.ages, time.Since(time.UnixMicro(ch.Timestamp)))
	c.offs = append(c.offs, off)
	return nil
}

// oldest returns, for each seq delivered by any of cs, the greatest age at
// which one of them got it, the n oldest, for a failing test to show which
// chunks came late to whom.
func oldest(cs []*collector, n int) string {
	worst := map[uint64]time.Duration{}
	for _, c := range cs {
		c.mu.Lock()
		for i, ch := range c.chunks {
			worst[ch.Seq] = max(worst[ch.Seq], c.ages[i])
		}
		c.mu.Unlock()
	}
	seqs := slices.Collect(maps.Keys(worst))
	slices.SortFunc(seqs, func(a, b uint64) int { return cmp.Compare(worst[b], worst[a]) })
	var b strings.Builder
	for _, seq := range seqs[:min(n, len(seqs))] {
		fmt.Fprintf(&b, " chunk %d at %v;", seq, worst[seq].Round(time.Millisecond))
	}
	return b.String()
}

func (c *collector) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	return nil
}

func (c *collector) bytes() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	var b []byte
	for _, ch := range c.chunks {
		b = append(b, ch.Data...)
	}
	return b
}

func (c *collector) snapshot() []p2pstream.Chunk {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]p2pstream.Chunk(nil), c.chunks...)
}

func waitDone(t *testing.T, s *p2pstream.Stream, d time.Duration) {
	t.Helper()
	select {
	case <-s.Done():
	case <-time.After(d):
		t.Fatalf("stream %s not done after %v: %+v", s.ID().Short(), d, s.Stats())
	}
}

// checkLive asserts a viewer got exactly the source's bytes from a keyframe
// chunk on, with consecutive sequence numbers.
func checkLive(t *testing.T, src []byte, c *collector) {
	t.Helper()
	chunks := c.snapshot()
	require.NotEmpty(t, chunks)
	assert.True(t, chunks[0].Keyframe(), "first chunk starts at a keyframe")
	for i, off := range c.offs {
		require.Zero(t, off, "chunk %d: a part that does not follow on from the one before", chunks[i].Seq)
	}
	for i := 1; i < len(chunks); i++ {
		require.Equal(t, chunks[i-1].Seq+1, chunks[i].Seq, "no chunk skipped")
	}
	got := c.bytes()
	require.True(t, bytes.HasSuffix(src, got), "viewer bytes are the tail of the source (%d of %d bytes)", len(got), len(src))
}

func TestLiveSwarm(t *testing.T) {
	for _, tt := range []struct {
		name         string
		trees, parts bool
	}{
		{"pull", false, false},
		{"pull, parts", false, true},
		{"trees", true, false},
		{"trees, parts", true, true},
	} {
		t.Run(tt.name, func(t *testing.T) { testLiveSwarm(t, tt.trees, tt.parts) })
	}
}

// testLiveSwarm runs TestLiveSwarm with or without stripe trees
// (unless Peer.Pull), to sinks that take whole chunks or parts (PartSink): every
// viewer must deliver exactly the source's bytes.
func testLiveSwarm(t *testing.T, trees, parts bool) {
	sw := newSwarm(t)
	sw.pull, sw.parts = !trees, parts
	src := ts.Synthetic(8*time.Second, 1_000_000, 250*time.Millisecond)
	pub := sw.peer()
	// Two chunks per keyframe interval: some chunks start without a keyframe.
	stream, err := pub.Publish(context.Background(), bytes.NewReader(src), p2pstream.PublishOptions{ChunkDuration: 200 * time.Millisecond})
	require.NoError(t, err)

	const viewers = 20
	sinks, streams := sw.join(stream.ID(), viewers)
	for i, s := range streams {
		waitDone(t, s, 30*time.Second)
		checkLive(t, src, sinks[i])
	}
	if parts {
		later := 0
		for _, c := range sinks {
			later += c.later
		}
		assert.Positive(t, later, "chunks handed over in parts, as they arrived")
		t.Logf("%d parts handed over after their chunks' first", later)
	}
	var fromPeers, fromSource int64
	var minCont float64 = 1
	for _, s := range streams {
		st := s.Stats()
		fromPeers += st.BytesFromPeers
		fromSource += st.BytesFromSource
		minCont = min(minCont, st.Continuity)
	}
	up := stream.Stats().BytesUp
	t.Logf("source uploaded %.2f copies of the stream to %d viewers; P2P ratio %.2f; min continuity %.3f",
		float64(up)/float64(len(src)), viewers, float64(fromPeers)/float64(fromPeers+fromSource), minCont)
	assert.Less(t, up, int64(6*len(src)), "the source uploads far less than one copy per viewer")
}

func TestJoinUnknownStream(t *testing.T) {
	sw := newSwarm(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := sw.peer().Join(ctx, p2pstream.StreamID{1}, nil)
	require.ErrorIs(t, err, p2pstream.ErrStreamNotFound)
}
