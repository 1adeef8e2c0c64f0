package player

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/p2pstream/p2pstream/internal/sample"
)

// The sniffer finds the sample's 640x360 (coded as 640x368, cropped) in
// reads of any size, also after losing sync.
func TestSPSSnifferSample(t *testing.T) {
	for _, chunk := range []int{1, 100, 188, 4096, 65536} {
		var sizes [][2]int
		s := newSPSSniffer(func(w, h int) { sizes = append(sizes, [2]int{w, h}) })
		ts := sample.TS
		if chunk == 100 {
			s.write([]byte{1, 2, 3}) // garbage before the stream
		}
		for len(ts) > 0 {
			n := min(chunk, len(ts))
			s.write(ts[:n])
			ts = ts[n:]
		}
		assert.Equal(t, [][2]int{{640, 360}}, sizes, "reads of %d bytes", chunk)
	}
}

// bitWriter composes test SPSs.
type bitWriter struct {
	b []byte
	n int
}

func (w *bitWriter) bits(v, n int) {
	for i := n - 1; i >= 0; i-- {
		if w.n%8 == 0 {
			w.b = append(w.b, 0)
		}
		w.b[len(w.b)-1] |= byte(v>>i&1) << (7 - w.n%8)
		w.n++
	}
}

func (w *bitWriter) ue(v int) {
	v++
	n := 0
	for 1<<(n+1) <= v {
		n++
	}
	w.bits(0, n)
	w.bits(v, n+1)
}

func (w *bitWriter) se(v int) {
	if v > 0 {
		w.ue(2*v - 1)
	} else {
		w.ue(-2 * v)
	}
}

func TestParseSPS(t *testing.T) {
	for _, c := range []struct {
		name          string
		high, fields  bool
		poc           int
		mbW, mbH      int   // in macroblocks (map units)
		crop          []int // left, right, top, bottom
		width, height int
	}{
		{"1080p high", true, false, 0, 120, 68, []int{0, 0, 0, 4}, 1920, 1080},
		{"720p baseline", false, false, 2, 80, 45, nil, 1280, 720},
		{"1080i fields", true, true, 1, 120, 34, []int{0, 0, 0, 2}, 1920, 1080},
		{"odd crop", true, false, 0, 40, 23, []int{1, 2, 0, 4}, 634, 360},
	} {
		var w bitWriter
		w.bits(0x67, 8) // NAL header: SPS
		if c.high {
			w.bits(100, 8)
		} else {
			w.bits(66, 8)
		}
		w.bits(0, 8)  // constraints
		w.bits(40, 8) // level
		w.ue(0)       // SPS id
		if c.high {
			w.ue(1)      // 4:2:0
			w.ue(0)      // luma depth
			w.ue(0)      // chroma depth
			w.bits(0, 1) // bypass
			w.bits(1, 1) // scaling matrix present
			for i := range 8 {
				w.bits(i%2, 1)
				if i%2 == 1 {
					size := 16
					if i >= 6 {
						size = 64
					}
					for range size {
						w.se(1) // a delta that never ends the list
					}
				}
			}
		}
		w.ue(0) // log2_max_frame_num
		w.ue(c.poc)
		switch c.poc {
		case 0:
			w.ue(2)
		case 1:
			w.bits(0, 1)
			w.se(-3)
			w.se(2)
			w.ue(2)
			w.se(1)
			w.se(-1)
		}
		w.ue(4)      // ref frames
		w.bits(0, 1) // gaps
		w.ue(c.mbW - 1)
		w.ue(c.mbH - 1)
		if c.fields {
			w.bits(0, 1) // frame_mbs_only
			w.bits(1, 1) // mb_adaptive
		} else {
			w.bits(1, 1)
		}
		w.bits(1, 1) // direct 8x8
		w.bits(map[bool]int{true: 1}[c.crop != nil], 1)
		for _, v := range c.crop {
			w.ue(v)
		}
		w.bits(0, 1) // no VUI
		w.bits(1, 1) // stop bit
		// Emulation prevention: the parser must drop the 3 of 00 00 03.
		var nal []byte
		zeros := 0
		for _, b := range w.b {
			if zeros >= 2 && b <= 3 {
				nal, zeros = append(nal, 3), 0
			}
			nal = append(nal, b)
			if b == 0 {
				zeros++
			} else {
				zeros = 0
			}
		}
		width, height, err := parseSPS(nal)
		require.NoError(t, err, c.name)
		assert.Equal(t, [2]int{c.width, c.height}, [2]int{width, height}, c.name)
	}
	for _, bad := range [][]byte{nil, {0x67}, {0x68, 1, 2, 3, 4}, {0x67, 100, 0, 40}} {
		_, _, err := parseSPS(bad)
		assert.Error(t, err, "%x", bad)
	}
}
