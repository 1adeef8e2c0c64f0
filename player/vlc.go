package player

/*
#cgo pkg-config: libvlc
#include <stdlib.h>
#include "vmem.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"reflect"
	"runtime/cgo"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	vlc "github.com/adrg/libvlc-go/v3"
)

// Largest picture the player accepts; larger video is scaled down to fit,
// which bounds every frame buffer (3840x2160 RGBA is 33 MB).
const (
	maxWidth  = 3840
	maxHeight = 2160
)

// libvlc-go keeps one libVLC instance per process. vlcUsers counts the
// Players using it so that the last Close releases it.
var (
	vlcMu    sync.Mutex // guards vlcUsers and vlc.Init/vlc.Release
	vlcUsers int
)

// vlcArgs are the libVLC instance options: no console messages, and nothing
// that would open a window or touch X: the player only uses stream output.
var vlcArgs = []string{"--quiet", "--no-xlib", "--no-video-title-show"}

func acquireVLC() error {
	if err := checkPlayerLayout(); err != nil {
		return err
	}
	vlcMu.Lock()
	defer vlcMu.Unlock()
	if vlcUsers == 0 {
		if err := vlc.Init(vlcArgs...); err != nil {
			return fmt.Errorf("player: starting libVLC failed (are libvlc and vlc-plugin-base installed?): %w", err)
		}
	}
	vlcUsers++
	return nil
}

func releaseVLC() {
	vlcMu.Lock()
	defer vlcMu.Unlock()
	vlcUsers--
	if vlcUsers == 0 {
		vlc.Release()
	}
}

// checkPlayerLayout makes sure mediaPlayer can read the handle out of a
// libvlc-go Player: a struct whose only field is the C pointer.
func checkPlayerLayout() error {
	t := reflect.TypeOf(vlc.Player{})
	if t.NumField() != 1 || t.Field(0).Type.Kind() != reflect.Pointer {
		return errors.New("player: this libvlc-go version is not supported (pin v3.1.6)")
	}
	return nil
}

// mediaPlayer returns the libVLC media player inside p. libvlc-go v3.1.6
// binds neither libvlc_video_set_callbacks nor libvlc_audio_set_callbacks
// and has no accessor for the handle, which is its Player's only field
// (checkPlayerLayout checks that).
func mediaPlayer(p *vlc.Player) *C.libvlc_media_player_t {
	return *(**C.libvlc_media_player_t)(unsafe.Pointer(p))
}

// session is one input playing through libVLC. libVLC's own clock paces
// it, keeps sound and pictures in sync, pauses and seeks; its video and
// audio outputs are the callbacks in vmem.c, which hand RV32 pictures (the
// decoder keeps them as RGBA) and s16le sound to the decoder when they are
// due.
type session struct {
	player   *vlc.Player
	media    *vlc.Media
	events   *vlc.EventManager
	eventIDs []vlc.EventID
	src      *source
	out      *C.p2ps_out
	handle   cgo.Handle

	// Figures the monitor goroutine reads from libVLC a few times a
	// second, so that the window never waits on libVLC's locks.
	width, height atomic.Int64
	lost          atomic.Int64 // pictures decoded too late to show
	posMS         atomic.Int64 // playback position in ms, -1 if unknown
	quit, done    chan struct{}
}

// monitorEvery is how often the monitor reads libVLC's figures.
const monitorEvery = 200 * time.Millisecond

// monitor keeps the session's figures current until quit closes.
func (s *session) monitor() {
	defer close(s.done)
	t := time.NewTicker(monitorEvery)
	defer t.Stop()
	for {
		if w, h := s.videoSize(); w > 0 && h > 0 {
			s.width.Store(int64(w))
			s.height.Store(int64(h))
		}
		s.lost.Store(s.lostPictures())
		if ms, err := s.player.MediaTime(); err == nil {
			s.posMS.Store(int64(ms))
		}
		select {
		case <-s.quit:
			return
		case <-t.C:
		}
	}
}

// mediaOptions returns the libVLC options for the input.
func mediaOptions(caching time.Duration) []string {
	ms := caching.Milliseconds()
	return []string{
		":demux=ts", // the input is always MPEG-TS: garbage must not fool the probe
		fmt.Sprintf(":file-caching=%d", ms),
		fmt.Sprintf(":network-caching=%d", ms),
		fmt.Sprintf(":live-caching=%d", ms),
	}
}

// startSession starts libVLC playing src into d.
func startSession(d *decoder, src *source, caching time.Duration) (_ *session, err error) {
	s := &session{src: src}
	defer func() {
		if err != nil {
			s.stop()
		}
	}()
	s.handle = cgo.NewHandle(d)
	s.out = C.p2ps_out_new(C.uintptr_t(s.handle), maxWidth, maxHeight)
	if s.out == nil {
		return nil, errors.New("player: out of memory")
	}
	// The picture's size, read from the stream before libVLC's video
	// output opens, spares libVLC a rescale (see sps.go).
	out := s.out
	src.sniff = newSPSSniffer(func(w, h int) { C.p2ps_out_hint(out, C.unsigned(w), C.unsigned(h)) })
	if s.player, err = vlc.NewPlayer(); err != nil {
		return nil, fmt.Errorf("player: creating the libVLC player: %w", err)
	}
	C.p2ps_attach(mediaPlayer(s.player), s.out, sampleRate)
	if s.media, err = vlc.NewMediaFromReadSeeker(src); err != nil {
		return nil, fmt.Errorf("player: creating the libVLC media: %w", err)
	}
	if err = s.media.AddOptions(mediaOptions(caching)...); err != nil {
		return nil, fmt.Errorf("player: setting libVLC media options: %w", err)
	}
	if err = s.player.SetMedia(s.media); err != nil {
		return nil, fmt.Errorf("player: setting the libVLC media: %w", err)
	}
	if s.events, err = s.player.EventManager(); err != nil {
		return nil, fmt.Errorf("player: libVLC events: %w", err)
	}
	// The callbacks run on libVLC's event thread: they only record state.
	for ev, fn := range map[vlc.Event]func(){
		vlc.MediaPlayerEncounteredError: func() { d.fail("libVLC could not play the stream") },
		vlc.MediaPlayerEndReached:       d.end,
	} {
		id, err := s.events.Attach(ev, func(vlc.Event, any) { fn() }, nil)
		if err != nil {
			return nil, fmt.Errorf("player: libVLC events: %w", err)
		}
		s.eventIDs = append(s.eventIDs, id)
	}
	if err = s.player.Play(); err != nil {
		return nil, fmt.Errorf("player: starting libVLC playback: %w", err)
	}
	s.posMS.Store(-1)
	s.quit, s.done = make(chan struct{}), make(chan struct{})
	go s.monitor()
	return s, nil
}

// stop ends playback and releases everything the session holds. Closing
// the source first unblocks libVLC's input thread if it waits in Read, so
// that the synchronous Stop returns; after Stop no callback runs.
func (s *session) stop() {
	if s.quit != nil {
		close(s.quit)
		<-s.done
	}
	s.src.close()
	if s.player != nil {
		s.player.Stop()
	}
	if s.events != nil {
		s.events.Detach(s.eventIDs...)
	}
	if s.media != nil {
		s.media.Release()
	}
	if s.player != nil {
		s.player.Release()
	}
	if s.out != nil {
		C.p2ps_out_free(s.out)
		s.out = nil
	}
	if s.handle != 0 {
		s.handle.Delete()
		s.handle = 0
	}
}

// lostPictures returns how many pictures libVLC decoded too late to show.
func (s *session) lostPictures() int64 {
	st, err := s.media.Stats()
	if err != nil || st == nil {
		return 0
	}
	return int64(st.LostPictures)
}

// setPause pauses or resumes libVLC. Asked to pause before the input can
// pause, libVLC 3 would stop it instead, so that is refused.
func (s *session) setPause(pause bool) error {
	if pause && !s.player.CanPause() {
		return errors.New("the stream cannot pause yet")
	}
	return s.player.SetPause(pause)
}

// seek moves playback by delta. libVLC cannot seek an MPEG-TS read
// through callbacks by time (it does not learn the length), so the target
// is turned into a byte position with the rate read so far.
func (s *session) seek(delta time.Duration) error {
	ms, err := s.player.MediaTime()
	if err != nil {
		return err
	}
	if length, err := s.player.MediaLength(); err == nil && length > 0 {
		target := min(max(int64(ms)+delta.Milliseconds(), 0), int64(length)-1000)
		return s.player.SetMediaTime(int(max(target, 0)))
	}
	frac, err := s.player.MediaPosition()
	if err != nil {
		return err
	}
	size := s.src.size.Load()
	if ms <= 0 || frac <= 0 || size <= 0 {
		return errors.New("not yet: the stream's rate is not known")
	}
	at := float64(frac) * float64(size) // bytes
	rate := at / float64(ms)            // bytes per millisecond
	target := min(max(at+rate*float64(delta.Milliseconds()), 0), float64(size-1))
	return s.player.SetMediaPosition(float32(target / float64(size)))
}

// videoSize returns the size of the video's picture as libVLC shows it
// (the visible area, square pixels), or zeros before the first picture.
func (s *session) videoSize() (int, int) {
	var w, h C.unsigned
	if C.libvlc_video_get_size(mediaPlayer(s.player), 0, &w, &h) != 0 {
		return 0, 0
	}
	return int(w), int(h)
}
