package player

import (
	"bytes"
	"encoding/binary"
	"image"
	"sync"
	"time"
)

const (
	// stallAfter without a new picture or sound shows "buffering".
	stallAfter = time.Second
	// audioLatency is the output buffer of the audio player.
	audioLatency = 100 * time.Millisecond
	// audioTolerance is how far the sound may drift from its due time
	// before the audio output skips or pads samples.
	audioTolerance = 40 * time.Millisecond
	// pcmCapacity bounds the sound waiting for the audio output: 3 s.
	// libVLC hands sound over about a second before it is due.
	pcmCapacity = 3 * sampleRate
)

// decoder receives libVLC's pictures and sound on libVLC's threads, when
// libVLC's clock says they are due, and hands them to the game loop and
// the audio output. One mutex guards it all; the picture copy happens
// outside it.
type decoder struct {
	now   func() time.Time     // time.Now; tests replace it
	clock func() time.Duration // libVLC's clock, which sound timestamps use
	// fresh gets a token when a picture for the window arrives; Run
	// schedules a window frame for it.
	fresh chan struct{}

	mu            sync.Mutex // guards the fields below
	pool          framePool
	newest        *frame // newest picture not yet taken by the window
	last          *frame // newest picture, for LastFrame
	display       bool   // a window runs: keep pictures for it
	pcm           pcmRing
	audioOut      bool          // an audio output runs: keep sound for it
	soundPausedAt time.Duration // libVLC clock when libVLC paused the sound, or 0
	lastMedia     time.Time     // arrival of the newest picture or sound
	arrivals      []time.Time   // arrival of recent pictures, for FPS
	stats         Stats         // counters; State and FPS are filled in by snapshot
	started       bool          // an input was given
	paused        bool
	ended         bool
	failure       string
	closed        bool
}

func newDecoder() *decoder {
	return &decoder{now: time.Now, clock: vlcClock, fresh: make(chan struct{}, 1), pool: framePool{max: 3}, pcm: newPCMRing(pcmCapacity)}
}

// picture takes one RV32 picture that is due on screen now and keeps it as
// RGBA. pix is C memory libVLC reuses after the call returns.
func (d *decoder) picture(pix []byte, width, height int) {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return
	}
	f := d.pool.get(width, height)
	prev := d.last
	if prev != nil {
		prev.refs++ // frames are never written while referenced
	}
	d.mu.Unlock()

	bgrxToRGBA(f.pix, pix)
	now := d.now()
	// While no new picture comes (a stall, a pause), libVLC shows the last
	// one again every 80 ms or so; a repeat is not a new picture.
	repeat := prev != nil && prev.width == width && prev.height == height && bytes.Equal(prev.pix, f.pix)

	d.mu.Lock()
	defer d.mu.Unlock()
	d.pool.release(prev)
	if d.closed || repeat {
		d.pool.release(f)
		return
	}
	d.lastMedia = now
	d.stats.Width, d.stats.Height = width, height
	d.stats.FramesDecoded++
	d.arrivals = append(d.arrivals, now)
	if len(d.arrivals) > 256 {
		d.arrivals = d.arrivals[len(d.arrivals)-128:]
	}
	d.pool.release(d.last)
	d.last = f
	if d.display {
		if d.newest != nil { // the window never drew it
			d.pool.release(d.newest)
			d.stats.FramesDropped++
		}
		f.refs++
		d.newest = f
		select {
		case d.fresh <- struct{}{}:
		default: // a token is already waiting
		}
	}
}

// bgrxToRGBA copies a picture libVLC converted to RV32 (0x00RRGGBB words:
// on the little-endian machines the player runs on, the bytes B, G, R,
// unused) into RGBA with opaque alpha, which ebiten and image.RGBA want. libVLC
// can deliver RGBA itself, but then it converts with libswscale's slow
// exact-rounding path and sets every alpha byte in a loop of its own: about
// 10 ms a 720p picture (perf, on a 2-core AMD EPYC), against under 2 ms
// here (BenchmarkBGRXToRGBA720p).
func bgrxToRGBA(dst, src []byte) {
	n := min(len(dst), len(src)) &^ 3
	dst, src = dst[:n], src[:n]
	i := 0
	for ; i+8 <= n; i += 8 { // two pixels at a time
		v := binary.LittleEndian.Uint64(src[i:])
		binary.LittleEndian.PutUint64(dst[i:],
			0xff000000ff000000|v&0x0000ff000000ff00|v>>16&0x000000ff000000ff|v&0x000000ff000000ff<<16)
	}
	if i < n {
		v := binary.LittleEndian.Uint32(src[i:])
		binary.LittleEndian.PutUint32(dst[i:], 0xff000000|v&0x0000ff00|v>>16&0xff|v&0xff<<16)
	}
}

