// Package cli holds what the example programs share: picking a stream from
// the tracker, parsing rates, the one-line status and shared flag help.
package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/p2pstream/p2pstream"
)

// PullUsage is the help text of the -pull flag of the broadcaster, peer
// and viewer programs.
const PullUsage = "pull every live chunk instead of joining the stripe trees (Peer.Pull): less CPU and a longer window, but 5-7 s to start and 8-10 s behind the live edge instead of about 1 s and 3 s (swarm lab, 100 viewers); every peer of the stream and the broadcaster should agree"

// Logger returns a text logger on stderr; verbose enables debug messages.
func Logger(verbose bool) *slog.Logger {
	level := slog.LevelInfo
	if verbose {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}

// PickStream returns the stream named by id (64 hex digits), or, if id is
// empty, the first stream the tracker lists, waiting for one to appear until
// ctx ends.
func PickStream(ctx context.Context, tc *p2pstream.TrackerClient, id string, log *slog.Logger) (p2pstream.StreamID, error) {
	if id != "" {
		return p2pstream.ParseStreamID(id)
	}
	waiting := false
	for {
		streams, err := tc.Streams(ctx)
		for _, st := range streams {
			if st.Registered() { // skip streams only viewers have announced
				return st.Info.ID, nil
			}
		}
		if !waiting {
			if err != nil {
				log.Info("waiting for the tracker", "url", tc.URL, "err", err)
			} else {
				log.Info("waiting for a stream to appear on the tracker", "url", tc.URL)
			}
			waiting = true
		}
		select {
		case <-ctx.Done():
			if err == nil {
				err = errors.New("the tracker lists no stream")
			}
			return p2pstream.StreamID{}, fmt.Errorf("picking a stream from %s: %w (last: %v)", tc.URL, ctx.Err(), err)
		case <-time.After(time.Second):
		}
	}
}

// ParseRate parses a byte rate such as "500k", "2M" or "1.5G" (bytes per
// second, powers of 1000). "" and "0" mean unlimited (0).
func ParseRate(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	mult := 1.0
	switch strings.ToLower(s[len(s)-1:]) {
	case "k":
		mult = 1e3
	case "m":
		mult = 1e6
	case "g":
		mult = 1e9
	}
	if mult != 1 {
		s = s[:len(s)-1]
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("bad rate %q: want bytes per second like 500k, 2M or 1.5G", s)
	}
	return int64(v * mult), nil
}

// Bytes formats a byte count for people: 1.2 MB.
func Bytes(n int64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.2f GB", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.1f MB", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.1f kB", float64(n)/1e3)
	}
	return fmt.Sprintf("%d B", n)
}

// StatusLine summarises a stream's statistics on one line.
func StatusLine(st p2pstream.Stats) string {
	var b strings.Builder
	if st.Chunks > 0 {
		fmt.Fprintf(&b, "have %d/%d chunks (%.0f%%) | ", st.Have, st.Chunks, 100*float64(st.Have)/float64(st.Chunks))
	} else if !st.Source {
		fmt.Fprintf(&b, "buffer %.1fs | lag %.1fs | continuity %.1f%% | ",
			st.Buffered.Seconds(), st.Lag.Seconds(), 100*st.Continuity)
	}
	fmt.Fprintf(&b, "peers %d | ", st.Peers)
	if !st.Source {
		fmt.Fprintf(&b, "from peers %s (%.0f%%) | from source %s | ",
			Bytes(st.BytesFromPeers), 100*st.P2PRatio(), Bytes(st.BytesFromSource))
	}
	fmt.Fprintf(&b, "up %s", Bytes(st.BytesUp))
	switch {
	case st.TreeStripes > 0:
		fmt.Fprintf(&b, " | trees: %d/4 stripes, depth %d, %d feeds", st.TreeStripes, st.TreeDepth, st.TreeFeeds)
	case st.TreeFeeds > 0:
		fmt.Fprintf(&b, " | trees: %d feeds", st.TreeFeeds)
	}
	if st.Bans > 0 {
		fmt.Fprintf(&b, " | bans %d", st.Bans)
	}
	return b.String()
}
