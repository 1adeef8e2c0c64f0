#!/usr/bin/env bash
# Runs the demo: a tracker, a broadcaster publishing the built-in sample live,
# and three peers; the last serves the stream over HTTP. With a display, the
# viewer window opens too. Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
logs=$(mktemp -d)
pids=()
stop() {
  trap - INT TERM EXIT
  echo; echo "stopping the demo..."
  kill "${pids[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
  echo "logs were in $logs"
}
trap stop INT TERM EXIT

start() { # name, command...
  local name=$1; shift
  "$@" >"$logs/$name.log" 2>&1 &
  pids+=($!)
  echo "started $name (pid $!, log $logs/$name.log)"
}

start tracker bin/tracker -addr 127.0.0.1:7070
for _ in $(seq 50); do curl -fs http://127.0.0.1:7070/streams >/dev/null 2>&1 && break; sleep 0.1; done
start broadcaster bin/broadcaster
start peer1 bin/peer -listen 127.0.0.1:0
start peer2 bin/peer -listen 127.0.0.1:0
start peer3 bin/peer -listen 127.0.0.1:0 -http 127.0.0.1:8081
if [ -n "${DISPLAY:-}" ] && [ -x bin/viewer ]; then
  start viewer bin/viewer -listen 127.0.0.1:0
fi
cat <<MSG

  The demo is running.
    tracker status page:   http://127.0.0.1:7070/
    watch the stream:      vlc http://127.0.0.1:8081/   (or mpv / ffplay the same URL)
    follow a peer:         tail -f $logs/peer3.log
  Ctrl-C stops everything.

MSG
tail -n +1 -f "$logs/peer3.log" &
pids+=($!)
wait "${pids[0]}"
