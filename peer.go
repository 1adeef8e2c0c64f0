package p2pstream

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/p2pstream/p2pstream/internal/wire"
	"github.com/p2pstream/p2pstream/transport"
)

// Peer is one participant in the swarm: it publishes streams, joins streams,
// and serves the chunks it holds to other peers. Set its fields before the
// first call to Publish, PublishFile or Join; the zero value uses TCP, the
// tracker at http://127.0.0.1:7070 and a random port. Close stops everything.
type Peer struct {
	// Tracker is the tracker's base URL; if empty, http://127.0.0.1:7070.
	Tracker string
	// Transport carries peer connections and tracker requests; if nil, TCP.
	Transport Transport
	// ListenAddr is where the peer accepts connections from other peers;
	// if empty, ":0" (a free port on every interface).
	ListenAddr string
	// UploadLimit caps the chunk bytes per second sent to all peers; if zero,
	// unlimited.
	UploadLimit int64
	// MaxPeers is how many peers each stream dials; if zero, 8. Each stream
	// also accepts incoming connections while it has fewer than 4*MaxPeers
	// connections in all (a live source: at least 256). With fewer, a viewer in a small swarm takes
	// longer to find its tree parents (swarm lab, 100 viewers with 16 KiB
	// pieces: startup p95 2.3 s with 4, 0.85-1.05 s with 8).
	MaxPeers int
	// Window is how much of a live stream each peer keeps to serve others;
	// if zero, 8 s (and at least 8 chunks): viewers play 2.5-5 s behind
	// the live edge, the window is most of a peer's heap, and a peer
	// further behind than the window skips ahead. With Pull, 20 s: pulled
	// chunks play 5-10 s behind.
	Window time.Duration
	// Delay is the live play-out delay: each chunk is due Delay after its
	// place on the play clock, which starts when the first chunk is handed
	// to the sink. A late chunk is skipped once a later one is held, and
	// each skip adds a chunk duration to the delay from then on (at most
	// Delay more), as a player buffers more after a gap. If zero, one and
	// a half chunk durations, and at least 1.5 s (with Pull: three, and at
	// least 2 s).
	Delay time.Duration
	// Pull takes the peer out of live streams' stripe trees (tree.go),
	// where fresh chunks are pushed down four trees, one per stripe of
	// their pieces, and pulled only to repair: with Pull, a viewer pulls
	// every chunk, and a publisher pushes each fresh chunk to a few peers
	// whole (PublishOptions.Fanout). Peers of a stream should agree; a
	// viewer in the trees whose neighbours do not push pulls. Swarm lab
	// (docs/BENCHMARKS.md), 100 viewers at 2 Mbit/s: startup p95
	// 0.65-0.88 s and lag p95 2.3-2.6 s in the trees, 5.3-6.9 s and
	// 8.5-10 s pulling, both at 99.5-100% continuity; with 30% churn per
	// minute, about 99-100% either way. 1,000 viewers at 500 kbit/s in one
	// process on two cores: >= 99% pulling in 96 runs of 102, in the
	// trees in most runs (their forming can stall for seconds); pulling
	// takes less CPU (31 against 35-53 CPU seconds for those 1,000
	// viewers) and keeps a longer window.
	Pull bool
	// DownloadDir is where a viewer of an on-demand stream keeps the chunks
	// it fetches, in one temporary file per stream; if empty,
	// os.TempDir(). The file's name is removed at once (on Windows, when
	// the stream closes), so nothing is left behind even if the process
	// dies (on Unix). The heap holds none of it: the operating system's page cache
	// does, and can write it out.
	DownloadDir string
	// Logger receives diagnostics; if nil, they are discarded.
	Logger *slog.Logger

	// Limits on what other peers may make this one do (docs/RELIABILITY.md).

	// MaxIncoming bounds the incoming connections open at once, across all
	// streams, including those still handshaking; if zero, 256. Further
	// connections are closed at once.
	MaxIncoming int
	// MaxConnsPerIP bounds the incoming connections open at once from one
	// remote IP address; if zero, 8. Loopback addresses are not limited.
	MaxConnsPerIP int
	// MaxServe bounds the requests from one peer queued for upload; if zero,
	// 32. Further requests are rejected.
	MaxServe int
	// MaxChunk is the largest chunk, in bytes, accepted from a peer; a frame
	// may be 128 bytes longer. If zero, MaxChunkSize (4 MiB). A peer that
	// sends a longer frame is banned.
	MaxChunk int

	mu      sync.Mutex // guards the fields below
	started bool
	closed  bool
	id      PeerID
	ln      net.Listener
	streams map[StreamID]*Stream
	limiter *rate.Limiter
	tracker *TrackerClient
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup // the accept loop and incoming handshakes

	incoming int            // incoming connections open (MaxIncoming)
	perIP    map[string]int // incoming connections open per remote IP (MaxConnsPerIP)
}

