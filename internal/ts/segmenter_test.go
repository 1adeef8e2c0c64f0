package ts

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"testing/iotest"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/p2pstream/p2pstream/internal/sample"
)

// checkSegments checks what holds for every segmentation: whole packets,
// bounded size, Start continuing from the previous segment.
func checkSegments(t *testing.T, segs []Segment) {
	t.Helper()
	var next time.Duration
	for i, s := range segs {
		assert.Zero(t, len(s.Data)%PacketSize, "segment %d holds whole packets", i)
		assert.LessOrEqual(t, len(s.Data), MaxSegmentSize, "segment %d", i)
		assert.Equal(t, next, s.Start, "segment %d starts where the previous ended", i)
		next = s.Start + s.Duration
	}
}

// startsAtKeyframe reports whether seg begins with table packets (at least
// a PAT and a PMT) directly followed by the first packet of a keyframe.
func startsAtKeyframe(seg Segment, tables *Tables) bool {
	sawPAT, sawPMT := false, false
	for _, p := range packetsIn(seg.Data) {
		switch {
		case p.PID() == 0:
			sawPAT = true
		case tables.IsTable(p.PID()) && p.PID() > 0x1f:
			sawPMT = true
		case tables.IsTable(p.PID()):
		default:
			return sawPAT && sawPMT && tables.Keyframe(p)
		}
	}
	return false
}

func TestSegmenterSample(t *testing.T) {
	for _, target := range []time.Duration{time.Second, 2 * time.Second, 3 * time.Second} {
		t.Run(target.String(), func(t *testing.T) {
			segs := segmentsOf(t, bytes.NewReader(sample.TS), target)
			checkSegments(t, segs)
			assert.Equal(t, sample.TS, join(segs), "segments concatenate to the input")
			assert.Len(t, segs, int(30*time.Second/target))
			tables := tablesOf(sample.TS)
			for i, s := range segs {
				assert.True(t, s.Keyframe, "segment %d", i)
				assert.True(t, startsAtKeyframe(s, tables), "segment %d starts with PAT, PMT, keyframe", i)
				if i < len(segs)-1 {
					assert.InDelta(t, target.Seconds(), s.Duration.Seconds(), 0.001, "segment %d", i)
				}
			}
		})
	}
}

func TestSegmenterSynthetic(t *testing.T) {
	tests := []struct {
		name           string
		target, keyint time.Duration
		wantDuration   time.Duration // of all segments but the last
		slack          time.Duration // that duration may be longer by
		wantKeyframes  bool          // all segments start at keyframes
	}{
		{"keyframe every target", 500 * time.Millisecond, 500 * time.Millisecond, 500 * time.Millisecond, 0, true},
		{"keyframes twice per target", time.Second, 500 * time.Millisecond, time.Second, 0, true},
		{"keyframes not on frame times", 250 * time.Millisecond, 250 * time.Millisecond, 250 * time.Millisecond, 0, true},
		{"keyframe just after the target", time.Second, 1100 * time.Millisecond, 1100 * time.Millisecond, 0, true},
		// Time moves in PCR steps of up to 40 ms.
		{"keyframes too rare: cut at twice the target", 200 * time.Millisecond, 5 * time.Second, 400 * time.Millisecond, 40 * time.Millisecond, false},
		{"target 0: every keyframe", 0, 300 * time.Millisecond, 300 * time.Millisecond, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := Synthetic(4*time.Second, 1_000_000, tt.keyint)
			segs := segmentsOf(t, bytes.NewReader(data), tt.target)
			checkSegments(t, segs)
			assert.Equal(t, data, join(segs))
			require.Greater(t, len(segs), 2)
			assert.True(t, segs[0].Keyframe)
			tables := tablesOf(data)
			allKey := true
			for i, s := range segs {
				allKey = allKey && s.Keyframe
				assert.Equal(t, s.Keyframe, startsAtKeyframe(s, tables), "segment %d", i)
				if i < len(segs)-1 {
					// Packets go every 1.5 ms, so keyframes are a few ms off.
					assert.GreaterOrEqual(t, s.Duration, tt.wantDuration-4*time.Millisecond, "segment %d", i)
					assert.LessOrEqual(t, s.Duration, tt.wantDuration+tt.slack+4*time.Millisecond, "segment %d", i)
				}
			}
			assert.Equal(t, tt.wantKeyframes, allKey)
		})
	}
}

