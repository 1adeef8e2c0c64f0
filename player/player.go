// Package player plays an MPEG-TS stream: libVLC decodes it and an ebiten
// window shows the pictures, plays the sound and draws a statistics overlay.
//
// A Player takes its input from an io.Reader (a live stream), an
// io.ReadSeeker (an on-demand stream, which can then be paused and seeked)
// or, through Sink, from the chunks of a p2pstream.Stream. It implements
// ebiten.Game; Run opens the window.
//
// Any program that imports this package links ebiten, which panics at
// start-up on Linux when no display is set (DISPLAY). Headless programs
// should use p2pstream.HTTPSink or WriterSink instead.
package player

import (
	"errors"
	"fmt"
	"image"
	"io"
	"math"
	"sync"
	"time"

	"golang.org/x/image/draw"

	"github.com/p2pstream/p2pstream"
)

// States a Player reports in Stats.State. A decoding error is reported as
// "error: " followed by the reason.
const (
	StateIdle      = "idle"      // no input yet
	StateBuffering = "buffering" // waiting for pictures or sound
	StatePlaying   = "playing"
	StatePaused    = "paused"
	StateEnded     = "ended" // the input ended
	StateClosed    = "closed"
)

// Stats describes what a Player has decoded and shown.
type Stats struct {
	State          string  // one of the State constants, or "error: ..."
	Width, Height  int     // size of the newest picture
	FPS            int     // pictures decoded in the last second
	FramesDecoded  int64   // pictures libVLC delivered
	FramesDrawn    int64   // pictures shown in the window
	FramesDropped  int64   // pictures never shown: decoded too late, or replaced before the window drew them
	AudioSamples   int64   // sample frames of sound delivered
	AudioRate      int     // sample rate of the sound, in Hz
	AudioChannels  int     // channels of the sound
	InputBytes     int64   // bytes libVLC read from the input
	AudioAvailable bool    // an audio device is playing the sound
	WindowFPS      float64 // times per second the window is redrawn
}

// Options configure a Player. The zero value is ready to use.
type Options struct {
	// Caching is libVLC's input buffer. Zero means 500 ms.
	Caching time.Duration
	// Mute disables sound output (the sound is still decoded and counted).
	Mute bool
	// Overlay shows the statistics overlay from the start; the s key
	// toggles it.
	Overlay bool
	// SwarmStats, if set, is polled by the overlay for the stream's
	// statistics, typically Stream.Stats.
	SwarmStats func() p2pstream.Stats
}

// ErrClosed is returned by the methods of a closed Player.
var ErrClosed = errors.New("player: closed")

// Player decodes one stream at a time. Its methods are safe for concurrent
// use; the ebiten.Game methods run on ebiten's goroutine.
type Player struct {
	opts Options
	dec  *decoder
	win  window // state of the ebiten window, used only by the game loop

	mu       sync.Mutex // guards the fields below
	sess     *session
	seekable bool
	closed   bool
	lastPos  time.Duration // libVLC's position at the last Stats
	posMoved time.Time     // when it last changed
}

// New starts libVLC and returns an idle Player. It fails if libVLC is not
// installed. Close releases it.
func New(opts Options) (*Player, error) {
	if opts.Caching <= 0 {
		opts.Caching = 500 * time.Millisecond
	}
	if err := acquireVLC(); err != nil {
		return nil, err
	}
	return &Player{opts: opts, dec: newDecoder(), win: window{overlay: opts.Overlay}}, nil
}

// Play starts playing a live stream read from r, replacing any previous
// input. If r is an io.Closer, the Player closes it when it stops. Reads
// of r happen on a goroutine of their own, so a Read that blocks does not
// hold up Close.
func (p *Player) Play(r io.Reader) error { return p.start(newLiveSource(r), false) }

// PlaySeekable starts playing an on-demand stream read from rs, replacing
// any previous input; it can be paused and seeked. If rs is an io.Closer,
// the Player closes it when it stops.
func (p *Player) PlaySeekable(rs io.ReadSeeker) error {
	return p.start(newSeekableSource(rs), true)
}

func (p *Player) start(src *source, seekable bool) error {
	// Stop the previous input without the lock: stopping waits for
	// libVLC's threads, and Stats (the window) must not wait meanwhile.
	p.mu.Lock()
	old := p.sess
	p.sess = nil
	p.mu.Unlock()
	if old != nil {
		old.stop()
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		src.close()
		return ErrClosed
	}
	if p.sess != nil { // a concurrent Play won; this one replaces it
		p.sess.stop()
		p.sess = nil
	}
	p.dec.begin()
	p.posMoved = time.Now()
	s, err := startSession(p.dec, src, p.opts.Caching)
	if err != nil {
		p.dec.fail(err.Error())
		return err
	}
	p.sess, p.seekable = s, seekable
	return nil
}

// Sink returns a p2pstream.Sink that plays the chunks written to it as a
// live stream: pass it to Peer.Join. It is a p2pstream.PartSink: live
// chunks reach libVLC piece by piece as they arrive. Its Close ends the input (the Player
// then reports StateEnded); it does not close the Player.
func (p *Player) Sink() p2pstream.Sink {
	pr, pw := io.Pipe()
	return &sink{p: p, pr: pr, pw: pw}
}

