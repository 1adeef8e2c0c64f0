// Command peer is a headless p2pstream viewer: it joins a stream, fetches it
// from other peers, serves it on to others, and writes it to a file, stdout
// or an HTTP endpoint that VLC, mpv or ffplay can open. It never links a GUI,
// so it runs on servers.
//
//	go run ./examples/peer                      # join the first stream, show status
//	go run ./examples/peer -http :8081          # then: vlc http://127.0.0.1:8081/
//	go run ./examples/peer -out - | ffplay -    # play from stdout
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/p2pstream/p2pstream"
	"github.com/p2pstream/p2pstream/internal/cli"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "peer:", err)
		os.Exit(1)
	}
}

func run() error {
	fs := flag.NewFlagSet("peer", flag.ExitOnError)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: go run ./examples/peer [flags]

Joins a p2pstream stream (the first one the tracker lists, unless -stream is
given), fetches it from other peers, serves it on to others, and prints a
status line each second. The stream can be written to a file or stdout, or
served over HTTP for VLC, mpv or ffplay.

Flags:
`)
		fs.PrintDefaults()
	}
	tracker := fs.String("tracker", "http://127.0.0.1:7070", "tracker `URL`")
	streamID := fs.String("stream", "", "stream `ID` (64 hex digits) to join; default: the first stream the tracker lists")
	listen := fs.String("listen", ":0", "`ADDR` where this peer serves other peers")
	out := fs.String("out", "", "write the stream to `FILE`; - writes to stdout (e.g. | ffplay -)")
	httpAddr := fs.String("http", "", "serve the stream over HTTP at `ADDR` (e.g. :8081); open http://ADDR/ in VLC, mpv or ffplay (an on-demand stream with seeking)")
	duration := fs.Duration("duration", 0, "stop after `D` (e.g. 30s); for an on-demand stream with -out and no -http, stop when the file is complete; 0 runs until interrupted")
	delay := fs.Duration("delay", 0, "live: play-out delay `D` (Peer.Delay): how far behind the chunks' schedule the player may get them before they are skipped; 0 means one and a half chunk durations, at least 1.5s (with -pull: three, at least 2s)")
	pull := fs.Bool("pull", false, cli.PullUsage)
	upload := fs.String("upload-limit", "", "cap upload to other peers at `RATE` bytes/s (e.g. 500k, 2M); default unlimited")
	dir := fs.String("download-dir", "", "on demand: keep the file being downloaded in `DIR` while the peer runs (a temporary file, gone when the peer stops, on Unix even if it is killed); default the system's temporary directory")
	metricsAddr := fs.String("metrics", "", "serve Prometheus metrics at http://`ADDR`/metrics (e.g. :9101); default off")
	verbose := fs.Bool("v", false, "log debug messages")
	fs.Parse(os.Args[1:])

	log := cli.Logger(*verbose)
	limit, err := cli.ParseRate(*upload)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *duration)
		defer cancel()
	}

	tc := &p2pstream.TrackerClient{URL: *tracker}
	defer tc.Close()
	id, err := cli.PickStream(ctx, tc, *streamID, log)
	if err != nil {
		return err
	}

	// A live stream goes to HTTP clients through a sink; an on-demand one
	// is served from its file after joining, so that players can seek.
	vod := false
	var httpLn net.Listener // bound now, so that a busy port fails at once
	if *httpAddr != "" {
		st, err := tc.Stream(ctx, id)
		if err != nil {
			return fmt.Errorf("looking the stream up at the tracker: %w", err)
		}
		vod = st.Info.Kind == p2pstream.KindVOD
		if httpLn, err = net.Listen("tcp", *httpAddr); err != nil {
			return fmt.Errorf("-http: %w", err)
		}
		defer httpLn.Close()
	}
	sinks, closeSinks, err := openSinks(*out, httpLn, vod, log)
	if err != nil {
		return err
	}
	defer closeSinks()

	peer := &p2pstream.Peer{Tracker: *tracker, ListenAddr: *listen, UploadLimit: limit, Delay: *delay, Pull: *pull, DownloadDir: *dir, Logger: log}
	defer peer.Close()
	if *metricsAddr != "" {
		m := p2pstream.NewPeerMetrics(peer)
		defer m.Close()
		go func() {
			if err := p2pstream.ListenAndServeMetrics(ctx, *metricsAddr, m); err != nil {
				log.Error("metrics", "err", err)
			}
		}()
	}
	joinCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	stream, err := peer.Join(joinCtx, id, sinks)
	cancel()
	if err != nil {
		return err
	}
	info := stream.Info()
	log.Info("joined", "stream", id.String(), "name", info.Name, "kind", info.Kind, "listen", peer.Addr())
	if vod && httpLn != nil {
		// GET / only: a browser's /favicon.ico is not the film.
		mux := http.NewServeMux()
		mux.Handle("GET /{$}", stream)
		defer serveHTTP(httpLn, mux, log)()
	}

	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			log.Info("stopping", "status", cli.StatusLine(stream.Stats()))
			return nil
		case <-stream.Done():
			if err := stream.Err(); err != nil {
				return err
			}
			if info.Kind == p2pstream.KindLive {
				log.Info("the stream ended", "status", cli.StatusLine(stream.Stats()))
				return nil
			}
			if *out != "" && httpLn == nil {
				log.Info("download complete", "file", *out, "status", cli.StatusLine(stream.Stats()))
				return stream.Close() // flushes and closes the file
			}
			if *out != "" {
				log.Info("download complete; serving it over HTTP until stopped", "file", *out)
			}
			// Complete: keep seeding (and serving HTTP) until stopped.
			select {
			case <-ctx.Done():
				return nil
			case <-tick.C:
			}
		case <-tick.C:
			fmt.Fprintln(os.Stderr, cli.StatusLine(stream.Stats()))
		}
	}
}

// openSinks builds the sinks -out and -http ask for: -http (httpLn, if not
// nil) serves a live stream through an HTTPSink; an on-demand one is served
// from its file after joining (not a sink).
func openSinks(out string, httpLn net.Listener, vod bool, log interface{ Info(string, ...any) }) (p2pstream.Sink, func(), error) {
	var sinks multiSink
	closeHTTP := func() {}
	if out != "" {
		var w io.WriteCloser
		if out != "-" {
			f, err := os.Create(out)
			if err != nil {
				return nil, nil, err
			}
			w = f
		} else {
			w = nopCloser{os.Stdout}
		}
		sinks = append(sinks, p2pstream.WriterSink(w))
	}
	if httpLn != nil && !vod {
		hs := &p2pstream.HTTPSink{}
		closeHTTP = serveHTTP(httpLn, hs, log)
		sinks = append(sinks, hs)
	}
	return sinks, closeHTTP, nil
}

// serveHTTP serves h on ln for players, says where, and returns what stops it.
func serveHTTP(ln net.Listener, h http.Handler, log interface{ Info(string, ...any) }) func() {
	srv := &http.Server{Handler: h}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintln(os.Stderr, "peer: http:", err)
		}
	}()
	url := "http://" + displayAddr(ln.Addr())
	log.Info("serving the stream over HTTP", "url", url)
	fmt.Fprintf(os.Stderr, "\n  open it with:  vlc %s   |   mpv %s   |   ffplay %s\n\n", url, url, url)
	return func() { srv.Close() }
}

// displayAddr turns a listener address into one a player can open.
func displayAddr(a net.Addr) string {
	host, port, err := net.SplitHostPort(a.String())
	if err != nil || host == "" || host == "::" || host == "0.0.0.0" {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

// multiSink hands each chunk, or part of one, to several sinks.
type multiSink []p2pstream.PartSink

func (m multiSink) WriteChunk(c p2pstream.Chunk) error {
	for _, s := range m {
		if err := s.WriteChunk(c); err != nil {
			return err
		}
	}
	return nil
}

func (m multiSink) WritePart(c p2pstream.Chunk, off int, data []byte) error {
	for _, s := range m {
		if err := s.WritePart(c, off, data); err != nil {
			return err
		}
	}
	return nil
}

func (m multiSink) Close() error {
	var errs []error
	for _, s := range m {
		errs = append(errs, s.Close())
	}
	return errors.Join(errs...)
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }
