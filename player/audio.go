package player

import (
	"sync"

	"github.com/hajimehoshi/ebiten/v2/audio"
)

// ebiten allows one audio context per process; every Player shares it.
var (
	audioOnce sync.Once
	audioCtx  *audio.Context
)

// audioOut plays the decoder's PCM through ebiten's audio package. Only the
// game loop uses it.
type audioOut struct {
	player *audio.Player
}

// start begins playing d's sound and reports whether it could. Without a
// sound device the picture plays on, silently.
func (a *audioOut) start(d *decoder) bool {
	if audioDevice() != nil {
		return false
	}
	audioOnce.Do(func() { audioCtx = audio.NewContext(sampleRate) })
	p, err := audioCtx.NewPlayer(pcmReader{d})
	if err != nil {
		return false
	}
	p.SetBufferSize(audioLatency)
	d.setAudioOut(true)
	p.Play()
	a.player = p
	return true
}

func (a *audioOut) closeAudio() {
	if a.player != nil {
		a.player.Close()
		a.player = nil
	}
}

// closeAudio stops the window's sound.
func (w *window) closeAudio() { w.audio.closeAudio() }

// pcmReader is the endless stream of s16le stereo samples the audio output
// reads: the decoder's sound when it is due, silence otherwise.
type pcmReader struct{ d *decoder }

func (r pcmReader) Read(b []byte) (int, error) { return r.d.readAudio(b), nil }
