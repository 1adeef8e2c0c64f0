//go:build !linux

package player

// audioDevice reports whether a sound device can be opened; elsewhere than
// Linux ebiten's audio output copes without one.
func audioDevice() error { return nil }
