package player

/*
#cgo pkg-config: libvlc
#include <stdlib.h>
#include "smem.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"runtime/cgo"
	"sync"
	"time"
	"unsafe"

	vlc "github.com/adrg/libvlc-go/v3"
)

// Largest picture the player accepts; libVLC scales larger video down to
// fit, which bounds every frame buffer (3840x2160 RGBA is 33 MB).
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
var vlcArgs = []string{"--quiet", "--no-xlib", "--no-video-title-show", "--no-stats"}

func acquireVLC() error {
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

// session is one source playing through libVLC: a media player whose media
// is transcoded to RGBA and s16le PCM and handed to the decoder by VLC's
// smem stream output.
type session struct {
	player   *vlc.Player
	media    *vlc.Media
	events   *vlc.EventManager
	eventIDs []vlc.EventID
	src      *source
	smem     *C.p2ps_smem
	handle   cgo.Handle
}

// mediaOptions returns the libVLC media options that route decoded
// pictures and sound to the smem callbacks, paced in real time (time-sync).
func mediaOptions(smem *C.p2ps_smem, caching time.Duration) []string {
	addr := func(p unsafe.Pointer) uintptr { return uintptr(p) }
	data := addr(unsafe.Pointer(smem))
	sout := fmt.Sprintf(":sout=#transcode{vcodec=RGBA,acodec=s16l,channels=%d,samplerate=%d,maxwidth=%d,maxheight=%d}"+
		":smem{video-prerender-callback=%d,video-postrender-callback=%d,"+
		"audio-prerender-callback=%d,audio-postrender-callback=%d,video-data=%d,audio-data=%d,time-sync}",
		channels, sampleRate, maxWidth, maxHeight,
		addr(C.p2ps_video_prerender), addr(C.p2ps_video_postrender),
		addr(C.p2ps_audio_prerender), addr(C.p2ps_audio_postrender), data, data)
	ms := caching.Milliseconds()
	return []string{
		sout,
		":demux=ts",    // the input is always MPEG-TS: do not let garbage fool the probe
		":no-sout-all", // one video and one audio track
		fmt.Sprintf(":network-caching=%d", ms),
		fmt.Sprintf(":file-caching=%d", ms),
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
	s.smem = C.p2ps_smem_new(C.uintptr_t(s.handle))
	if s.smem == nil {
		return nil, errors.New("player: out of memory")
	}
	if s.player, err = vlc.NewPlayer(); err != nil {
		return nil, fmt.Errorf("player: creating the libVLC player: %w", err)
	}
	if s.media, err = vlc.NewMediaFromReadSeeker(src); err != nil {
		return nil, fmt.Errorf("player: creating the libVLC media: %w", err)
	}
	if err = s.media.AddOptions(mediaOptions(s.smem, caching)...); err != nil {
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
	return s, nil
}

// stop ends playback and releases everything the session holds. Closing
// the source first unblocks libVLC's input thread if it waits in Read, so
// that the synchronous Stop returns; after Stop no callback runs.
func (s *session) stop() {
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
	if s.smem != nil {
		C.p2ps_smem_free(s.smem)
		s.smem = nil
	}
	if s.handle != 0 {
		s.handle.Delete()
		s.handle = 0
	}
}

// setPause pauses or resumes libVLC.
func (s *session) setPause(pause bool) error { return s.player.SetPause(pause) }

// seek moves playback by delta, within the media's length when known.
func (s *session) seek(delta time.Duration) error {
	ms, err := s.player.MediaTime()
	if err != nil {
		return err
	}
	target := max(int64(ms)+delta.Milliseconds(), 0)
	if length, err := s.player.MediaLength(); err == nil && length > 0 {
		target = min(target, int64(length)-1000)
	}
	return s.player.SetMediaTime(int(max(target, 0)))
}
