package player

// Audio format the player asks libVLC for and feeds to ebiten's audio
// package: signed 16-bit little-endian stereo at 48 kHz.
const (
	sampleRate     = 48000
	channels       = 2
	bytesPerSample = 2 * channels // one sample frame: both channels
)

// pcmRing is a bounded FIFO of PCM bytes, whole sample frames only. When it
// is full the oldest sound makes room. It is not safe for concurrent use;
// decoder.mu guards it.
type pcmRing struct {
	buf  []byte // ring storage; len is the capacity
	head int    // offset of the first byte
	n    int    // bytes held
}

func newPCMRing(samples int) pcmRing { return pcmRing{buf: make([]byte, samples*bytesPerSample)} }

// write appends b (whole sample frames), dropping the oldest bytes when the
// ring would overflow.
func (r *pcmRing) write(b []byte) {
	b = b[:len(b)/bytesPerSample*bytesPerSample]
	if len(b) > len(r.buf) {
		b = b[len(b)-len(r.buf):]
	}
	if over := r.n + len(b) - len(r.buf); over > 0 {
		r.discard(over)
	}
	tail := (r.head + r.n) % len(r.buf)
	c := copy(r.buf[tail:], b)
	copy(r.buf, b[c:])
	r.n += len(b)
}

// discard drops n bytes from the front.
func (r *pcmRing) discard(n int) {
	n = min(n, r.n)
	r.head = (r.head + n) % len(r.buf)
	r.n -= n
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
