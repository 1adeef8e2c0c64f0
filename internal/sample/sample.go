// Package sample embeds the stream the broadcaster publishes by default.
//
// [TS] is 30 s of MPEG-TS (2.5 MB) made by scripts/make-sample.sh with
// ffmpeg; run it again to remake the file (same bytes for the same ffmpeg
// build). Tests of other packages rely on the layout below; change the
// script, the file and this comment together.
//
// Streams: PID 0x100 is H.264 Main, 640x360, yuv420p, 25 fps, no B-frames,
// 750 frames, one IDR keyframe every 25 frames (1 s, 30 in all, no
// scene-cut keyframes), about 510 kbit/s (asked for 800, x264 needs no more
// for this picture); it carries the PCR. PID 0x101 is AAC LC stereo at
// 48 kHz, 96 kbit/s, a 1 kHz sine. The PMT is on PID 0x1000; a PAT and a
// PMT come directly before every keyframe's first packet, so a viewer can
// start at any keyframe. The first video PTS is 1.4 s (ffmpeg's usual
// MPEG-TS start offset).
//
// Picture, as decoded to RGB (values within a few units):
//   - Rows 0-119: SMPTE colour bars (ffmpeg smptebars), the same in every
//     frame. Rows 0-79 hold seven bars, each 640/7 pixels wide, from left
//     to right grey (190,190,190), yellow (190,190,0), cyan (0,190,190),
//     green (0,190,0), magenta (190,0,190), red (190,0,0), blue (0,0,190);
//     rows 90-119 begin with a dark blue -I patch (0,61,103) and a white
//     one (255,255,255).
//   - Rows 120-359: ffmpeg testsrc: eight vertical colour bars, a circle,
//     a scrolling colour gradient near rows 300-330, and a seven-segment
//     counter (about x 450-575, y 188-292) showing whole seconds: frame n
//     shows n/25, so it reads 0 to 29.
package sample

import _ "embed"

// TS is the sample stream; see the package comment for its content.
//
//go:embed sample.ts
var TS []byte
