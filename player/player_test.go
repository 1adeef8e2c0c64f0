package player

import (
	"bytes"
	"image"
	"io"
	"math/rand/v2"
	"strings"
	"sync/atomic"

	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/p2pstream/p2pstream"
	"github.com/p2pstream/p2pstream/internal/sample"
	"github.com/p2pstream/p2pstream/internal/ts"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// waitFor polls cond until it holds or a generous deadline passes; libVLC
// plays in real time, so what it waits for takes seconds.
func waitFor(t *testing.T, p *Player, what string, cond func(Stats) bool) Stats {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		st := p.Stats()
		if cond(st) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; stats %+v", what, st)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func newPlayer(t *testing.T) *Player {
	t.Helper()
	p, err := New(Options{Mute: true})
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, p.Close()) })
	return p
}

// The colour bars at the top of every sample frame (see internal/sample).
var sampleBars = []struct {
	name    string
	r, g, b uint8
}{
	{"grey", 190, 190, 190}, {"yellow", 190, 190, 0}, {"cyan", 0, 190, 190},
	{"green", 0, 190, 0}, {"magenta", 190, 0, 190}, {"red", 190, 0, 0}, {"blue", 0, 0, 190},
}

func near(a, b uint8) bool { return max(a, b)-min(a, b) <= 16 }

func TestDecodeSample(t *testing.T) {
	p := newPlayer(t)
	require.NoError(t, p.PlaySeekable(bytes.NewReader(sample.TS)))

	first := waitFor(t, p, "10 frames", func(s Stats) bool { return s.FramesDecoded >= 10 })
	pos1 := position(t, p)
	img1 := p.LastFrame()
	require.NotNil(t, img1)
	assert.Equal(t, image.Rect(0, 0, 640, 360), img1.Bounds(), "the sample's size")
	assert.Equal(t, image.Rect(0, 0, 640, 360), p.dec.lastFrame().Bounds(),
		"libVLC's picture is the sample's size (read from the SPS), not its 640x386 buffer: no rescale")

	for i, bar := range sampleBars {
		x := i*640/7 + 640/14
		c := img1.RGBAAt(x, 40)
		assert.Truef(t, near(c.R, bar.r) && near(c.G, bar.g) && near(c.B, bar.b),
			"bar %s at x=%d: got %v want (%d,%d,%d)", bar.name, x, c, bar.r, bar.g, bar.b)
	}

	// Two seconds of media later the counter and the gradient have moved,
	// the bars have not.
	var pos2 time.Duration
	require.Eventually(t, func() bool {
		pos2 = position(t, p)
		return pos2 >= pos1+2*time.Second
	}, 30*time.Second, 20*time.Millisecond)
	last := p.Stats()
	img2 := p.LastFrame()
	assert.Less(t, differing(img1, img2, image.Rect(0, 0, 640, 80)), 64, "static colour bars changed")
	assert.Greater(t, differing(img1, img2, image.Rect(0, 120, 640, 360)), 1000, "moving pattern did not move")

	// Rates, in media time: 25 pictures (shown, or decoded too late on a
	// busy machine) and 48000 stereo samples a second.
	span := (pos2 - pos1).Seconds()
	fps := float64(last.FramesDecoded+last.FramesDropped-first.FramesDecoded-first.FramesDropped) / span
	assert.InDelta(t, 25, fps, 4, "frames per media second")
	assert.Equal(t, 48000, last.AudioRate)
	assert.Equal(t, 2, last.AudioChannels)
	rate := float64(last.AudioSamples-first.AudioSamples) / span
	assert.InDelta(t, 48000, rate, 48000*0.15, "sound samples per media second")
	assert.Equal(t, StatePlaying, last.State)
	t.Logf("%d frames, %d dropped (%.1f per media second), %.0f samples per media second; position %v -> %v",
		last.FramesDecoded, last.FramesDropped, fps, rate, pos1, pos2)
}

func position(t *testing.T, p *Player) time.Duration {
	t.Helper()
	pos, err := p.Position()
	require.NoError(t, err)
	return pos
}

// differing counts the pixels in r that differ clearly between a and b.
func differing(a, b *image.RGBA, r image.Rectangle) int {
	n := 0
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			ca, cb := a.RGBAAt(x, y), b.RGBAAt(x, y)
			if !near(ca.R, cb.R) || !near(ca.G, cb.G) || !near(ca.B, cb.B) {
				n++
			}
		}
	}
	return n
}

// Bad input never crashes the player; pictures come back at the next
// keyframe after garbage or a join in the middle of the stream.
func TestBadInput(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	garbage := make([]byte, 300_000)
	for i := range garbage {
		garbage[i] = byte(rng.Uint32())
	}
	mid := len(sample.TS) / 3 // not on a packet boundary
	tests := []struct {
		name   string
		input  []byte
		frames bool // pictures must come
		end    bool // wait for the end (short inputs only: libVLC plays in real time)
	}{
		{"mid-stream join", sample.TS[mid+7:], true, false},
		{"garbage then stream", splice(garbage, sample.TS[mid:]), true, false},
		{"stream with garbage inside", splice(sample.TS[:200_000], garbage, sample.TS[mid:]), true, false},
		{"garbage only", garbage, false, true},
		{"truncated", sample.TS[:100_000], true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPlayer(t)
			require.NoError(t, p.Play(bytes.NewReader(tt.input)))
			if tt.frames {
				waitFor(t, p, "frames", func(s Stats) bool { return s.FramesDecoded >= 5 })
				img := p.LastFrame()
				c := img.RGBAAt(640/14, 40)
				assert.True(t, near(c.R, 190) && near(c.G, 190) && near(c.B, 190), "grey bar after recovery: %v", c)
			}
			if tt.end {
				waitFor(t, p, "the end of the input", func(s Stats) bool {
					return s.State == StateEnded || strings.HasPrefix(s.State, "error:")
				})
			}
			t.Logf("%s: %+v", tt.name, p.Stats())
		})
	}
}

