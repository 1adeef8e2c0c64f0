package ts

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/p2pstream/p2pstream/internal/sample"
)

func segments(t *testing.T, data []byte, target time.Duration) []Segment {
	t.Helper()
	s := NewSegmenter(bytes.NewReader(data), target)
	var out []Segment
	for {
		seg, err := s.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		require.NoError(t, err)
		out = append(out, seg)
	}
}

func TestSegmenterSample(t *testing.T) {
	segs := segments(t, sample.TS, time.Second)
	var joined []byte
	for i, s := range segs {
		joined = append(joined, s.Data...)
		assert.Zero(t, len(s.Data)%PacketSize)
		if i > 0 && i < len(segs)-1 {
			assert.True(t, s.Keyframe, "segment %d starts at a keyframe", i)
			assert.InDelta(t, time.Second.Seconds(), s.Duration.Seconds(), 0.1, "segment %d", i)
			// A joiner gets the tables (PAT or SDT, then PMT) first.
			assert.Contains(t, []uint16{0, 0x11}, Packet(s.Data[:PacketSize]).PID(), "segment %d starts with the tables", i)
		}
	}
	assert.InDelta(t, 30, len(segs), 1)
	assert.Equal(t, sample.TS, joined, "segments concatenate to the input")
}

func TestSegmenterSynthetic(t *testing.T) {
	tests := []struct {
		name            string
		target, keyint  time.Duration
		wantKeyframeAll bool
	}{
		{"keyframe every chunk", 500 * time.Millisecond, 500 * time.Millisecond, true},
		{"long keyframe interval", 200 * time.Millisecond, 500 * time.Millisecond, false},
		{"keyframes twice per chunk", time.Second, 500 * time.Millisecond, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := Synthetic(5*time.Second, 1_000_000, tt.keyint)
			segs := segments(t, data, tt.target)
			var joined []byte
			allKey := true
			for i, s := range segs {
				joined = append(joined, s.Data...)
				if i < len(segs)-1 {
					assert.LessOrEqual(t, s.Duration, 2*tt.target+50*time.Millisecond)
				}
				allKey = allKey && s.Keyframe
			}
			assert.Equal(t, data, joined)
			assert.True(t, segs[0].Keyframe)
			assert.Equal(t, tt.wantKeyframeAll, allKey)
		})
	}
}

func TestSegmenterGarbage(t *testing.T) {
	good := Synthetic(2*time.Second, 500_000, 500*time.Millisecond)
	tests := map[string][]byte{
		"empty":            nil,
		"garbage":          bytes.Repeat([]byte{1, 2, 3, 0x47, 9}, 1000),
		"truncated":        good[:len(good)-100],
		"garbage in front": append(bytes.Repeat([]byte{0xaa}, 77), good...),
	}
	for name, data := range tests {
		t.Run(name, func(t *testing.T) {
			for _, s := range segments(t, data, 500*time.Millisecond) {
				assert.Zero(t, len(s.Data)%PacketSize)
				assert.Equal(t, byte(SyncByte), s.Data[0])
			}
		})
	}
}

func TestPacketPCR(t *testing.T) {
	data := Synthetic(time.Second, 1_000_000, time.Second)
	var pcrs []time.Duration
	for i := 0; i+PacketSize <= len(data); i += PacketSize {
		if pcr, ok := Packet(data[i : i+PacketSize]).PCR(); ok {
			pcrs = append(pcrs, pcr)
		}
	}
	require.NotEmpty(t, pcrs)
	assert.Equal(t, time.Duration(0), pcrs[0])
	for i := 1; i < len(pcrs); i++ {
		assert.InDelta(t, 40*time.Millisecond, pcrs[i]-pcrs[i-1], float64(time.Millisecond))
	}
}

func TestPaceTakesRealTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		data := Synthetic(3*time.Second, 500_000, time.Second)
		start := time.Now()
		got, err := io.ReadAll(Pace(context.Background(), bytes.NewReader(data)))
		require.NoError(t, err)
		assert.Equal(t, data, got)
		assert.InDelta(t, 3*time.Second, time.Since(start), float64(50*time.Millisecond))
	})
}

func TestPaceLoopAndCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		data := Synthetic(time.Second, 500_000, time.Second)
		ctx, cancel := context.WithCancel(context.Background())
		r := Pace(ctx, Loop(ctx, data))
		start := time.Now()
		// 2.5 loops of a 1 s file take 2.5 s: discontinuities do not stall or rush.
		_, err := io.CopyN(io.Discard, r, int64(len(data)*5/2))
		require.NoError(t, err)
		assert.InDelta(t, 2.5, time.Since(start).Seconds(), 0.1)
		cancel()
		_, err = r.Read(make([]byte, 10))
		assert.ErrorIs(t, err, context.Canceled)
	})
}

// TestPATPointerPastEnd is a regression test for a crash the fuzzer found: a
// PAT whose pointer field points past the packet.
func TestPATPointerPastEnd(t *testing.T) {
	p := make(Packet, PacketSize)
	p[0], p[1], p[3], p[4] = SyncByte, 0x40, 0x10, 0xff
	_, ok := patPMTPID(p)
	assert.False(t, ok)
	segs := segments(t, p, time.Second)
	assert.Len(t, segs, 1)
}

func FuzzSegmenter(f *testing.F) {
	f.Add(Synthetic(300*time.Millisecond, 500_000, 100*time.Millisecond))
	f.Add(sample.TS[:PacketSize*20])
	f.Add([]byte{0x47, 0x40, 0, 0x30, 0xb7})
	f.Fuzz(func(t *testing.T, data []byte) {
		s := NewSegmenter(bytes.NewReader(data), 50*time.Millisecond)
		total := 0
		for {
			seg, err := s.Next()
			if err != nil {
				break
			}
			if len(seg.Data)%PacketSize != 0 || len(seg.Data) > maxSegment {
				t.Fatalf("segment of %d bytes", len(seg.Data))
			}
			total += len(seg.Data)
		}
		if total > len(data) {
			t.Fatalf("segments hold %d bytes of %d", total, len(data))
		}
	})
}
