package player

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/p2pstream/p2pstream"
	"github.com/p2pstream/p2pstream/internal/sample"
	"github.com/p2pstream/p2pstream/internal/ts"
	"github.com/p2pstream/p2pstream/transport"
)

// swarm is a tracker and a publishing peer on an in-memory network.
type swarm struct {
	net     *transport.Mem
	tracker string
	hosts   int
}

func newSwarm(t *testing.T) *swarm {
	t.Helper()
	n := transport.NewMem()
	t.Cleanup(func() { n.Close() })
	ln, err := n.Host("10.0.0.1").Listen(":7070")
	require.NoError(t, err)
	tr := &p2pstream.Tracker{}
	go tr.Serve(ln)
	t.Cleanup(func() { tr.Close() })
	return &swarm{net: n, tracker: "http://10.0.0.1:7070", hosts: 1}
}

func (s *swarm) peer(t *testing.T) *p2pstream.Peer {
	s.hosts++
	p := &p2pstream.Peer{Tracker: s.tracker, Transport: s.net.Host(fmt.Sprintf("10.0.0.%d", s.hosts))}
	t.Cleanup(func() { p.Close() })
	return p
}

// The player plays a live p2pstream stream through its Sink.
func TestPlayLiveStream(t *testing.T) {
	sw := newSwarm(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	live, err := sw.peer(t).Publish(ctx, ts.Pace(ctx, ts.Loop(ctx, sample.TS)), p2pstream.PublishOptions{Name: "test"})
	require.NoError(t, err)

	p := newPlayer(t)
	stream, err := sw.peer(t).Join(ctx, live.ID(), p.Sink())
	require.NoError(t, err)
	defer stream.Close()
	waitFor(t, p, "25 pictures from the swarm", func(s Stats) bool { return s.FramesDecoded >= 25 })
	img := p.LastFrame()
	c := img.RGBAAt(640/14, 40)
	assert.True(t, near(c.R, 190) && near(c.G, 190) && near(c.B, 190), "grey bar: %v", c)
}

// On demand, the player reads the stream's ReadSeeker; seeking in the
// player seeks it, so the download re-targets.
func TestPlayOnDemandStream(t *testing.T) {
	// Twenty passes of the sample (10 minutes, 50 MB): more than libVLC
	// prefetches, so a seek reaches the stream.
	long := make([]byte, 20*len(sample.TS))
	_, err := io.ReadFull(ts.Loop(t.Context(), sample.TS), long)
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "film.ts")
	require.NoError(t, os.WriteFile(path, long, 0o644))

	sw := newSwarm(t)
	ctx := context.Background()
	film, err := sw.peer(t).PublishFile(ctx, path, p2pstream.PublishOptions{})
	require.NoError(t, err)
	stream, err := sw.peer(t).Join(ctx, film.ID(), nil)
	require.NoError(t, err)
	defer stream.Close()
	r, err := stream.Reader()
	require.NoError(t, err)
	in := &countingSeeker{ReadSeeker: r}

	p := newPlayer(t)
	require.NoError(t, p.PlaySeekable(in))
	waitFor(t, p, "pictures", func(s Stats) bool { return s.FramesDecoded >= 10 })
	before := position(t, p)
	seeks := in.seeks.Load()
	require.NoError(t, p.Seek(5*time.Minute))
	require.Eventually(t, func() bool { return position(t, p) >= before+3*time.Minute }, 30*time.Second, 20*time.Millisecond)
	assert.Greater(t, in.seeks.Load(), seeks, "the seek reached the stream's reader")
	n := p.Stats().FramesDecoded
	waitFor(t, p, "pictures after the seek", func(s Stats) bool { return s.FramesDecoded > n+10 })
	st := stream.Stats()
	t.Logf("after seeking: %d of %d chunks downloaded", st.Have, st.Chunks)
}