func splice(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// A stalled input shows "buffering" and plays again when data flows.
func TestStallRecovers(t *testing.T) {
	p := newPlayer(t)
	pr, pw := io.Pipe()
	require.NoError(t, p.Play(pr))
	half := len(sample.TS) / 6
	go func() {
		// The pipe blocks until libVLC reads; Close unblocks it.
		pw.Write(sample.TS[:half])
	}()
	st := waitFor(t, p, "buffering after the data stops", func(s Stats) bool {
		return s.FramesDecoded > 0 && s.State == StateBuffering
	})
	go func() {
		pw.Write(sample.TS[half : 2*half])
		pw.Close()
	}()
	waitFor(t, p, "playing again", func(s Stats) bool {
		return s.State == StatePlaying && s.FramesDecoded > st.FramesDecoded+10
	})
}

// The Sink plays the chunks of a stream written to it.
func TestSink(t *testing.T) {
	p := newPlayer(t)
	sink := p.Sink()
	done := make(chan error, 1)
	go func() {
		for i, off := uint64(0), 0; off < len(sample.TS); i++ {
			end := min(off+188*1000, len(sample.TS))
			if err := sink.WriteChunk(p2pstream.Chunk{Seq: i, Data: sample.TS[off:end]}); err != nil {
				done <- err
				return
			}
			off = end
		}
		done <- sink.Close()
	}()
	waitFor(t, p, "frames through the sink", func(s Stats) bool { return s.FramesDecoded >= 25 })
	require.NoError(t, p.Close())
	<-done // the writer returns: it finished or saw the closed player
	assert.Error(t, sink.WriteChunk(p2pstream.Chunk{Data: sample.TS[:188]}), "writing to a closed player fails")
	assert.Equal(t, StateClosed, p.Stats().State)
}

func TestLiveCannotSeek(t *testing.T) {
	p := newPlayer(t)
	require.NoError(t, p.Play(bytes.NewReader(sample.TS)))
	assert.False(t, p.Seekable())
	assert.Error(t, p.Seek(time.Second))
	assert.Error(t, p.SetPause(true))
}

// countingSeeker counts the seeks libVLC makes on the input.
type countingSeeker struct {
	io.ReadSeeker
	seeks atomic.Int64
}

func (c *countingSeeker) Seek(off int64, whence int) (int64, error) {
	c.seeks.Add(1)
	return c.ReadSeeker.Seek(off, whence)
}

// On demand, seeking moves the position and goes through the ReadSeeker;
// pausing stops the pictures and resuming brings them back.
func TestSeekAndPause(t *testing.T) {
	p := newPlayer(t)
	// Twenty passes of the sample with continuous timestamps (10 minutes,
	// 50 MB): more than libVLC prefetches (16 MiB), so seeks reach the input.
	long := make([]byte, 20*len(sample.TS))
	_, err := io.ReadFull(ts.Loop(t.Context(), sample.TS), long)
	require.NoError(t, err)
	in := &countingSeeker{ReadSeeker: bytes.NewReader(long)}
	require.NoError(t, p.PlaySeekable(in))
	require.True(t, p.Seekable())
	waitFor(t, p, "frames", func(s Stats) bool { return s.FramesDecoded >= 10 })
	before, err := p.Position()
	require.NoError(t, err)
	seeks := in.seeks.Load()

	// Seeks are by byte position, estimated from the rate so far: precise
	// to a few seconds.
	require.NoError(t, p.Seek(5*time.Minute))
	var after time.Duration
	require.Eventually(t, func() bool {
		after, err = p.Position()
		return err == nil && after >= before+3*time.Minute
	}, 30*time.Second, 20*time.Millisecond, "position after seeking 5 min from %v", before)
	assert.Greater(t, in.seeks.Load(), seeks, "the seek reached the ReadSeeker")
	waitFor(t, p, "frames after the seek", func(s Stats) bool { return s.State == StatePlaying })

	require.NoError(t, p.SetPause(true))
	assert.Equal(t, StatePaused, p.Stats().State)
	require.NoError(t, p.SetPause(false))
	n := p.Stats().FramesDecoded
	waitFor(t, p, "frames after resuming", func(s Stats) bool {
		return s.State == StatePlaying && s.FramesDecoded > n+10
	})
	t.Logf("position %v -> %v after seeking 5 min; %d seeks on the input", before, after, in.seeks.Load())
}

// blockingReader gives some stream, then blocks in Read until unblocked;
// it cannot be closed.
type blockingReader struct {
	data    []byte
	unblock chan struct{}
}

func (b *blockingReader) Read(p []byte) (int, error) {
	if len(b.data) > 0 {
		n := copy(p, b.data)
		b.data = b.data[n:]
		return n, nil
	}
	<-b.unblock
	return 0, io.EOF
}

// Close returns even while the input blocks in a Read it cannot leave.
func TestCloseWithBlockedReader(t *testing.T) {
	in := &blockingReader{data: sample.TS[:300_000], unblock: make(chan struct{})}
	defer close(in.unblock) // lets the reading goroutine end, for goleak
	p, err := New(Options{Mute: true})
	require.NoError(t, err)
	require.NoError(t, p.Play(in))
	waitFor(t, p, "frames", func(s Stats) bool { return s.FramesDecoded >= 5 })
	done := make(chan error, 1)
	go func() { done <- p.Close() }()
	select {
	case err := <-done:
		assert.NoError(t, err)
	case <-time.After(20 * time.Second):
		t.Fatal("Close is stuck behind a blocked Read")
	}
}
