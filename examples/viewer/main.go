// Command viewer is the windowed p2pstream viewer: it joins a stream like
// examples/peer does (fetching it from other peers and serving it on) and
// plays it in a window: libVLC decodes, ebiten draws and plays the sound.
//
//	go run ./examples/viewer                    # join the first stream the tracker lists
//	go run ./examples/viewer -file clip.ts      # play a local MPEG-TS file, no network
//
// Keys: s statistics overlay, f fullscreen, q or Esc quit; for an on-demand
// stream also space pause and the arrow keys seek 10 s.
//
// It needs a display: without one (DISPLAY unset) it exits at once with a
// message (see display.go; ebiten would panic). On a server run
// examples/peer -http :8081 and open the URL in VLC instead.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/p2pstream/p2pstream"
	"github.com/p2pstream/p2pstream/internal/cli"
	"github.com/p2pstream/p2pstream/player"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "viewer:", err)
		os.Exit(1)
	}
}

type flags struct {
	tracker, stream, listen, file, upload, statsFile string
	duration, delay                                  time.Duration
	pull                                             bool
	mute, overlay, verbose                           bool
}

func parseFlags() flags {
	var f flags
	fs := flag.NewFlagSet("viewer", flag.ExitOnError)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: go run ./examples/viewer [flags]

Joins a p2pstream stream (the first one the tracker lists, unless -stream is
given) and plays it in a window; it also serves the stream on to other peers.
With -file it plays a local MPEG-TS file instead.

Keys: s overlay, f fullscreen, q/Esc quit; on demand: space pause, <- -> seek 10 s.
It needs a display (ebiten); on a server use examples/peer -http instead.

Flags:
`)
		fs.PrintDefaults()
	}
	fs.StringVar(&f.tracker, "tracker", "http://127.0.0.1:7070", "tracker `URL`")
	fs.StringVar(&f.stream, "stream", "", "stream `ID` (64 hex digits) to join; default: the first stream the tracker lists")
	fs.StringVar(&f.listen, "listen", ":0", "`ADDR` where this peer serves other peers")
	fs.StringVar(&f.file, "file", "", "play the local MPEG-TS `FILE` instead of joining a stream")
	fs.DurationVar(&f.delay, "delay", 0, "live: play-out delay `D` (Peer.Delay): how far behind the chunks' schedule the player may get them before they are skipped; 0 means one and a half chunk durations, at least 1.5s (with -pull: three, at least 2s)")
	fs.BoolVar(&f.pull, "pull", false, cli.PullUsage)
	fs.StringVar(&f.upload, "upload-limit", "", "cap upload to other peers at `RATE` bytes/s (e.g. 500k, 2M); default unlimited")
	fs.DurationVar(&f.duration, "duration", 0, "close the window after `D` (e.g. 30s); 0 runs until closed")
	fs.StringVar(&f.statsFile, "stats", "", "when the window closes, write the player's statistics as JSON to `FILE` (- = stderr)")
	fs.BoolVar(&f.mute, "mute", false, "no sound")
	fs.BoolVar(&f.overlay, "overlay", true, "show the statistics overlay at start (toggle with s)")
	fs.BoolVar(&f.verbose, "v", false, "log debug messages")
	fs.Parse(os.Args[1:])
	return f
}

func run() error {
	f := parseFlags()
	log := cli.Logger(f.verbose)
	limit, err := cli.ParseRate(f.upload)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if f.duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, f.duration)
		defer cancel()
	}

	var stream atomic.Pointer[p2pstream.Stream]
	p, err := player.New(player.Options{Mute: f.mute, Overlay: f.overlay, SwarmStats: func() p2pstream.Stats {
		if s := stream.Load(); s != nil {
			return s.Stats()
		}
		return p2pstream.Stats{}
	}})
	if err != nil {
		return err
	}
	defer p.Close()

	peer := &p2pstream.Peer{Tracker: f.tracker, ListenAddr: f.listen, UploadLimit: limit, Delay: f.delay, Pull: f.pull, Logger: log}
	defer peer.Close()
	title := "p2pstream viewer"
	if f.file != "" {
		in, err := os.Open(f.file)
		if err != nil {
			return err
		}
		if err := p.PlaySeekable(in); err != nil {
			return err
		}
		title += " - " + f.file
	} else {
		// Join in the background: the window opens at once and shows
		// "buffering" until the first chunks arrive.
		go func() {
			s, err := join(ctx, peer, f, p, log)
			if err != nil {
				log.Error("join failed", "err", err)
				p.Fail(err)
				return
			}
			stream.Store(s)
		}()
	}
	go status(ctx, p, &stream)

	err = p.Run(ctx, title)
	if f.statsFile != "" {
		writeStats(f.statsFile, p.Stats())
	}
	return err
}

// join joins the stream the flags name and starts playing it.
func join(ctx context.Context, peer *p2pstream.Peer, f flags, p *player.Player, log *slog.Logger) (*p2pstream.Stream, error) {
	tc := &p2pstream.TrackerClient{URL: f.tracker}
	defer tc.Close()
	id, err := cli.PickStream(ctx, tc, f.stream, log)
	if err != nil {
		return nil, err
	}
	joinCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	st, err := tc.Stream(joinCtx, id)
	if err != nil {
		return nil, err
	}
	// A live stream plays through the player's Sink. An on-demand stream
	// plays through the stream's ReadSeeker, which the player seeks.
	var sink p2pstream.Sink
	if st.Info.Kind == p2pstream.KindLive {
		sink = p.Sink()
	}
	s, err := peer.Join(joinCtx, id, sink)
	if err != nil {
		if sink != nil {
			sink.Close()
		}
		return nil, err
	}
	info := s.Info()
	log.Info("joined", "stream", id.String(), "name", info.Name, "kind", info.Kind, "listen", peer.Addr())
	if info.Kind == p2pstream.KindVOD {
		r, err := s.Reader()
		if err != nil {
			return s, err
		}
		return s, p.PlaySeekable(r)
	}
	return s, nil
}

// status prints a status line once a second.
func status(ctx context.Context, p *player.Player, stream *atomic.Pointer[p2pstream.Stream]) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		st := p.Stats()
		line := fmt.Sprintf("%s | %dx%d %d fps | drawn %d dropped %d", st.State, st.Width, st.Height, st.FPS, st.FramesDrawn, st.FramesDropped)
		if s := stream.Load(); s != nil {
			line += " | " + cli.StatusLine(s.Stats())
		}
		fmt.Fprintln(os.Stderr, line)
	}
}

func writeStats(path string, st player.Stats) {
	b, _ := json.MarshalIndent(st, "", "  ")
	b = append(b, '\n')
	if path == "-" {
		os.Stderr.Write(b)
		return
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "viewer: -stats:", err)
	}
}
