package player

/*
#cgo pkg-config: alsa
#include <alsa/asoundlib.h>

static void p2ps_alsa_quiet(const char *file, int line, const char *function, int err, const char *fmt, ...) {}

// p2ps_alsa_probe opens and closes the default playback device, the one
// ebiten's audio output (oto) opens. ALSA's own messages are silenced.
static int p2ps_alsa_probe(void) {
	snd_lib_error_set_handler(p2ps_alsa_quiet);
	snd_pcm_t *pcm;
	int err = snd_pcm_open(&pcm, "default", SND_PCM_STREAM_PLAYBACK, SND_PCM_NONBLOCK);
	if (err == 0)
		snd_pcm_close(pcm);
	return err;
}
*/
import "C"

import "fmt"

// audioDevice reports whether a sound device can be opened. ebiten's audio
// context fails the whole game loop when it cannot open one (as on a
// server or under Xvfb), so the player checks first and plays without
// sound instead.
func audioDevice() error {
	if err := C.p2ps_alsa_probe(); err != 0 {
		return fmt.Errorf("no sound device: %s", C.GoString(C.snd_strerror(err)))
	}
	return nil
}
