package p2pstream_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/p2pstream/p2pstream"
	"github.com/p2pstream/p2pstream/internal/ts"
)

// TestBroadcasterRestart: the publisher stops without ending the stream
// and starts again with the same key, numbering its chunks from 0. The
// viewers, already past those numbers, notice it from the new source's
// announcements, and go on with the new run near its live edge: the
// earlier run's bytes, then the new run's from a keyframe, each exactly the
// source's.
func TestBroadcasterRestart(t *testing.T) {
	// One viewer: the source pushes it every chunk and announces none.
	for _, viewers := range []int{1, 3} {
		t.Run(fmt.Sprintf("%d viewers", viewers), func(t *testing.T) { testBroadcasterRestart(t, viewers) })
	}
}

func testBroadcasterRestart(t *testing.T, viewers int) {
	sw := newSwarm(t)
	_, key, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	src := ts.Synthetic(60*time.Second, 250_000, 250*time.Millisecond)
	opts := p2pstream.PublishOptions{ChunkDuration: 250 * time.Millisecond, Key: key}
	pub := sw.peer()
	_, err = pub.Publish(context.Background(), bytes.NewReader(src), opts)
	require.NoError(t, err)

	id := p2pstream.StreamID(key.Public().(ed25519.PublicKey))
	sinks := make([]*collector, viewers)
	for i := range sinks {
		sinks[i] = &collector{}
		p := sw.peer()
		p.Window = 2 * time.Second // 8 chunks: the earlier run soon leaves it
		p.Delay = 5 * time.Second
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err := p.Join(ctx, id, sinks[i])
		cancel()
		require.NoError(t, err)
	}
	// Chunks each viewer plays of the first run: the new run takes as long
	// to reach the same numbers, which leaves a viewer time to find the new
	// source (a peer that turned a dial away is not redialled for 5 s).
	const before = 40
	require.Eventually(t, func() bool {
		for _, c := range sinks {
			if len(c.snapshot()) < before {
				return false
			}
		}
		return true
	}, 30*time.Second, 50*time.Millisecond)

	pub.Close() // no end-of-stream chunk: as if the process was killed
	restart := time.Now()
	pub2 := sw.peer()
	_, err = pub2.Publish(context.Background(), bytes.NewReader(src), opts)
	require.NoError(t, err)

	newRun := func(c *collector) (old, fresh []p2pstream.Chunk) {
		for _, ch := range c.snapshot() {
			if time.UnixMicro(ch.Timestamp).Before(restart) {
				old = append(old, ch)
			} else {
				fresh = append(fresh, ch)
			}
		}
		return old, fresh
	}
	require.Eventually(t, func() bool {
		for _, c := range sinks {
			// Past the numbers of the first run's chunks it held and
			// advertised: the source must not take those for this run's.
			if _, fresh := newRun(c); len(fresh) == 0 || fresh[len(fresh)-1].Seq <= before {
				return false
			}
		}
		return true
	}, 40*time.Second, 50*time.Millisecond, "every viewer plays the new run past the first run's numbers")
	for i, c := range sinks {
		old, fresh := newRun(c)
		checkSourceChunks(t, src, old)
		checkSourceChunks(t, src, fresh)
		assert.True(t, fresh[0].Keyframe(), "viewer %d: the new run starts at a keyframe", i)
		// Joined near the new run's live edge, not where the first run
		// left off: that would wait as long as the first run lasted.
		assert.Less(t, fresh[0].Seq, old[len(old)-1].Seq, "viewer %d: the new run joined from its start", i)
		t.Logf("viewer %d: %d chunks of the first run (to seq %d), then %d of the new one from seq %d",
			i, len(old), old[len(old)-1].Seq, len(fresh), fresh[0].Seq)
	}
}