// sound takes one block of s16le stereo samples due at the speakers at pts
// (libVLC's clock). pcm is C memory libVLC reuses after the call returns.
func (d *decoder) sound(pcm []byte, pts time.Duration) {
	now := d.now()
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return
	}
	d.stats.AudioSamples += int64(len(pcm) / bytesPerSample)
	d.stats.AudioRate, d.stats.AudioChannels = sampleRate, channels
	d.lastMedia = now
	if d.audioOut {
		d.pcm.write(pcm, pts)
	}
}

// flushSound drops the sound not yet played (libVLC seeked or stopped).
func (d *decoder) flushSound() {
	d.mu.Lock()
	d.pcm.reset()
	d.mu.Unlock()
}

// nextFrame returns the newest picture if the window has not drawn it yet,
// or nil. The caller gives it back with releaseFrame.
func (d *decoder) nextFrame() *frame {
	d.mu.Lock()
	defer d.mu.Unlock()
	f := d.newest
	d.newest = nil
	if f != nil {
		d.stats.FramesDrawn++
	}
	return f
}

// releaseFrame gives back a frame from nextFrame.
func (d *decoder) releaseFrame(f *frame) {
	d.mu.Lock()
	d.pool.release(f)
	d.mu.Unlock()
}

// readAudio fills b with the sound due audioLatency from now (the audio
// output's buffer): it skips sound that is late, pads with silence before
// sound that is not due yet, and gives silence when there is none.
func (d *decoder) readAudio(b []byte) int {
	n := len(b) / bytesPerSample * bytesPerSample
	target := d.clock() + audioLatency
	d.mu.Lock()
	i := 0
	if d.pcm.n > 0 && d.soundPausedAt == 0 && !d.paused { // paused: keep the sound for later
		if late := target - d.pcm.pts; late > audioTolerance {
			d.pcm.discard(durationToSamples(late) * bytesPerSample)
		}
		if early := d.pcm.pts - target; d.pcm.n > 0 && early > audioTolerance {
			i = min(n, durationToSamples(early)*bytesPerSample)
			clear(b[:i])
		}
		i += d.pcm.read(b[i:n])
	}
	d.mu.Unlock()
	clear(b[i:n])
	return n
}

// setDisplay turns keeping pictures for a window on or off.
func (d *decoder) setDisplay(on bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.display = on
	if !on && d.newest != nil {
		d.pool.release(d.newest)
		d.newest = nil
	}
}

// setAudioOut turns keeping sound for an audio output on or off.
func (d *decoder) setAudioOut(on bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.audioOut = on
	if !on {
		d.pcm.reset()
	}
}

// begin marks the start of a new input.
func (d *decoder) begin() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.started, d.ended, d.failure, d.paused = true, false, "", false
	d.lastMedia = time.Time{}
	d.pcm.reset()
}

func (d *decoder) setPaused(paused bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.paused = paused
	if !paused {
		d.lastMedia = d.now() // the pause was not a stall
	}
}

func (d *decoder) isPaused() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.paused
}

// fail records an error for Stats and the window.
func (d *decoder) fail(msg string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.failure == "" {
		d.failure = msg
	}
}

// end records that libVLC reached the end of the input.
func (d *decoder) end() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.ended = true
}

// close drops the pictures; callbacks after it are ignored.
func (d *decoder) close() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.closed = true
	d.newest, d.last, d.pool.free = nil, nil, nil
	d.pcm.reset()
}

// snapshot returns the statistics at now.
func (d *decoder) snapshot(now time.Time) Stats {
	d.mu.Lock()
	defer d.mu.Unlock()
	s := d.stats
	s.State = d.stateLocked(now)
	for i := len(d.arrivals) - 1; i >= 0 && now.Sub(d.arrivals[i]) <= time.Second; i-- {
		s.FPS++
	}
	return s
}

func (d *decoder) stateLocked(now time.Time) string {
	switch {
	case d.closed:
		return StateClosed
	case d.failure != "":
		return "error: " + d.failure
	case d.ended:
		return StateEnded
	case !d.started:
		return StateIdle
	case d.paused:
		return StatePaused
	case d.lastMedia.IsZero() || now.Sub(d.lastMedia) > stallAfter:
		return StateBuffering
	}
	return StatePlaying
}

// lastFrame returns a copy of the newest picture.
func (d *decoder) lastFrame() *image.RGBA {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.last == nil {
		return nil
	}
	img := image.NewRGBA(image.Rect(0, 0, d.last.width, d.last.height))
	copy(img.Pix, d.last.pix)
	return img
}

// pauseSound and resumeSound follow libVLC's pauses: the sound held is
// due later by the length of the pause.
func (d *decoder) pauseSound(at time.Duration) {
	d.mu.Lock()
	d.soundPausedAt = at
	d.mu.Unlock()
}

func (d *decoder) resumeSound(at time.Duration) {
	d.mu.Lock()
	if d.soundPausedAt > 0 && at > d.soundPausedAt {
		d.pcm.pts += at - d.soundPausedAt
	}
	d.soundPausedAt = 0
	d.mu.Unlock()
}