const (
	defaultTracker  = "http://127.0.0.1:7070"
	defaultMaxPeers = 8
	handshakeWait   = 5 * time.Second
)

// start listens and starts the accept loop, once. Called with p.mu held.
func (p *Peer) startLocked() error {
	if p.closed {
		return ErrClosed
	}
	if p.started {
		return nil
	}
	if _, err := rand.Read(p.id[:]); err != nil {
		return err
	}
	addr := p.ListenAddr
	if addr == "" {
		addr = ":0"
	}
	ln, err := p.transport().Listen(addr)
	if err != nil {
		return fmt.Errorf("p2pstream: listen for peers: %w", err)
	}
	p.ln = ln
	p.streams = make(map[StreamID]*Stream)
	if p.UploadLimit > 0 {
		p.limiter = rate.NewLimiter(rate.Limit(p.UploadLimit), uploadBurst)
	}
	url := p.Tracker
	if url == "" {
		url = defaultTracker
	}
	p.tracker = &TrackerClient{URL: url, Transport: p.Transport}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	p.started = true
	p.wg.Add(1)
	go p.acceptLoop()
	return nil
}

// uploadBurst is the upload limiter's burst; chunks are written in pieces of
// at most this size so a cap holds even for multi-megabyte chunks.
const uploadBurst = 64 << 10

func (p *Peer) transport() Transport {
	if p.Transport == nil {
		return transport.TCP{}
	}
	return p.Transport
}

func (p *Peer) logger() *slog.Logger {
	if p.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return p.Logger
}

func (p *Peer) maxPeers() int { return positiveOr(p.MaxPeers, defaultMaxPeers) }

// ID returns the peer's random ID (zero before the peer starts).
func (p *Peer) ID() PeerID {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.id
}

// Addr returns the address the peer listens on, or nil before it starts.
func (p *Peer) Addr() net.Addr {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln == nil {
		return nil
	}
	return p.ln.Addr()
}

// addStream starts the peer if needed and registers a new stream.
func (p *Peer) addStream(s *Stream) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.startLocked(); err != nil {
		return err
	}
	if _, ok := p.streams[s.id]; ok {
		return fmt.Errorf("p2pstream: stream %s is already open on this peer", s.id.Short())
	}
	p.streams[s.id] = s
	return nil
}

func (p *Peer) removeStream(s *Stream) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.streams[s.id] == s {
		delete(p.streams, s.id)
	}
}

func (p *Peer) stream(id StreamID) *Stream {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.streams[id]
}

func (p *Peer) acceptLoop() {
	defer p.wg.Done()
	for {
		nc, err := p.ln.Accept()
		if err != nil {
			if p.ctx.Err() == nil {
				p.logger().Error("accept failed; no longer accepting peers", "err", err)
			}
			return
		}
		if nc = p.admitIncoming(nc); nc == nil {
			continue
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.handleIncoming(nc)
		}()
	}
}

// handleIncoming reads the dialer's handshake and hands the connection to
// the stream it names.
func (p *Peer) handleIncoming(nc net.Conn) {
	_ = nc.SetDeadline(time.Now().Add(handshakeWait))
	r := wire.NewReaderSize(nc, readBuffer, p.wireLimits())
	m, err := r.ReadMessage()
	if err != nil {
		p.logger().Debug("incoming handshake failed", "remote", nc.RemoteAddr(), "err", err)
		nc.Close()
		return
	}
	hs, ok := m.(*wire.Handshake)
	if !ok {
		p.logger().Debug("incoming connection did not start with a handshake", "remote", nc.RemoteAddr())
		nc.Close()
		return
	}
	s := p.stream(StreamID(hs.Stream))
	if s == nil {
		p.logger().Debug("incoming connection for unknown stream", "stream", StreamID(hs.Stream).Short())
		nc.Close()
		return
	}
	s.accept(nc, r, hs)
}

// Close closes every stream and the listener, and waits for all goroutines.
// It is idempotent.
func (p *Peer) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	started := p.started
	streams := make([]*Stream, 0, len(p.streams))
	for _, s := range p.streams {
		streams = append(streams, s)
	}
	p.mu.Unlock()
	if !started {
		return nil
	}
	p.cancel()
	p.ln.Close()
	var wg sync.WaitGroup
	for _, s := range streams {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.Close()
		}()
	}
	wg.Wait()
	p.wg.Wait()
	p.tracker.Close()
	return nil
}
