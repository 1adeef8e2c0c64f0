package p2pstream_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/p2pstream/p2pstream"
	"github.com/p2pstream/p2pstream/internal/ts"
)

// TestTrackerRestart kills the tracker mid-stream: the viewers keep
// streaming from the peers they know, and a new tracker on the same address
// relearns the stream and its peers from their next announces.
func TestTrackerRestart(t *testing.T) {
	sw := newSwarm(t)
	src := ts.Synthetic(8*time.Second, 500_000, 250*time.Millisecond)
	stream, err := sw.peer().Publish(context.Background(), bytes.NewReader(src), p2pstream.PublishOptions{ChunkDuration: 250 * time.Millisecond})
	require.NoError(t, err)

	const viewers = 3
	sinks, streams := sw.join(stream.ID(), viewers)

	require.NoError(t, sw.tracker.Close())
	// With the tracker gone, every viewer still receives new chunks.
	before := make([]int, viewers)
	for i, c := range sinks {
		before[i] = len(c.snapshot())
	}
	require.Eventually(t, func() bool {
		for i, c := range sinks {
			if len(c.snapshot()) < before[i]+3 {
				return false
			}
		}
		return true
	}, 10*time.Second, 50*time.Millisecond, "viewers keep streaming while the tracker is down")

	sw.startTracker()
	tc := &p2pstream.TrackerClient{URL: sw.url, Transport: sw.net.Host("10.0.2.1")}
	defer tc.Close()
	require.Eventually(t, func() bool {
		st, err := tc.Stream(context.Background(), stream.ID())
		return err == nil && st.Peers == viewers+1
	}, 15*time.Second, 100*time.Millisecond, "the new tracker relearns the stream and all its peers")

	for i, s := range streams {
		waitDone(t, s, 30*time.Second)
		checkLive(t, src, sinks[i])
	}
}
