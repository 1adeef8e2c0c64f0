package p2pstream

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/time/rate"
)

// Tracker defaults.
const (
	defaultTrackerTTL          = 30 * time.Second
	defaultTrackerInterval     = 5 * time.Second
	defaultTrackerMaxPeers     = 30
	defaultTrackerAddr         = ":7070"
	defaultTrackerBodyBytes    = 64 << 10
	defaultTrackerAnnounceRate = 20
	defaultRedisPrefix         = "p2pstream:"
)

// Tracker is an HTTP server that knows which peers carry which stream. Peers
// announce themselves periodically (POST /announce); the tracker answers with
// the stream's info and a random sample of its other peers. It also serves
// the streams as JSON (GET /streams, GET /streams/{id}) and a live HTML
// dashboard (GET /). It never carries video. docs/TRACKER-API.md describes the
// protocol.
//
// A Tracker starts and stops like an [http.Server]: the zero value is ready
// to use, [Tracker.Serve] serves a listener until [Tracker.Shutdown] or
// [Tracker.Close], after which it returns [ErrTrackerClosed]. Set the fields
// before the first call to Serve or Handler and do not change them after.
//
// Entries live in memory, or in Redis if Redis is set, and expire TTL after
// a peer's last announce, so a restarted tracker relearns every stream and
// peer within one Interval. Several trackers that share one Redis serve the
// same swarms (docs/OPERATIONS.md).
//
// Every limit has a default that suits a public tracker: at most MaxStreams
// streams of MaxStreamPeers peers each, announces of at most MaxBodyBytes,
// AnnounceRate announces per second from one IP address.
//
// [Tracker.Collector] exports the tracker's Prometheus metrics.
type Tracker struct {
	// TTL is how long an entry lives without a new announce; if zero, 30 s.
	// Make it several Intervals so that one lost announce does not drop a peer.
	TTL time.Duration
	// Interval is how often peers are told to announce; if zero, 5 s.
	Interval time.Duration
	// MaxPeers is the most peers returned per announce; if zero, 30.
	MaxPeers int
	// MaxStreamPeers is the most peers kept per stream; if zero, 10,000.
	// Announces of further peers are refused (503) until entries expire.
	MaxStreamPeers int
	// MaxStreams is the most streams kept; if zero, 10,000. Announces of
	// further streams are refused (503) until entries expire.
	MaxStreams int
	// MaxBodyBytes is the largest announce accepted, in bytes; if zero,
	// 64 KiB. Larger ones are refused (413).
	MaxBodyBytes int64
	// AnnounceRate is how many announces per second one IP address may
	// make, in bursts of up to twice as many; if zero, 20; if negative,
	// unlimited. Further announces are refused (429) with a Retry-After.
	// A peer announces each stream once per Interval, so the default lets
	// 100 peers share one address (a NAT) at the default Interval. Each
	// tracker counts on its own, also when several share a Redis.
	AnnounceRate float64
	// TrustProxyHeader names a request header, such as "X-Forwarded-For",
	// that holds the client's IP address: set it only when every request
	// reaches the tracker through a reverse proxy that sets the header. The
	// last address in the header is used (the one the proxy appended). If
	// empty, the tracker uses the address of the connection. Either way the
	// peer chooses only the port of its entry, never the host, so nobody can
	// aim a swarm at a third party.
	TrustProxyHeader string
	// Redis, if not nil, holds the tracker's entries instead of this
	// process's memory, so that several trackers sharing it serve the same
	// swarms. The caller creates the client (redis.NewClient,
	// redis.NewFailoverClient) and closes it after the tracker. The server
	// must be Redis 6.2 or later (a single instance or a Sentinel group,
	// not a Cluster).
	Redis *redis.Client
	// RedisPrefix starts every key the tracker writes in Redis; if empty,
	// "p2pstream:". Trackers serve the same swarms when they share a Redis
	// and a prefix.
	RedisPrefix string
	// Logger receives the tracker's logs; if nil, they are discarded.
	Logger *slog.Logger

	// now is the clock; nil means time.Now. Tests replace it to expire
	// entries without sleeping.
	now func() time.Time

	initOnce sync.Once // builds store, limiter, metrics and handler on first use
	store    trackerStore
	limiter  *ipLimiter // nil if AnnounceRate is negative
	metrics  *trackerMetrics
	handler  http.Handler

	mu     sync.Mutex   // guards srv and closed
	srv    *http.Server // made by the first Serve
	closed bool
}

// Handler returns the tracker's HTTP handler, to mount in a server of one's
// own. Serve uses the same handler; entries are shared between them.
func (t *Tracker) Handler() http.Handler {
	t.initOnce.Do(t.init)
	return t.handler
}

