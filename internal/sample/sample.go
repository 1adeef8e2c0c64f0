// Package sample embeds the stream the broadcaster publishes by default.
//
// TS is 30 s of MPEG-TS made by scripts/make-sample.sh: 640x360 at 25 fps,
// H.264 main with one keyframe per second, and AAC stereo at 48 kHz playing
// a 1 kHz tone. The top 120 rows are SMPTE colour bars (ffmpeg smptebars,
// static); the bottom 240 rows are ffmpeg's testsrc, a moving pattern with a
// running clock.
package sample

import _ "embed"

// TS is the sample stream.
//
//go:embed sample.ts
var TS []byte
