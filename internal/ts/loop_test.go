package ts

import (
	"bytes"
	"context"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/p2pstream/p2pstream/internal/sample"
)

// readPasses reads n passes of data from Loop.
func readPasses(t *testing.T, data []byte, n int) []byte {
	t.Helper()
	out := make([]byte, n*len(packets(data)))
	_, err := io.ReadFull(Loop(t.Context(), data), out)
	require.NoError(t, err)
	return out
}

// fields are the values Loop rewrites in a packet.
type fields struct {
	cc             uint8
	pcrBase        uint64
	pcrExt         uint64
	hasPCR         bool
	pts, dts       uint64
	hasPTS, hasDTS bool
	rest           []byte // the packet with those fields zeroed
}

func fieldsOf(p Packet) fields {
	f := fields{cc: p.ContinuityCounter(), rest: bytes.Clone(p)}
	f.rest[3] &= 0xf0
	if off := pcrBaseOffset(p); off >= 0 {
		ticks, _ := p.pcrTicks()
		f.pcrBase, f.pcrExt, f.hasPCR = readPCRBase(p[off:]), ticks%300, true
		clear(f.rest[off : off+5])
	}
	pts, dts := pesTimestamps(p)
	if pts >= 0 {
		f.pts, f.hasPTS = readTimestamp(p[pts:]), true
		clear(f.rest[pts : pts+5])
	}
	if dts >= 0 {
		f.dts, f.hasDTS = readTimestamp(p[dts:]), true
		clear(f.rest[dts : dts+5])
	}
	return f
}

func TestLoopRewritesExactly(t *testing.T) {
	const passes = 3
	// One pass of the sample lasts 30.037 s: its audio, in PES packets of
	// 11 AAC frames (0.2347 s), spans 29.803 s from first to last.
	const period = 2703360
	l := Loop(t.Context(), sample.TS).(*looper)
	require.Equal(t, uint64(period), l.period)

	in := packetsIn(sample.TS)
	out := packetsIn(readPasses(t, sample.TS, passes))
	require.Len(t, out, passes*len(in))
	ccStep := map[uint16]uint8{}
	for pass := range passes {
		shift := uint64(pass) * period
		for i, p := range in {
			q := out[pass*len(in)+i]
			want, got := fieldsOf(p), fieldsOf(q)
			require.Equal(t, want.rest, got.rest, "pass %d packet %d: only timestamps and counters change", pass, i)
			require.Equal(t, want.hasPCR, got.hasPCR)
			require.Equal(t, want.hasPTS, got.hasPTS)
			require.Equal(t, want.hasDTS, got.hasDTS)
			if want.hasPCR {
				require.Equal(t, (want.pcrBase+shift)%ptsWrap, got.pcrBase, "pass %d packet %d PCR", pass, i)
				require.Equal(t, want.pcrExt, got.pcrExt)
			}
			if want.hasPTS {
				require.Equal(t, (want.pts+shift)%ptsWrap, got.pts, "pass %d packet %d PTS", pass, i)
			}
			if want.hasDTS {
				require.Equal(t, (want.dts+shift)%ptsWrap, got.dts, "pass %d packet %d DTS", pass, i)
			}
			step, ok := ccStep[p.PID()]
			if !ok && pass == 1 {
				step = (got.cc - want.cc) & 0x0f
				ccStep[p.PID()] = step
			}
			require.Equal(t, (want.cc+uint8(pass)*step)&0x0f, got.cc, "pass %d packet %d counter", pass, i)
		}
	}
}

func TestLoopIsOneStream(t *testing.T) {
	tests := []struct {
		name string
		data []byte
	}{
		{"sample", sample.TS},
		{"synthetic", Synthetic(time.Second, 500_000, 250*time.Millisecond)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := readPasses(t, tt.data, 3)
			lastPCR := int64(-1)
			lastDTS := map[uint16]int64{}
			lastCC := map[uint16]uint8{}
			for i, p := range packetsIn(out) {
				pid := p.PID()
				if ticks, ok := p.pcrTicks(); ok {
					require.Greater(t, int64(ticks), lastPCR, "packet %d: PCR only increases", i)
					lastPCR = int64(ticks)
				}
				pts, dts := pesTimestamps(p)
				if dts < 0 {
					dts = pts
				}
				if dts >= 0 {
					ts := int64(readTimestamp(p[dts:]))
					if last, ok := lastDTS[pid]; ok {
						require.Greater(t, ts, last, "packet %d: DTS of %#x only increases", i, pid)
					}
					lastDTS[pid] = ts
				}
				if p.HasPayload() && pid != NullPID {
					if last, ok := lastCC[pid]; ok {
						require.Equal(t, (last+1)&0x0f, p.ContinuityCounter(), "packet %d: counter of %#x continues", i, pid)
					}
					lastCC[pid] = p.ContinuityCounter()
				}
			}
		})
	}
}

func TestLoopSegments(t *testing.T) {
	// Cut into segments, a looped sample is one steady stream.
	segs := segmentsOf(t, bytes.NewReader(readPasses(t, sample.TS, 2)), time.Second)
	checkSegments(t, segs)
	require.Len(t, segs, 60)
	for i, s := range segs {
		assert.True(t, s.Keyframe, "segment %d", i)
		want := 1.0
		if i == 29 {
			want = 1.037333 // the pass ends 37 ms after its last frame starts
		}
		if i < len(segs)-1 {
			assert.InDelta(t, want, s.Duration.Seconds(), 0.001, "segment %d", i)
		}
	}
}

func TestLoopEdges(t *testing.T) {
	tests := []struct {
		name string
		data []byte
		want []byte // the first bytes read, nil for io.EOF at once
	}{
		{"empty", nil, nil},
		{"no whole packet", []byte{SyncByte, 1, 2, 3}, nil},
		{"garbage around packets", append(append([]byte{1, 2}, Synthetic(10*time.Millisecond, 1_000_000, 0)...), 3), Synthetic(10*time.Millisecond, 1_000_000, 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Loop(t.Context(), tt.data)
			if tt.want == nil {
				_, err := r.Read(make([]byte, PacketSize))
				assert.ErrorIs(t, err, io.EOF)
				return
			}
			buf := make([]byte, len(tt.want))
			_, err := io.ReadFull(r, buf)
			require.NoError(t, err)
			assert.Equal(t, tt.want, buf)
		})
	}
}

func TestLoopCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	r := Loop(ctx, Synthetic(time.Second, 500_000, time.Second))
	_, err := r.Read(make([]byte, 1000))
	require.NoError(t, err)
	cancel()
	_, err = r.Read(make([]byte, 1000))
	assert.ErrorIs(t, err, context.Canceled)
}

func TestShiftTimesWraps(t *testing.T) {
	// A packet with PCR base, PTS and DTS near 2^33 wraps past 0.
	p := Synthetic(10*time.Millisecond, 1_000_000, 0)[2*PacketSize : 3*PacketSize] // the keyframe
	writePCRBase(p[6:], ptsWrap-10)
	pts, dts := pesTimestamps(Packet(p))
	require.GreaterOrEqual(t, dts, 0)
	writeTimestamp(p[pts:], ptsWrap-5)
	writeTimestamp(p[dts:], ptsWrap-1)
	cc := Packet(p).ContinuityCounter()
	shiftTimes(Packet(p), 100, 17)
	assert.Equal(t, uint64(90), readPCRBase(p[6:]))
	assert.Equal(t, uint64(95), readTimestamp(p[pts:]))
	assert.Equal(t, uint64(99), readTimestamp(p[dts:]))
	assert.Equal(t, (cc+1)&0x0f, Packet(p).ContinuityCounter())
}
