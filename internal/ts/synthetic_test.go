package ts

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSynthetic(t *testing.T) {
	tests := []struct {
		name      string
		duration  time.Duration
		bitrate   int64
		keyframe  time.Duration
		packets   int
		keyframes int
	}{
		{"1 s at 1 Mbit/s", time.Second, 1_000_000, 250 * time.Millisecond, 664, 4},
		{"3 s at 500 kbit/s", 3 * time.Second, 500_000, time.Second, 997, 3},
		{"one keyframe", 2 * time.Second, 200_000, 0, 265, 1},
		{"keyframes rarer than the stream", time.Second, 200_000, 5 * time.Second, 132, 1},
		{"slow: a packet every 75 ms", time.Second, 20_000, time.Second, 13, 1},
		{"zero duration", 0, 1_000_000, time.Second, 0, 0},
		{"zero bitrate", time.Second, 0, time.Second, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := Synthetic(tt.duration, tt.bitrate, tt.keyframe)
			require.Len(t, data, tt.packets*PacketSize)
			assert.Equal(t, data, Synthetic(tt.duration, tt.bitrate, tt.keyframe), "deterministic")

			var tables Tables
			var tl timeline
			keyframes := 0
			lastPCR := time.Duration(-1)
			lastCC := map[uint16]uint8{}
			for i, p := range packetsIn(data) {
				require.True(t, p.Valid(), "packet %d", i)
				tables.Add(p)
				if tables.Keyframe(p) {
					keyframes++
				}
				if tl.add(p, &tables) {
					pcr, _ := p.PCR()
					want := time.Duration(int64(i) * PacketSize * 8 * int64(time.Second) / tt.bitrate)
					assert.InDelta(t, want, pcr, 40, "packet %d: the PCR is its send time", i)
					// A frame starts with the first packet from its time on,
					// after the PAT and PMT at a keyframe.
					perPacket := time.Duration(PacketSize * 8 * int64(time.Second) / tt.bitrate)
					if lastPCR >= 0 {
						assert.LessOrEqual(t, pcr-lastPCR, 40*time.Millisecond+3*perPacket, "packet %d: PCR every 40 ms", i)
					}
					lastPCR = pcr
				}
				if last, ok := lastCC[p.PID()]; ok {
					assert.Equal(t, (last+1)&0x0f, p.ContinuityCounter(), "packet %d", i)
				}
				lastCC[p.PID()] = p.ContinuityCounter()
			}
			assert.Equal(t, tt.keyframes, keyframes)
			if tt.packets > 3 {
				video, _ := tables.VideoPID()
				assert.Equal(t, uint16(syntheticVideo), video)
			}
		})
	}
}
