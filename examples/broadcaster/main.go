// Command broadcaster publishes a p2pstream stream. With no flags it
// publishes the built-in sample (a test pattern with a clock and a 1 kHz
// tone) as a live stream, looping forever in real time.
//
//	go run ./examples/broadcaster                         # the sample, live
//	go run ./examples/broadcaster -file movie.ts          # a file, live, paced by its PCR
//	ffmpeg -re -i in.mp4 -c:v libx264 -c:a aac -f mpegts - | go run ./examples/broadcaster -file -
//	go run ./examples/broadcaster -vod movie.ts           # a file on demand (seekable)
package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/p2pstream/p2pstream"
	"github.com/p2pstream/p2pstream/internal/cli"
	"github.com/p2pstream/p2pstream/internal/sample"
	"github.com/p2pstream/p2pstream/internal/ts"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "broadcaster:", err)
		os.Exit(1)
	}
}

func run() error {
	fs := flag.NewFlagSet("broadcaster", flag.ExitOnError)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: go run ./examples/broadcaster [flags]

Publishes a stream to the p2pstream swarm and registers it with the tracker.
With no -file or -vod it publishes the built-in sample (640x360 H.264 + AAC
test pattern with a clock) as a live stream, looping forever in real time.

Flags:
`)
		fs.PrintDefaults()
	}
	tracker := fs.String("tracker", "http://127.0.0.1:7070", "tracker `URL`")
	listen := fs.String("listen", ":0", "`ADDR` where peers connect to fetch chunks")
	file := fs.String("file", "", "publish MPEG-TS `FILE` live, paced in real time by its PCR; - reads stdin (e.g. from ffmpeg -f mpegts -)")
	vod := fs.String("vod", "", "publish `FILE` on demand (viewers can seek) instead of live")
	name := fs.String("name", "", "stream name shown by the tracker (default: \"sample\", the file's name, or \"stdin\")")
	chunk := fs.Duration("chunk", time.Second, "target live chunk `duration`; 250-500ms lowers viewers' lag at 2 Mbit/s and up (give the source a keyframe at least that often, and viewers a shorter delay)")
	upload := fs.String("upload-limit", "", "cap upload at `RATE` bytes/s (e.g. 500k, 2M); default unlimited")
	keyFile := fs.String("key", "", "ed25519 key `FILE` (created if missing) so the live stream keeps its ID across restarts; default: a new key each run")
	metricsAddr := fs.String("metrics", "", "serve Prometheus metrics at http://`ADDR`/metrics (e.g. :9101); default off")
	pull := fs.Bool("pull", false, cli.PullUsage)
	verbose := fs.Bool("v", false, "log debug messages")
	fs.Parse(os.Args[1:])

	log := cli.Logger(*verbose)
	limit, err := cli.ParseRate(*upload)
	if err != nil {
		return err
	}
	if *file != "" && *vod != "" {
		return errors.New("give -file or -vod, not both")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	peer := &p2pstream.Peer{Tracker: *tracker, ListenAddr: *listen, UploadLimit: limit, Pull: *pull, Logger: log}
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
	opts := p2pstream.PublishOptions{Name: *name, ChunkDuration: *chunk}

	var stream *p2pstream.Stream
	if *vod != "" {
		log.Info("hashing the file", "file", *vod)
		stream, err = peer.PublishFile(ctx, *vod, opts)
	} else {
		var src io.Reader
		src, opts.Name, err = source(ctx, *file, opts.Name)
		if err != nil {
			return err
		}
		if opts.Key, err = loadKey(*keyFile); err != nil {
			return err
		}
		stream, err = peer.Publish(ctx, src, opts)
	}
	if err != nil {
		return err
	}
	info := stream.Info()
	fmt.Fprintf(os.Stderr, "\n  publishing %q (%s)\n  stream ID: %s\n  tracker:   %s\n  peers connect to %s\n\n",
		info.Name, info.Kind, info.ID, *tracker, peer.Addr())

	tick := time.NewTicker(5 * time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			log.Info("stopping")
			return nil
		case <-stream.Done():
			if info.Kind == p2pstream.KindLive {
				log.Info("the source ended; serving the last chunks for 10 s")
				select {
				case <-ctx.Done():
				case <-time.After(10 * time.Second):
				}
				return nil
			}
			<-ctx.Done() // on demand: Done is immediate; seed until stopped
			return nil
		case <-tick.C:
			st := stream.Stats()
			line := cli.StatusLine(st)
			if br := stream.Info().Bitrate; br > 0 {
				line = fmt.Sprintf("bitrate %.2f Mbit/s | %s", float64(br)/1e6, line)
			}
			fmt.Fprintln(os.Stderr, line)
		}
	}
}

// source opens what -file names, or the looping sample.
func source(ctx context.Context, file, name string) (io.Reader, string, error) {
	switch file {
	case "":
		if name == "" {
			name = "sample"
		}
		return ts.Loop(ctx, sample.TS), name, nil
	case "-":
		if name == "" {
			name = "stdin"
		}
		return os.Stdin, name, nil
	}
	f, err := os.Open(file)
	if err != nil {
		return nil, "", err
	}
	if name == "" {
		name = f.Name()
	}
	return f, name, nil
}

// loadKey reads an ed25519 seed (64 hex digits) from path, creating the file
// if it is missing.
func loadKey(path string) (ed25519.PrivateKey, error) {
	if path == "" {
		return nil, nil
	}
	text, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		seed := make([]byte, ed25519.SeedSize)
		if _, err := rand.Read(seed); err != nil {
			return nil, err
		}
		text = []byte(hex.EncodeToString(seed) + "\n")
		if err := os.WriteFile(path, text, 0o600); err != nil {
			return nil, err
		}
	} else if err != nil {
		return nil, err
	}
	seed, err := hex.DecodeString(strings.TrimSpace(string(text)))
	if err != nil || len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("key file %s: want an ed25519 seed as %d hex digits", path, 2*ed25519.SeedSize)
	}
	return ed25519.NewKeyFromSeed(seed), nil
}
