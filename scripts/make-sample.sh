#!/usr/bin/env bash
# Makes internal/sample/sample.ts, the stream the broadcaster publishes by
# default, with ffmpeg. Other packages' tests depend on its layout; see the
# doc comment in internal/sample/sample.go and change both together.
#
#   30 s, 640x360, 25 fps: rows 0-119 are SMPTE colour bars (static), rows
#   120-359 ffmpeg's testsrc (moving pattern with a seconds counter).
#   H.264 main, yuv420p, no B-frames, one keyframe every 25 frames (1 s) and
#   no scene-cut keyframes, about 800 kbit/s at most; AAC LC stereo 48 kHz
#   96 kbit/s of a 1 kHz sine. MPEG-TS, PCR on the video PID, PAT and PMT
#   repeated before every keyframe (+resend_headers) so a joiner can start
#   at any keyframe.
#
# The output is deterministic for a given ffmpeg build: x264 runs on one
# thread (its frame threads make rate control depend on timing) and the
# muxer writes no version strings (+bitexact). Another ffmpeg version may
# produce different bytes with the same layout.
set -euo pipefail
cd "$(dirname "$0")/.."
out=internal/sample/sample.ts
ffmpeg -hide_banner -loglevel error -y \
  -f lavfi -i smptebars=size=640x120:rate=25 \
  -f lavfi -i testsrc=size=640x240:rate=25 \
  -f lavfi -i sine=frequency=1000:sample_rate=48000 \
  -filter_complex "[0:v][1:v]vstack=inputs=2,format=yuv420p[v]" \
  -map "[v]" -map 2:a -t 30 \
  -c:v libx264 -preset veryfast -profile:v main -b:v 800k -maxrate 900k -bufsize 800k \
  -x264-params keyint=25:min-keyint=25:scenecut=0:threads=1 -bf 0 \
  -c:a aac -b:a 96k -ac 2 -ar 48000 \
  -fflags +bitexact -flags +bitexact \
  -f mpegts -mpegts_flags +resend_headers \
  "$out"
ls -l "$out"
ffprobe -v error -show_entries stream=codec_name,profile,width,height,r_frame_rate,sample_rate,channels:format=duration,bit_rate -of compact=p=0 "$out" | sort -u | grep .
