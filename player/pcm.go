package player

import "time"

// Audio format the player asks libVLC for and feeds to ebiten's audio
// package: signed 16-bit little-endian stereo at 48 kHz.
const (
	sampleRate     = 48000
	channels       = 2
	bytesPerSample = 2 * channels // one sample frame: both channels
)

// pcmRing is a bounded FIFO of PCM bytes, whole sample frames only, with
// the presentation time of its first sample. When it is full the oldest
// sound makes room; a block that does not continue the previous one (a
// seek, a gap) restarts it. It is not safe for concurrent use; decoder.mu
// guards it.
type pcmRing struct {
	buf  []byte        // ring storage; len is the capacity
	head int           // offset of the first byte
	n    int           // bytes held
	pts  time.Duration // presentation time of the first sample held
}

// samplesToDuration and durationToSamples convert between sample frames and
// time at sampleRate.
func samplesToDuration(n int) time.Duration { return time.Duration(n) * time.Second / sampleRate }

func durationToSamples(d time.Duration) int { return int(d * sampleRate / time.Second) }

// endPTS returns the presentation time just after the last sample held.
func (r *pcmRing) endPTS() time.Duration { return r.pts + samplesToDuration(r.n/bytesPerSample) }

func newPCMRing(samples int) pcmRing { return pcmRing{buf: make([]byte, samples*bytesPerSample)} }

// write appends b (whole sample frames) due at pts, dropping the oldest
// bytes when the ring would overflow.
func (r *pcmRing) write(b []byte, pts time.Duration) {
	b = b[:len(b)/bytesPerSample*bytesPerSample]
	if r.n == 0 || absDuration(pts-r.endPTS()) > 50*time.Millisecond {
		r.head, r.n, r.pts = 0, 0, pts
	}
	if len(b) > len(r.buf) {
		skip := len(b) - len(r.buf)
		b = b[skip:]
		r.head, r.n, r.pts = 0, 0, pts+samplesToDuration(skip/bytesPerSample)
	}
	if over := r.n + len(b) - len(r.buf); over > 0 {
		r.discard(over)
	}
	tail := (r.head + r.n) % len(r.buf)
	c := copy(r.buf[tail:], b)
	copy(r.buf, b[c:])
	r.n += len(b)
}

// discard drops up to n bytes (whole sample frames) from the front.
func (r *pcmRing) discard(n int) {
	n = min(n, r.n) / bytesPerSample * bytesPerSample
	r.head = (r.head + n) % len(r.buf)
	r.n -= n
	r.pts += samplesToDuration(n / bytesPerSample)
}

// read moves up to len(b) bytes (whole sample frames) into b.
func (r *pcmRing) read(b []byte) int {
	n := min(len(b), r.n) / bytesPerSample * bytesPerSample
	c := copy(b[:n], r.buf[r.head:min(r.head+n, len(r.buf))])
	copy(b[c:n], r.buf)
	r.discard(n)
	return n
}

// reset empties the ring.
func (r *pcmRing) reset() { r.head, r.n = 0, 0 }

func absDuration(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}
