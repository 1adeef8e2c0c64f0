package p2pstream

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// TestLiveDefaults: a live stream's window (in chunks) and play-out delay,
// pulling and in the trees, by chunk duration, and as set.
func TestLiveDefaults(t *testing.T) {
	tests := []struct {
		name   string
		peer   *Peer
		chunk  time.Duration
		window int
		delay  time.Duration
	}{
		{"pulling, 1 s chunks", &Peer{Pull: true}, time.Second, 20, 3 * time.Second},
		{"pulling, 250 ms chunks", &Peer{Pull: true}, 250 * time.Millisecond, 80, 2 * time.Second},
		{"pulling, 4 s chunks", &Peer{Pull: true}, 4 * time.Second, minWindow, 12 * time.Second},
		{"trees, 1 s chunks", &Peer{}, time.Second, 8, 1500 * time.Millisecond},
		{"trees, 250 ms chunks", &Peer{}, 250 * time.Millisecond, 32, 1500 * time.Millisecond},
		{"trees, 2 s chunks", &Peer{}, 2 * time.Second, minWindow, 3 * time.Second},
		{"set", &Peer{Window: 30 * time.Second, Delay: 5 * time.Second}, time.Second, 30, 5 * time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.window, tc.peer.window(tc.chunk), "window")
			assert.Equal(t, tc.delay, tc.peer.delay(tc.chunk), "delay")
		})
	}
}