type sink struct {
	p       *Player
	pr      *io.PipeReader
	pw      *io.PipeWriter
	once    sync.Once
	started error
}

// WriteChunk hands the chunk to libVLC, waiting while libVLC's input
// buffer is full. The first chunk starts playback.
func (s *sink) WriteChunk(c p2pstream.Chunk) error {
	s.once.Do(func() { s.started = s.p.Play(s.pr) })
	if s.started != nil {
		return s.started
	}
	if _, err := s.pw.Write(c.Data); err != nil {
		return fmt.Errorf("player: %w", err)
	}
	return nil
}

// WritePart hands part of a chunk to libVLC as it arrives
// (p2pstream.PartSink), as WriteChunk does a whole one.
func (s *sink) WritePart(c p2pstream.Chunk, _ int, data []byte) error {
	c.Data = data
	return s.WriteChunk(c)
}

func (s *sink) Close() error { return s.pw.Close() }

// Stats returns what the Player has decoded and shown so far.
func (p *Player) Stats() Stats {
	st := p.dec.snapshot(time.Now())
	p.mu.Lock()
	if s := p.sess; s != nil {
		st.InputBytes = s.src.bytes.Load()
		st.FramesDropped += s.lost.Load()
		if w, h := s.width.Load(), s.height.Load(); w > 0 && h > 0 {
			st.Width, st.Height = int(w), int(h)
		}
		// A still picture without sound brings nothing new, yet plays:
		// the stream stalls only if libVLC's position stops too.
		now := time.Now()
		if ms := s.posMS.Load(); ms >= 0 && time.Duration(ms)*time.Millisecond != p.lastPos {
			p.lastPos, p.posMoved = time.Duration(ms)*time.Millisecond, now
		}
		if st.State == StateBuffering && st.FramesDecoded > 0 && now.Sub(p.posMoved) <= stallAfter {
			st.State = StatePlaying
		}
	}
	p.mu.Unlock()
	st.AudioAvailable = p.win.audioOK.Load()
	st.WindowFPS = math.Float64frombits(p.win.drawFPS.Load())
	return st
}

// LastFrame returns a copy of the newest picture at the video's size, or
// nil if there is none yet.
func (p *Player) LastFrame() *image.RGBA {
	img := p.dec.lastFrame()
	if img == nil {
		return nil
	}
	w, h := p.displaySize()
	if w <= 0 || h <= 0 || (w == img.Bounds().Dx() && h == img.Bounds().Dy()) {
		return img
	}
	// When the player could not read the picture's size from the stream
	// (see sps.go), libVLC scales the picture to its decoder's buffer, of
	// another shape (386 lines for a 360-line picture); scale it back.
	out := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.ApproxBiLinear.Scale(out, out.Bounds(), img, img.Bounds(), draw.Src, nil)
	return out
}

// displaySize returns the video's picture size, or zeros if unknown.
func (p *Player) displaySize() (int, int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.sess == nil {
		return 0, 0
	}
	return int(p.sess.width.Load()), int(p.sess.height.Load())
}

// Seekable reports whether the current input can be paused and seeked.
func (p *Player) Seekable() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.seekable
}

// SetPause pauses or resumes an on-demand stream.
func (p *Player) SetPause(pause bool) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.seekableLocked(); err != nil {
		return err
	}
	if err := p.sess.setPause(pause); err != nil {
		return fmt.Errorf("player: pause: %w", err)
	}
	p.dec.setPaused(pause)
	return nil
}

// Seek moves an on-demand stream by delta (negative: back), within its
// length. The stream's ReadSeeker is seeked, so a p2pstream download
// re-targets its requests at the new position.
func (p *Player) Seek(delta time.Duration) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.seekableLocked(); err != nil {
		return err
	}
	if err := p.sess.seek(delta); err != nil {
		return fmt.Errorf("player: seek: %w", err)
	}
	return nil
}

func (p *Player) seekableLocked() error {
	switch {
	case p.closed:
		return ErrClosed
	case p.sess == nil || !p.seekable:
		return errors.New("player: a live stream cannot be paused or seeked")
	}
	return nil
}

// Close stops playback, closes the input and releases libVLC. It is
// idempotent.
func (p *Player) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	sess := p.sess
	p.sess = nil
	p.win.closeAudio() // under p.mu: the window's first Update may be starting it
	p.mu.Unlock()
	if sess != nil {
		sess.stop()
	}
	p.dec.close()
	releaseVLC()
	return nil
}

// Fail shows err as the player's state, for errors outside the decoder
// such as a failed join.
func (p *Player) Fail(err error) { p.dec.fail(err.Error()) }

// Position returns the playback position in the current input as libVLC
// reports it (for an on-demand stream: the time from its start).
func (p *Player) Position() (time.Duration, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return 0, ErrClosed
	}
	if p.sess == nil {
		return 0, errors.New("player: nothing is playing")
	}
	ms, err := p.sess.player.MediaTime()
	if err != nil {
		return 0, fmt.Errorf("player: position: %w", err)
	}
	return time.Duration(ms) * time.Millisecond, nil
}
