package p2pstream

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

// Tracker defaults.
const (
	defaultTrackerTTL      = 30 * time.Second
	defaultTrackerInterval = 5 * time.Second
	defaultTrackerMaxPeers = 30
	defaultTrackerAddr     = ":7070"
)

// Tracker is an HTTP server that knows which peers carry which stream. Peers
// announce themselves periodically (POST /announce); the tracker answers with
// the stream's info and a random sample of its other peers. It also serves
// the streams as JSON (GET /streams, GET /streams/{id}) and an HTML status
// page (GET /). It never carries video. docs/TRACKER-API.md describes the
// protocol.
//
// A Tracker starts and stops like an [http.Server]: the zero value is ready
// to use, [Tracker.Serve] serves a listener until [Tracker.Shutdown] or
// [Tracker.Close], after which it returns [ErrTrackerClosed]. Set the fields
// before the first call to Serve or Handler and do not change them after.
//
// Entries live in memory and expire TTL after a peer's last announce, so a
// restarted tracker relearns every stream and peer within one Interval.
type Tracker struct {
	// TTL is how long an entry lives without a new announce; if zero, 30 s.
	// Make it several Intervals so that one lost announce does not drop a peer.
	TTL time.Duration
	// Interval is how often peers are told to announce; if zero, 5 s.
	Interval time.Duration
	// MaxPeers is the most peers returned per announce; if zero, 30.
	MaxPeers int
	// Logger receives the tracker's logs; if nil, they are discarded.
	Logger *slog.Logger

	// now is the clock; nil means time.Now. Tests replace it to expire
	// entries without sleeping.
	now func() time.Time

	initOnce sync.Once // builds store and handler on first use
	store    trackerStore
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
	t.store = newMemoryStore(t.ttl())
	mux := http.NewServeMux()
	mux.HandleFunc("POST /announce", t.handleAnnounce)
	mux.HandleFunc("GET /streams", t.handleStreams)
	mux.HandleFunc("GET /streams/{id}", t.handleStream)
	mux.HandleFunc("GET /{$}", t.handlePage)
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
// comes first. Serve returns ErrTrackerClosed at once. Entries are dropped
// with the tracker; peers re-announce to the next one.
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

func (t *Tracker) ttl() time.Duration {
	if t.TTL > 0 {
		return t.TTL
	}
	return defaultTrackerTTL
}

func (t *Tracker) interval() time.Duration {
	if t.Interval > 0 {
		return t.Interval
	}
	return defaultTrackerInterval
}

func (t *Tracker) maxPeers() int {
	if t.MaxPeers > 0 {
		return t.MaxPeers
	}
	return defaultTrackerMaxPeers
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
