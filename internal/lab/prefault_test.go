package lab

import (
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// TestPrefaultSize: an explicit size is kept, a negative one touches
// nothing, and the estimate is three windows of the stream and 512 KiB per
// viewer (pulling keeps a longer window).
func TestPrefaultSize(t *testing.T) {
	const kib = 1 << 10
	for _, tc := range []struct {
		name string
		cfg  Config
		want int64
	}{
		{"explicit", Config{Prefault: 64 << 20, Peers: 1000, Bitrate: 500_000}, 64 << 20},
		{"off", Config{Prefault: -1, Peers: 1000, Bitrate: 500_000}, 0},
		{"pulling", Config{Peers: 10, Bitrate: 800_000, Pull: true}, 10 * (3*20*100_000 + 512*kib)},
		{"trees", Config{Peers: 10, Bitrate: 800_000}, 10 * (3*8*100_000 + 512*kib)},
		{"window", Config{Peers: 10, Bitrate: 800_000, Window: 2 * time.Second}, 10 * (3*2*100_000 + 512*kib)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, prefaultSize(tc.cfg))
		})
	}
}

// TestPrefault touches and frees what it is asked to: the heap holds the
// pages afterwards, but none of the blocks is still in use.
func TestPrefault(t *testing.T) {
	const n = 32 << 20
	prefault(n)
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	assert.GreaterOrEqual(t, ms.HeapSys, uint64(n), "pages obtained")
	assert.Less(t, ms.HeapAlloc, uint64(n/2), "blocks freed")
}
