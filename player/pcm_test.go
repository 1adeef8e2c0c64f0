package player

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestPCMRing(t *testing.T) {
	frames := func(first, n int) []byte { // n sample frames numbered from first
		b := make([]byte, 0, n*bytesPerSample)
		for i := range n {
			b = append(b, byte(first+i), 0, byte(first+i), 0)
		}
		return b
	}
	tests := []struct {
		name   string
		writes [][]byte
		read   int // bytes asked for
		want   []byte
	}{
		{"empty", nil, 16, []byte{}},
		{"fifo", [][]byte{frames(0, 2), frames(2, 2)}, 16, frames(0, 4)},
		{"partial read", [][]byte{frames(0, 4)}, 8, frames(0, 2)},
		{"half sample frames are cut", [][]byte{frames(0, 2)[:6]}, 16, frames(0, 1)},
		{"overflow drops the oldest", [][]byte{frames(0, 3), frames(3, 3)}, 64, frames(2, 4)},
		{"one write larger than the ring", [][]byte{frames(0, 9)}, 64, frames(5, 4)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newPCMRing(4)
			var pts time.Duration
			for _, w := range tt.writes {
				r.write(w, pts)
				pts += samplesToDuration(len(w) / bytesPerSample)
			}
			b := make([]byte, tt.read)
			n := r.read(b)
			assert.True(t, bytes.Equal(tt.want, b[:n]), "got %v want %v", b[:n], tt.want)
		})
	}
}

func TestPCMRingWraps(t *testing.T) {
	r := newPCMRing(4)
	out := make([]byte, 8)
	for i := range 10 { // head moves around the ring
		in := []byte{byte(i), 1, 2, 3, byte(i), 5, 6, 7}
		r.write(in, time.Duration(i)*samplesToDuration(2))
		assert.Equal(t, 8, r.read(out))
		assert.Equal(t, in, out)
	}
}

func TestPCMRingRestartsOnGap(t *testing.T) {
	r := newPCMRing(100)
	r.write(make([]byte, 40), 0)
	r.write(make([]byte, 40), time.Second) // not a continuation
	assert.Equal(t, 40, r.n)
	assert.Equal(t, time.Second, r.pts)
	r.discard(8)
	assert.Equal(t, time.Second+samplesToDuration(2), r.pts)
}
