package player

import "time"

// clock maps wall time to media time (presentation timestamps). It is the
// master clock for both pictures and sound: frames are shown when the clock
// reaches their pts and the audio output hands out the samples whose pts
// matches it. Wall time drives it (not the sound card) so that playback
// behaves the same on machines without an audio device, such as CI under
// Xvfb; the audio output follows it by skipping or padding samples.
//
// The zero value is a stopped clock. clock is not safe for concurrent use;
// decoder.mu guards it.
type clock struct {
	started bool
	paused  bool
	base    time.Duration // media time at wall time at (or while paused)
	at      time.Time
}

// set makes the clock read pts at wall time now.
func (c *clock) set(pts time.Duration, now time.Time) {
	c.started = true
	c.base = pts
	c.at = now
}

// reset stops the clock; the next set starts it again.
func (c *clock) reset() {
	paused := c.paused
	*c = clock{paused: paused}
}

// now returns the media time at wall time t, and false if the clock has not
// started.
func (c *clock) now(t time.Time) (time.Duration, bool) {
	if !c.started {
		return 0, false
	}
	if c.paused {
		return c.base, true
	}
	return c.base + t.Sub(c.at), true
}

// pause freezes the clock at its reading at t.
func (c *clock) pause(t time.Time) {
	if c.paused {
		return
	}
	c.base, _ = c.now(t)
	c.at = t
	c.paused = true
}

// resume lets the clock run again from where it was paused.
func (c *clock) resume(t time.Time) {
	if !c.paused {
		return
	}
	c.paused = false
	c.at = t
}

// wallTime returns the wall time at which the clock will read pts, and false
// if it is stopped or paused.
func (c *clock) wallTime(pts time.Duration) (time.Time, bool) {
	if !c.started || c.paused {
		return time.Time{}, false
	}
	return c.at.Add(pts - c.base), true
}
