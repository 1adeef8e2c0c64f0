package player

import (
	"image"
	"sync"
	"time"
)

// Presentation tuning.
const (
	// presentDelay is how long after its arrival the first frame is shown:
	// a cushion for the jitter of libVLC's delivery.
	presentDelay = 80 * time.Millisecond
	// lateLimit: a frame this far behind the clock means the input stalled
	// and resumed, so the clock restarts at that frame instead of skipping
	// everything that follows.
	lateLimit = 250 * time.Millisecond
	// stallAfter without a new picture or sound block shows "buffering".
	stallAfter = time.Second
	// audioLatency is the output buffer of the audio player: samples handed
	// out now are heard about this much later.
	audioLatency = 100 * time.Millisecond
	// audioTolerance is how far the sound may drift from the clock before
	// the audio output skips or pads samples.
	audioTolerance = 40 * time.Millisecond
	// maxQueueFrames and maxQueueBytes bound the display queue.
	maxQueueFrames = 32
	maxQueueBytes  = 128 << 20
	// pcmCapacity bounds the PCM waiting for the audio output.
	pcmCapacity = 2 * time.Second
)

// decoder receives libVLC's pictures and sound on VLC's threads and hands
// them to the game loop and the audio output when the clock says they are
// due. One mutex guards all of it; every critical section is short (the
// picture copy happens outside it).
type decoder struct {
	now  func() time.Time // time.Now; tests replace it
	wake chan struct{}    // capacity 1: a frame was queued or the state changed

	mu        sync.Mutex // guards the fields below
	clk       clock
	queue     frameQueue // frames waiting for their pts (only while display)
	pool      framePool
	last      *frame // newest decoded frame, for LastFrame
	display   bool   // a window is running: queue frames for it
	pcm       pcmRing
	audioOut  bool // an audio output is running: keep PCM for it
	lastVideo time.Duration
	haveVideo bool
	lastMedia time.Time   // arrival of the newest picture or sound block
	arrivals  []time.Time // arrival of recent frames, for FPS
	stats     Stats       // counters; State and FPS are filled in by snapshot
	started   bool        // a source was given
	paused    bool
	ended     bool
	failure   string
	closed    bool
}

func newDecoder() *decoder {
	return &decoder{
		now:   time.Now,
		wake:  make(chan struct{}, 1),
		queue: frameQueue{maxFrames: maxQueueFrames, maxBytes: maxQueueBytes},
		pool:  framePool{max: 4},
		pcm:   newPCMRing(pcmCapacity),
	}
}

// signal wakes the frame scheduler without blocking.
func (d *decoder) signal() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// videoFrame takes one RGBA picture from smem. pix is C memory that smem
// reuses after the call returns.
func (d *decoder) videoFrame(pix []byte, width, height, bitsPerPixel int, pts time.Duration) {
	if bitsPerPixel != 32 || width <= 0 || width > maxWidth || height <= 0 {
		d.fail("libVLC delivered an unexpected picture format")
		return
	}
	// smem's height argument can be the coded height (738 for a 720-line
	// picture); the buffer size is right.
	rows := min(len(pix)/(width*4), maxHeight)
	if rows == 0 {
		return
	}
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return
	}
	f := d.pool.get(width, rows)
	d.mu.Unlock()

	copy(f.pix, pix)
	f.pts = pts
	now := d.now()

	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return
	}
	// A jump in the timestamps (a seek, a restarted or looped source)
	// makes the queued frames meaningless and the clock wrong.
	if d.haveVideo && (pts < d.lastVideo-500*time.Millisecond || pts > d.lastVideo+3*time.Second) {
		d.flushLocked()
	}
	d.haveVideo, d.lastVideo = true, pts
	d.syncClockLocked(pts, now)
	d.lastMedia = now
	d.stats.Width, d.stats.Height = width, rows
	d.stats.FramesDecoded++
	d.stats.PTS = pts
	d.arrivals = append(d.arrivals, now)
	if len(d.arrivals) > 256 {
		d.arrivals = d.arrivals[len(d.arrivals)-128:]
	}
	d.pool.release(d.last)
	d.last = f
	if d.display {
		for d.queue.full(len(f.pix)) {
			d.pool.release(d.queue.popOldest())
			d.stats.FramesDropped++
		}
		f.refs++
		d.queue.push(f)
	}
	d.signal()
}

// syncClockLocked starts the clock at the first picture or sound, and
// restarts it when media arrives far behind it (the input stalled).
func (d *decoder) syncClockLocked(pts time.Duration, now time.Time) {
	cur, ok := d.clk.now(now)
	if !ok || (!d.paused && pts < cur-lateLimit) {
		d.clk.set(pts-presentDelay, now)
	}
}

