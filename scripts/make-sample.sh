#!/usr/bin/env bash
# Makes internal/sample/sample.ts, the stream the broadcaster publishes by
# default: 30 s, 640x360, 25 fps. Top 120 rows: SMPTE colour bars (static);
# bottom 240 rows: ffmpeg's testsrc (moving pattern with a running clock).
# H.264 main, one keyframe per second (GOP 25, no scene cuts), ~800 kbit/s;
# AAC LC stereo 48 kHz, a 1 kHz tone. MPEG-TS with PCR on the video PID.
set -euo pipefail
cd "$(dirname "$0")/.."
ffmpeg -hide_banner -loglevel error -y \
  -f lavfi -i smptebars=size=640x120:rate=25 \
  -f lavfi -i testsrc=size=640x240:rate=25 \
  -f lavfi -i sine=frequency=1000:sample_rate=48000 \
  -filter_complex "[0:v][1:v]vstack=inputs=2,format=yuv420p[v]" \
  -map "[v]" -map 2:a -t 30 \
  -c:v libx264 -preset veryfast -profile:v main -b:v 800k -maxrate 900k -bufsize 800k \
  -x264-params keyint=25:min-keyint=25:scenecut=0 -bf 0 -fflags +bitexact \
  -c:a aac -b:a 96k -ac 2 -ar 48000 \
  -f mpegts -mpegts_flags +resend_headers \
  internal/sample/sample.ts
ls -l internal/sample/sample.ts