func TestSegmenterMaxSize(t *testing.T) {
	// 6 s at 20 Mbit/s with one keyframe: 2 s would be 5 MB, over the cap.
	data := Synthetic(6*time.Second, 20_000_000, 0)
	segs := segmentsOf(t, bytes.NewReader(data), 2*time.Second)
	checkSegments(t, segs)
	assert.Equal(t, data, join(segs))
	require.Greater(t, len(segs), 3)
	for i, s := range segs[:len(segs)-1] {
		assert.Equal(t, MaxSegmentSize, len(s.Data), "segment %d is cut at the size limit", i)
		assert.Equal(t, i == 0, s.Keyframe)
	}
	assert.Less(t, MaxSegmentSize, 4<<20)
}

func TestSegmenterDiscontinuity(t *testing.T) {
	// A file played twice: the PCR goes back to 0 in the middle.
	one := Synthetic(3*time.Second, 500_000, time.Second)
	data := append(bytes.Clone(one), one...)
	segs := segmentsOf(t, bytes.NewReader(data), time.Second)
	checkSegments(t, segs)
	assert.Equal(t, data, join(segs))
	require.Len(t, segs, 6)
	for i, s := range segs {
		assert.True(t, s.Keyframe, "segment %d", i)
		if i != 2 && i != len(segs)-1 {
			assert.InDelta(t, 1, s.Duration.Seconds(), 0.002, "segment %d", i)
		}
	}
	// Across the seam the clock moves on by one PCR interval.
	assert.InDelta(t, 1, segs[2].Duration.Seconds(), 0.05)
}

func TestSegmenterWallClock(t *testing.T) {
	// A live pipe without PCR is cut by the time packets arrive.
	synctest.Test(t, func(t *testing.T) {
		const bitrate = 500_000
		data := withoutPCR(Synthetic(3500*time.Millisecond, bitrate, 500*time.Millisecond))
		segs := segmentsOf(t, trickle(data, bitrate), time.Second)
		checkSegments(t, segs)
		assert.Equal(t, data, join(segs))
		require.Len(t, segs, 4)
		for i, s := range segs {
			assert.True(t, s.Keyframe, "segment %d", i)
			if i < len(segs)-1 {
				assert.InDelta(t, 1, s.Duration.Seconds(), 0.01, "segment %d", i)
			}
		}
	})
}

func TestSegmenterBadInput(t *testing.T) {
	good := Synthetic(2*time.Second, 500_000, 500*time.Millisecond)
	tests := map[string][]byte{
		"empty":            nil,
		"one byte":         {SyncByte},
		"garbage":          bytes.Repeat([]byte{1, 2, 3, SyncByte, 9}, 1000),
		"only sync bytes":  bytes.Repeat([]byte{SyncByte}, 5000),
		"truncated":        good[:len(good)-100],
		"garbage in front": append(bytes.Repeat([]byte{0xaa}, 77), good...),
		"garbage inside":   append(append(bytes.Clone(good[:50*PacketSize]), "not a packet"...), good[50*PacketSize:]...),
		"pcr backwards":    append(bytes.Clone(good[len(good)/2:]), good[:len(good)/2]...),
	}
	for name, data := range tests {
		t.Run(name, func(t *testing.T) {
			segs := segmentsOf(t, bytes.NewReader(data), 500*time.Millisecond)
			checkSegments(t, segs)
			assert.Equal(t, nilIfEmpty(packets(data)), nilIfEmpty(join(segs)), "segments hold exactly the packets found")
		})
	}
}

func TestSegmenterReadError(t *testing.T) {
	boom := errors.New("boom")
	data := Synthetic(time.Second, 500_000, 500*time.Millisecond)
	r := io.MultiReader(bytes.NewReader(data), iotest.ErrReader(boom))
	s := NewSegmenter(r, time.Second)
	var got []byte
	for {
		seg, err := s.Next()
		got = append(got, seg.Data...)
		if err != nil {
			assert.ErrorIs(t, err, boom)
			break
		}
	}
	assert.Equal(t, data, got, "the data before the error is returned first")
	_, err := s.Next()
	assert.ErrorIs(t, err, boom, "the error stays")
}

func TestSegmentDataIsNotReused(t *testing.T) {
	data := Synthetic(3*time.Second, 500_000, 500*time.Millisecond)
	s := NewSegmenter(bytes.NewReader(data), 500*time.Millisecond)
	first, err := s.Next()
	require.NoError(t, err)
	kept := bytes.Clone(first.Data)
	for err == nil {
		_, err = s.Next()
	}
	assert.Equal(t, kept, first.Data)
}