// audioBlock takes one block of PCM from smem. pcm is C memory that smem
// reuses after the call returns.
func (d *decoder) audioBlock(pcm []byte, chans, rate, bitsPerSample int, pts time.Duration) {
	if chans <= 0 || bitsPerSample <= 0 {
		return
	}
	now := d.now()
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return
	}
	d.stats.AudioSamples += int64(len(pcm) / (chans * bitsPerSample / 8))
	d.stats.AudioRate, d.stats.AudioChannels = rate, chans
	d.lastMedia = now
	if !d.haveVideo { // pictures drive the clock when there are any
		d.syncClockLocked(pts, now)
	}
	if d.audioOut && chans == channels && rate == sampleRate && bitsPerSample == 16 {
		d.pcm.write(pcm, pts)
	}
}

// nextFrame pops the newest frame that is due at now, counting the older
// due frames as dropped. It returns nil when no new frame is due. The caller
// must give the frame back with releaseFrame.
func (d *decoder) nextFrame(now time.Time) *frame {
	d.mu.Lock()
	defer d.mu.Unlock()
	cur, ok := d.clk.now(now)
	if !ok {
		return nil
	}
	var show *frame
	for f := d.queue.oldest(); f != nil && f.pts <= cur; f = d.queue.oldest() {
		d.queue.popOldest()
		if show != nil {
			d.stats.FramesDropped++
			d.pool.release(show)
		}
		show = f
	}
	if show != nil {
		d.stats.FramesDrawn++
	}
	return show
}

// releaseFrame gives back a frame from nextFrame.
func (d *decoder) releaseFrame(f *frame) {
	d.mu.Lock()
	d.pool.release(f)
	d.mu.Unlock()
}

// untilDue returns how long until the oldest queued frame is due, and false
// if none is queued or the clock is stopped or paused.
func (d *decoder) untilDue(now time.Time) (time.Duration, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	f := d.queue.oldest()
	if f == nil {
		return 0, false
	}
	at, ok := d.clk.wallTime(f.pts)
	if !ok {
		return 0, false
	}
	return at.Sub(now), true
}

// readAudio fills b with the samples due audioLatency from now: it skips
// samples the clock has passed, pads with silence when the next samples are
// not due yet, and gives silence when starved, paused or stopped.
func (d *decoder) readAudio(b []byte, now time.Time) int {
	n := len(b) / bytesPerSample * bytesPerSample
	d.mu.Lock()
	defer d.mu.Unlock()
	i := 0
	if cur, ok := d.clk.now(now); ok && !d.paused && d.pcm.n > 0 {
		target := cur + audioLatency
		if late := target - d.pcm.pts; late > audioTolerance {
			d.pcm.discard(durationToSamples(late) * bytesPerSample)
		}
		if early := d.pcm.pts - target; d.pcm.n > 0 && early > audioTolerance {
			i = min(n, durationToSamples(early)*bytesPerSample)
			clear(b[:i])
		}
		i += d.pcm.read(b[i:n])
	}
	clear(b[i:n])
	return n
}

// flushLocked drops queued frames and PCM and stops the clock, after a seek
// or a jump in the timestamps.
func (d *decoder) flushLocked() {
	for f := d.queue.popOldest(); f != nil; f = d.queue.popOldest() {
		d.pool.release(f)
	}
	d.pcm.reset()
	d.clk.reset()
	d.haveVideo = false
}

func (d *decoder) flush() {
	d.mu.Lock()
	d.flushLocked()
	d.mu.Unlock()
}

// setDisplay turns the display queue on (a window runs) or off.
func (d *decoder) setDisplay(on bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.display = on
	if !on {
		for f := d.queue.popOldest(); f != nil; f = d.queue.popOldest() {
			d.pool.release(f)
		}
	}
}

// setAudioOut turns keeping PCM for an audio output on or off.
func (d *decoder) setAudioOut(on bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.audioOut = on
	if !on {
		d.pcm.reset()
	}
}

// begin marks the start of playback of a new source.
func (d *decoder) begin() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.started, d.ended, d.failure = true, false, ""
}

func (d *decoder) setPaused(paused bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	now := d.now()
	if paused {
		d.clk.pause(now)
	} else {
		d.clk.resume(now)
		d.lastMedia = now // the pause is not a stall
	}
	d.paused = paused
	d.signal()
}

func (d *decoder) isPaused() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.paused
}

// fail records a decoding error for Stats and the overlay.
func (d *decoder) fail(msg string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.failure == "" {
		d.failure = msg
	}
	d.signal()
}

// end records that libVLC reached the end of the input.
func (d *decoder) end() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.ended = true
	d.signal()
}

// close releases the frames; callbacks after it are ignored.
func (d *decoder) close() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.flushLocked()
	d.closed = true
	d.last = nil
	d.pool.free = nil
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

// lastFrame returns a copy of the newest decoded frame.
func (d *decoder) lastFrame() (*image.RGBA, time.Duration) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.last == nil {
		return nil, 0
	}
	img := image.NewRGBA(image.Rect(0, 0, d.last.width, d.last.height))
	copy(img.Pix, d.last.pix)
	return img, d.last.pts
}
