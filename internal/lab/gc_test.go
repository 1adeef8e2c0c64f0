package lab

import (
	"math"
	"runtime/debug"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestGCLimit: an explicit limit is kept, a negative one leaves the
// collector alone, and the default is three times the heap estimate, at
// least 1 GiB, at most half the machine's memory.
func TestGCLimit(t *testing.T) {
	big := Config{Peers: 1000, Bitrate: 500_000}
	for _, tc := range []struct {
		name string
		cfg  Config
		want int64
	}{
		{"explicit", Config{GCLimit: 64 << 20, Peers: 1000}, 64 << 20},
		{"off", Config{GCLimit: -1, Peers: 1000}, 0},
		{"small run", Config{Peers: 10, Bitrate: 500_000}, min(1<<30, totalRAM()/2)},
		{"estimate", big, min(6_072_864_000, totalRAM()/2)}, // 3 x 1,000 x (3 x 8 s x 62,500 B/s + 512 KiB)
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, gcLimit(tc.cfg))
		})
	}
}

// TestCollectAt: the collector is off up to the limit while the run lasts,
// and its settings are what they were after; no limit changes nothing.
func TestCollectAt(t *testing.T) {
	percent := debug.SetGCPercent(100)
	limit := debug.SetMemoryLimit(math.MaxInt64)
	defer func() {
		debug.SetGCPercent(percent)
		debug.SetMemoryLimit(limit)
	}()

	restore := collectAt(3 << 30)
	assert.Equal(t, -1, debug.SetGCPercent(-1), "collector off")
	assert.Equal(t, int64(3<<30), debug.SetMemoryLimit(-1), "up to the limit") // -1 reads it
	restore()
	assert.Equal(t, 100, debug.SetGCPercent(100))
	assert.Equal(t, int64(math.MaxInt64), debug.SetMemoryLimit(-1))

	collectAt(0)()
	assert.Equal(t, 100, debug.SetGCPercent(100))
	assert.Equal(t, int64(math.MaxInt64), debug.SetMemoryLimit(-1))
}
