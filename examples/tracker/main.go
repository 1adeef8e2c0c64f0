// Command tracker runs a p2pstream tracker: peers announce the streams they
// carry to it and learn of each other; it never carries video. It serves a
// JSON API (docs/TRACKER-API.md) and an HTML status page of every stream,
// its peers and its swarm's health.
//
//	go run ./examples/tracker                  # on :7070; open http://127.0.0.1:7070/
//	go run ./examples/tracker -addr :8000 -v   # another port, with debug logs
//	go run ./examples/tracker -redis redis://127.0.0.1:6379/0 -metrics :9100
//	                                            # entries in Redis, shared with other trackers;
//	                                            # Prometheus metrics at :9100/metrics
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/p2pstream/p2pstream"
	"github.com/p2pstream/p2pstream/internal/cli"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "tracker:", err)
		os.Exit(1)
	}
}

func run() error {
	fs := flag.NewFlagSet("tracker", flag.ExitOnError)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: go run ./examples/tracker [flags]

Runs a p2pstream tracker. Broadcasters and peers announce the streams they
carry to it every -interval; it answers each with the stream's info and a
random sample of the stream's other peers, and forgets peers that have not
announced for -ttl. It never carries video.

It serves:
  POST /announce       what peers call (JSON)
  GET  /streams        every stream and its swarm's health (JSON)
  GET  /streams/{id}   one stream with its peers (JSON)
  GET  /               a live dashboard of every stream (updates itself)

With -redis, trackers that share the Redis serve the same swarms: run
several behind one name (docs/OPERATIONS.md).

Flags:
`)
		fs.PrintDefaults()
	}
	addr := fs.String("addr", ":7070", "listen on `ADDR` (host:port; :7070 means every interface)")
	ttl := fs.Duration("ttl", 30*time.Second, "forget a peer that has not announced for `D`; make it several intervals")
	interval := fs.Duration("interval", 5*time.Second, "tell peers to announce every `D`")
	maxPeers := fs.Int("max-peers", 30, "answer each announce with at most `N` other peers")
	maxStreamPeers := fs.Int("max-stream-peers", 10_000, "keep at most `N` peers per stream")
	rate := fs.Float64("announce-rate", 20, "allow each IP address `N` announces per second (bursts of 2N); negative: unlimited")
	proxyHeader := fs.String("trust-proxy-header", "", "take the client's IP from request header `NAME` (e.g. X-Forwarded-For); only behind a proxy that sets it")
	redisURL := fs.String("redis", "", "keep entries in the Redis at `URL` (redis://[:password@]host:port/db) instead of memory")
	redisPrefix := fs.String("redis-prefix", "p2pstream:", "start every Redis key with `PREFIX`")
	metricsAddr := fs.String("metrics", "", "serve Prometheus metrics at http://`ADDR`/metrics (e.g. :9100); default off")
	verbose := fs.Bool("v", false, "log debug messages (every announce)")
	fs.Parse(os.Args[1:])
	if fs.NArg() > 0 {
		fs.Usage()
		return fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	if *ttl <= 0 || *interval <= 0 || *maxPeers <= 0 || *maxStreamPeers <= 0 || *rate == 0 {
		return errors.New("-ttl, -interval, -max-peers and -max-stream-peers must be positive, -announce-rate not zero")
	}

	log := cli.Logger(*verbose)
	if *ttl < 2**interval {
		log.Warn("-ttl is less than two intervals: one late announce will drop a peer", "ttl", *ttl, "interval", *interval)
	}
	tracker := &p2pstream.Tracker{
		TTL: *ttl, Interval: *interval, MaxPeers: *maxPeers, MaxStreamPeers: *maxStreamPeers,
		AnnounceRate: *rate, TrustProxyHeader: *proxyHeader, Logger: log,
	}
	if *redisURL != "" {
		opts, err := redis.ParseURL(*redisURL)
		if err != nil {
			return fmt.Errorf("-redis: %w", err)
		}
		rdb := redis.NewClient(opts)
		defer rdb.Close()
		pctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err = rdb.Ping(pctx).Err()
		cancel()
		if err != nil {
			return fmt.Errorf("-redis %s: %w", *redisURL, err)
		}
		tracker.Redis, tracker.RedisPrefix = rdb, *redisPrefix
		log.Info("entries in redis", "addr", opts.Addr, "db", opts.DB, "prefix", *redisPrefix)
	}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "\n  p2pstream tracker\n  status page: %s\n  peers use:   -tracker %s\n\n", baseURL(ln.Addr())+"/", baseURL(ln.Addr()))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *metricsAddr != "" {
		go func() {
			if err := p2pstream.ListenAndServeMetrics(ctx, *metricsAddr, tracker.Collector()); err != nil {
				log.Error("metrics", "err", err)
			}
		}()
	}
	go func() {
		<-ctx.Done()
		log.Info("shutting down")
		// Announces are short; give those in flight a moment to finish.
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := tracker.Shutdown(sctx); err != nil {
			log.Warn("shutdown", "err", err)
			tracker.Close()
		}
	}()

	if err := tracker.Serve(ln); !errors.Is(err, p2pstream.ErrTrackerClosed) {
		return err
	}
	return nil
}

// baseURL is the URL of the tracker listening on addr, as seen from this
// machine: a wildcard address is reached on loopback.
func baseURL(addr net.Addr) string {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return "http://" + addr.String()
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port)
}