func (t *Tracker) init() {
	if t.Redis != nil {
		prefix := t.RedisPrefix
		if prefix == "" {
			prefix = defaultRedisPrefix
		}
		t.store = newRedisStore(t.Redis, prefix, t.ttl(), t.maxStreams(), t.maxStreamPeers())
	} else {
		ms := newMemoryStore(t.ttl())
		ms.maxStreams, ms.maxPeers = t.maxStreams(), t.maxStreamPeers()
		t.store = ms
	}
	if r := t.announceRate(); r > 0 {
		t.limiter = newIPLimiter(rate.Limit(r), max(1, int(2*r)))
	}
	t.metrics = newTrackerMetrics(t)
	mux := http.NewServeMux()
	mux.HandleFunc("POST /announce", t.handleAnnounce)
	mux.HandleFunc("GET /streams", t.handleStreams)
	mux.HandleFunc("GET /streams/{id}", t.handleStream)
	mux.HandleFunc("GET /{$}", t.handlePage)
	mux.HandleFunc("GET /dashboard.js", t.handlePageJS)
	t.handler = mux
}

// Serve accepts HTTP connections on l and serves the tracker on them until
// Shutdown or Close; then it returns ErrTrackerClosed. Like
// [http.Server.Serve] it always returns a non-nil error and closes l. Serve
// may be called for several listeners at once.
func (t *Tracker) Serve(l net.Listener) error {
	srv := t.server()
	if srv == nil {
		l.Close()
		return ErrTrackerClosed
	}
	t.log().Info("tracker serving", "addr", l.Addr().String())
	err := srv.Serve(l)
	if errors.Is(err, http.ErrServerClosed) {
		return ErrTrackerClosed
	}
	return err
}

// ListenAndServe listens on the TCP address addr (if empty, ":7070") and
// calls Serve.
func (t *Tracker) ListenAndServe(addr string) error {
	if t.isClosed() {
		return ErrTrackerClosed
	}
	if addr == "" {
		addr = defaultTrackerAddr
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return t.Serve(l)
}

// Shutdown stops the tracker gracefully: it closes the listeners, then
// waits for requests in progress to finish, or for ctx to end, whichever
// comes first. Serve returns ErrTrackerClosed at once. Entries in memory are
// dropped with the tracker, and peers re-announce to the next one; entries in
// Redis stay until they expire.
func (t *Tracker) Shutdown(ctx context.Context) error {
	srv := t.markClosed()
	if srv == nil {
		return nil
	}
	return srv.Shutdown(ctx)
}

// Close stops the tracker at once: it closes the listeners and every
// connection. Serve returns ErrTrackerClosed. Close may be called more than
// once.
func (t *Tracker) Close() error {
	srv := t.markClosed()
	if srv == nil {
		return nil
	}
	return srv.Close()
}

// server returns the tracker's HTTP server, making it on first use, or nil
// once the tracker is closed.
func (t *Tracker) server() *http.Server {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil
	}
	if t.srv == nil {
		t.srv = &http.Server{
			Handler: t.Handler(),
			// Announces are small; slow or stuck clients must not hold
			// connections for long.
			ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout:       30 * time.Second,
			WriteTimeout:      30 * time.Second,
			IdleTimeout:       2 * time.Minute,
			MaxHeaderBytes:    16 << 10,
			ErrorLog:          slog.NewLogLogger(t.log().Handler(), slog.LevelDebug),
		}
	}
	return t.srv
}

// markClosed marks the tracker closed and returns its server, if any.
func (t *Tracker) markClosed() *http.Server {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.closed = true
	return t.srv
}

func (t *Tracker) isClosed() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.closed
}

func (t *Tracker) ttl() time.Duration { return positiveOr(t.TTL, defaultTrackerTTL) }

func (t *Tracker) interval() time.Duration { return positiveOr(t.Interval, defaultTrackerInterval) }

func (t *Tracker) maxPeers() int { return positiveOr(t.MaxPeers, defaultTrackerMaxPeers) }

func (t *Tracker) maxStreamPeers() int { return positiveOr(t.MaxStreamPeers, maxTrackerPeersPerStream) }

func (t *Tracker) maxStreams() int { return positiveOr(t.MaxStreams, maxTrackerStreams) }

func (t *Tracker) maxBodyBytes() int64 { return positiveOr(t.MaxBodyBytes, defaultTrackerBodyBytes) }

// announceRate returns the announces per second allowed per IP, or a
// negative number for no limit.
func (t *Tracker) announceRate() float64 {
	if t.AnnounceRate == 0 {
		return defaultTrackerAnnounceRate
	}
	return t.AnnounceRate
}

func (t *Tracker) clock() time.Time {
	if t.now != nil {
		return t.now()
	}
	return time.Now()
}

// discardLogger stands in for a nil Tracker.Logger.
var discardLogger = slog.New(slog.DiscardHandler)

func (t *Tracker) log() *slog.Logger {
	if t.Logger != nil {
		return t.Logger
	}
	return discardLogger
}
