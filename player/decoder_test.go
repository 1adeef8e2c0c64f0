package player

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// Sound is handed to the audio output when it is due: late sound is
// skipped, early sound waits behind silence.
func TestReadAudioFollowsTheClock(t *testing.T) {
	block := func(v byte, ms int) []byte { // ms of sound, every byte v
		b := make([]byte, durationToSamples(time.Duration(ms)*time.Millisecond)*bytesPerSample)
		for i := range b {
			b[i] = v
		}
		return b
	}
	tests := []struct {
		name       string
		pts, clock time.Duration // due time of the block; libVLC's clock at the read
		wantSilent int           // leading silent sample frames in a 100 ms read
		wantFirst  byte          // first non-silent byte
	}{
		{"due now", audioLatency + time.Second, time.Second, 0, 7},
		{"within tolerance", audioLatency + time.Second + 20*time.Millisecond, time.Second, 0, 7},
		{"not due yet", audioLatency + time.Second + 60*time.Millisecond, time.Second, durationToSamples(60 * time.Millisecond), 7},
		{"late: skipped", audioLatency + time.Second - 60*time.Millisecond, time.Second, 0, 7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newDecoder()
			d.clock = func() time.Duration { return tt.clock }
			d.setAudioOut(true)
			d.sound(block(7, 500), tt.pts)
			out := make([]byte, durationToSamples(100*time.Millisecond)*bytesPerSample)
			assert.Equal(t, len(out), d.readAudio(out))
			silent := 0
			for silent*bytesPerSample < len(out) && out[silent*bytesPerSample] == 0 {
				silent++
			}
			assert.Equal(t, tt.wantSilent, silent)
			assert.Equal(t, tt.wantFirst, out[silent*bytesPerSample])
		})
	}
}

// Without sound, or with the output off, the audio output gets silence.
func TestReadAudioSilence(t *testing.T) {
	d := newDecoder()
	d.clock = func() time.Duration { return 0 }
	d.sound([]byte{1, 2, 3, 4}, 0) // audio output off: not kept
	out := []byte{9, 9, 9, 9, 9, 9, 9, 9}
	assert.Equal(t, 8, d.readAudio(out))
	assert.Equal(t, make([]byte, 8), out)
}

// A picture libVLC shows again while nothing new comes is not counted.
func TestRepeatedPictureIgnored(t *testing.T) {
	d := newDecoder()
	d.setDisplay(true)
	pix := make([]byte, 4*4*4)
	d.picture(pix, 4, 4)
	d.picture(pix, 4, 4)
	pix[0] = 1
	d.picture(pix, 4, 4)
	st := d.snapshot(time.Now())
	assert.EqualValues(t, 2, st.FramesDecoded)
	assert.EqualValues(t, 1, st.FramesDropped, "the window drew neither; the first was replaced")
	f := d.nextFrame()
	if assert.NotNil(t, f) {
		assert.Equal(t, byte(1), f.pix[2], "libVLC's blue (RV32: B, G, R, unused) is RGBA's third byte")
		d.releaseFrame(f)
	}
	assert.Nil(t, d.nextFrame(), "each picture is drawn once")
}

// While libVLC has paused the sound, the audio output gets silence and the
// sound waits, due later by the length of the pause.
func TestReadAudioPaused(t *testing.T) {
	d := newDecoder()
	now := time.Second
	d.clock = func() time.Duration { return now }
	d.setAudioOut(true)
	d.sound([]byte{7, 7, 7, 7, 7, 7, 7, 7}, now+audioLatency)
	d.pauseSound(now)
	now += 5 * time.Second
	out := make([]byte, 8)
	d.readAudio(out)
	assert.Equal(t, make([]byte, 8), out, "silence while paused")
	d.resumeSound(now)
	d.readAudio(out)
	assert.Equal(t, []byte{7, 7, 7, 7, 7, 7, 7, 7}, out, "the sound plays after the pause")
}
