package ts

import (
	"bytes"
	"context"
	"io"
	"testing"
	"testing/iotest"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPace(t *testing.T) {
	one := Synthetic(time.Second, 500_000, 500*time.Millisecond)
	tests := []struct {
		name string
		data []byte
		want time.Duration // fake time to read it all
		// The last packets go out at the last PCR, up to 40 ms (and 3 ms of tables) before
		// the end; each seam of a looped file may be 40 ms off too.
		slack time.Duration
	}{
		{"3 s file takes 3 s", Synthetic(3*time.Second, 500_000, time.Second), 3 * time.Second, 45 * time.Millisecond},
		{"no pcr passes at once", withoutPCR(Synthetic(3*time.Second, 500_000, time.Second)), 0, 0},
		{"looped file keeps time", bytes.Repeat(one, 3), 3 * time.Second, 120 * time.Millisecond},
		{"empty", nil, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				start := time.Now()
				got, err := io.ReadAll(Pace(t.Context(), bytes.NewReader(tt.data)))
				require.NoError(t, err)
				assert.Equal(t, nilIfEmpty(tt.data), nilIfEmpty(got))
				assert.InDelta(t, tt.want, time.Since(start), float64(tt.slack))
			})
		})
	}
}

func TestPaceSchedule(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		data := Synthetic(2*time.Second, 500_000, time.Second)
		r := Pace(t.Context(), bytes.NewReader(data))
		start := time.Now()
		var tables Tables
		var tl timeline
		buf := make([]byte, 10*PacketSize)
		for off := 0; off < len(data); {
			n, err := r.Read(buf)
			require.NoError(t, err)
			elapsed := time.Since(start)
			// No packet comes out before its PCR time.
			for _, p := range packetsIn(buf[:n]) {
				tables.Add(p)
				if tl.add(p, &tables) {
					assert.LessOrEqual(t, tl.now, elapsed)
				}
			}
			off += n
		}
	})
}

func TestPaceRealTimeSourceAddsNoDelay(t *testing.T) {
	// Data that arrives in real time, as from ffmpeg -re on a pipe, is
	// passed on the moment it arrives.
	synctest.Test(t, func(t *testing.T) {
		const bitrate = 500_000
		data := Synthetic(2*time.Second, bitrate, time.Second)
		src := trickle(data, bitrate).(*trickler)
		r := Pace(t.Context(), src)
		buf := make([]byte, PacketSize)
		for i := range len(data) / PacketSize {
			_, err := io.ReadFull(r, buf)
			require.NoError(t, err)
			require.Len(t, src.sent, i+1)
			assert.Equal(t, src.sent[i], time.Now(), "packet %d", i)
		}
	})
}

func TestPaceShortReads(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		data := Synthetic(500*time.Millisecond, 500_000, time.Second)
		got, err := io.ReadAll(iotest.OneByteReader(Pace(t.Context(), bytes.NewReader(data))))
		require.NoError(t, err)
		assert.Equal(t, data, got)
	})
}

func TestPaceCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		r := Pace(ctx, bytes.NewReader(Synthetic(10*time.Second, 500_000, time.Second)))
		done := make(chan error)
		go func() {
			_, err := io.Copy(io.Discard, r)
			done <- err
		}()
		time.Sleep(2 * time.Second)
		start := time.Now()
		cancel()
		err := <-done
		assert.ErrorIs(t, err, context.Canceled)
		assert.Zero(t, time.Since(start), "a waiting Read ends at once")
		_, err = r.Read(make([]byte, PacketSize))
		assert.ErrorIs(t, err, context.Canceled)
	})
}

func TestPaceLoop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		data := Synthetic(time.Second, 500_000, 500*time.Millisecond)
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		r := Pace(ctx, Loop(ctx, data))
		start := time.Now()
		_, err := io.CopyN(io.Discard, r, int64(len(data)*5/2))
		require.NoError(t, err)
		assert.InDelta(t, 2.5, time.Since(start).Seconds(), 0.045)
	})
}
