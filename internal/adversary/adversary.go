// Package adversary provides hostile peers for tests: each speaks the peer
// protocol well enough to be connected to, then misbehaves in one way. A
// p2pstream peer must survive all of them, deliver only the broadcaster's
// bytes, and ban them quickly. docs/RELIABILITY.md lists what each one tries
// and what defeats it.
package adversary

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/p2pstream/p2pstream"
	"github.com/p2pstream/p2pstream/internal/wire"
)

// Kind is one way of misbehaving.
type Kind int

// The kinds of adversary.
const (
	// Polluter answers requests with well-formed chunk frames carrying wrong
	// data under a real chunk's signature.
	Polluter Kind = iota
	// Forger answers requests with chunks signed by another key: its own
	// stream's, for its own stream ID.
	Forger
	// Replayer answers requests with a real, correctly signed chunk of an
	// older seq, relabelled as the requested one, and pushes real old
	// chunks and duplicates nobody asked for.
	Replayer
	// Liar advertises every chunk up to far past the live edge and answers
	// no request.
	Liar
	// SlowLoris accepts requests and answers each by trickling the start of
	// a chunk frame, a byte at a time, never finishing it.
	SlowLoris
	// Garbage sends random bytes after a valid handshake.
	Garbage
	// Flooder sends thousands of requests, haves and pings without reading
	// the answers, then a frame whose length is near 2^32.
	Flooder
	numKinds
)

// Kinds lists every kind, for tests that mix them.
var Kinds = []Kind{Polluter, Forger, Replayer, Liar, SlowLoris, Garbage, Flooder}

func (k Kind) String() string {
	switch k {
	case Polluter:
		return "polluter"
	case Forger:
		return "forger"
	case Replayer:
		return "replayer"
	case Liar:
		return "liar"
	case SlowLoris:
		return "slow loris"
	case Garbage:
		return "garbage"
	case Flooder:
		return "flooder"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// claimsSource reports whether the kind says in its handshake that it
// publishes the stream, hoping a viewer takes its chunks unasked and starts
// where its advertisements say. It does not send the proof a viewer needs
// from a live source (wire.SourceProof), so the claim gains it nothing
// (relaying the publisher's proof is not among the kinds).
func (k Kind) claimsSource() bool { return k == Polluter || k == Forger || k == Replayer || k == Liar }

// Pushes reports whether the kind also pushes a bad chunk, unasked, for
// every chunk a viewer says it got (ignored: it is not the source; with
// Config.Trees, taken from it by the viewers that subscribed to it).
func (k Kind) Pushes() bool { return k == Polluter || k == Forger || k == Replayer }

// Config describes one adversary.
type Config struct {
	Kind   Kind
	Stream p2pstream.StreamID
	// Transport is the host the adversary runs on.
	Transport p2pstream.Transport
	// Tracker is the tracker's URL. The adversary announces itself there
	// every Interval, so viewers find and dial it, and dials up to Dial of
	// the peers it learns. If empty, it only accepts connections.
	Tracker  string
	Dial     int
	Interval time.Duration // if zero, 1 s
	// Trees makes the adversary offer itself as a stripe-tree parent to
	// peers in the stripe trees (the default, unless p2pstream.Peer.Pull):
	// it advertises depth 1 in every stripe with room, grants every
	// Subscribe, and pushes what it would answer a request with to its
	// subscribers as heads and pieces.
	Trees bool
}

// Peer is a running adversary. Its counters are safe to read at any time.
type Peer struct {
	cfg    Config
	id     p2pstream.PeerID
	ln     net.Listener
	key    ed25519.PrivateKey // the Forger's own key
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	// Conns counts connections that completed a handshake.
	Conns atomic.Int64
	// Bad counts bad frames sent: wrong chunks, ignored or trickled
	// requests, garbage writes, flood frames.
	Bad atomic.Int64
	// Asked counts the chunk requests received (and answered the
	// adversary's way).
	Asked atomic.Int64
	// Subscribed counts the Subscribes granted (Config.Trees): the times
	// a viewer took the adversary as a tree parent.
	Subscribed atomic.Int64
	// Dropped counts the Subscribes that ended every feed the adversary
	// gave: the times a viewer left it as a parent.
	Dropped atomic.Int64
	// maxBad is the most bad frames sent on one connection before the
	// honest peer closed it.
	maxBad atomic.Int64
	// maxDelay is the longest time, in nanoseconds, from a connection's
	// first bad frame to the honest peer closing it.
	maxDelay atomic.Int64
	// firstBad is when the first bad frame was sent, Unix ns; 0 if none.
	firstBad atomic.Int64

	mu     sync.Mutex // guards below
	chunks map[uint64]*wire.Chunk
	edge   uint64 // newest seq seen advertised
	dialed map[string]bool
	conns  map[net.Conn]bool
}

// adversaries holds the IDs of every running adversary: they do not
// attack each other, so their counters measure only what honest peers let
// them do.
var adversaries sync.Map // p2pstream.PeerID -> bool

// Start starts an adversary. Close stops it.
func Start(cfg Config) (*Peer, error) {
	if cfg.Kind < 0 || cfg.Kind >= numKinds {
		return nil, fmt.Errorf("adversary: unknown kind %d", cfg.Kind)
	}
	if cfg.Interval <= 0 {
		cfg.Interval = time.Second
	}
	ln, err := cfg.Transport.Listen(":0")
	if err != nil {
		return nil, err
	}
	p := &Peer{cfg: cfg, ln: ln, chunks: make(map[uint64]*wire.Chunk), dialed: make(map[string]bool), conns: make(map[net.Conn]bool)}
	_, _ = rand.Read(p.id[:])
	adversaries.Store(p.id, true)
	_, p.key, _ = ed25519.GenerateKey(rand.Reader)
	p.ctx, p.cancel = context.WithCancel(context.Background())
	p.goFunc(p.acceptLoop)
	if cfg.Tracker != "" {
		p.goFunc(p.announceLoop)
	}
	return p, nil
}

// Kind returns the adversary's kind.
func (p *Peer) Kind() Kind { return p.cfg.Kind }

// Addr returns the address the adversary listens on.
func (p *Peer) Addr() net.Addr { return p.ln.Addr() }

// MaxBanDelay returns the longest time from a connection's first bad frame
// to the honest peer closing it.
func (p *Peer) MaxBanDelay() time.Duration { return time.Duration(p.maxDelay.Load()) }

// FirstBad returns when the adversary sent its first bad frame, on any
// connection; zero if it sent none.
func (p *Peer) FirstBad() time.Time {
	if ns := p.firstBad.Load(); ns != 0 {
		return time.Unix(0, ns)
	}
	return time.Time{}
}

// MaxBadPerConn returns the most bad frames the adversary sent on one
// connection before the honest peer closed it: how soon it was banned.
func (p *Peer) MaxBadPerConn() int64 { return p.maxBad.Load() }

// Close stops the adversary and waits for its goroutines.
func (p *Peer) Close() error {
	p.cancel()
	p.ln.Close()
	p.mu.Lock()
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
	adversaries.Delete(p.id)
	return nil
}

func (p *Peer) goFunc(f func()) {
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		f()
	}()
}

func (p *Peer) acceptLoop() {
	for {
		nc, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.goFunc(func() { p.serve(nc, false) })
	}
}

func (p *Peer) announceLoop() {
	tc := &p2pstream.TrackerClient{URL: p.cfg.Tracker, Transport: p.cfg.Transport}
	defer tc.Close()
	t := time.NewTicker(p.cfg.Interval)
	defer t.Stop()
	for {
		ctx, cancel := context.WithTimeout(p.ctx, 5*time.Second)
		resp, err := tc.Announce(ctx, p2pstream.Announce{Stream: p.cfg.Stream, Peer: p.id, Addr: p.ln.Addr().String()})
		cancel()
		if err == nil {
			p.dialSome(resp.Peers)
		}
		select {
		case <-p.ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (p *Peer) dialSome(peers []p2pstream.PeerAddr) {
	for _, pa := range peers {
		p.mu.Lock()
		if len(p.dialed) >= p.cfg.Dial || p.dialed[pa.Addr] || pa.ID == p.id {
			p.mu.Unlock()
			continue
		}
		p.dialed[pa.Addr] = true
		p.mu.Unlock()
		addr := pa.Addr
		p.goFunc(func() {
			ctx, cancel := context.WithTimeout(p.ctx, 5*time.Second)
			nc, err := p.cfg.Transport.Dial(ctx, addr)
			cancel()
			if err != nil {
				return
			}
			p.serve(nc, true)
		})
	}
}

// track registers nc so Close can close it; it returns false if the
// adversary is closing.
func (p *Peer) track(nc net.Conn, on bool) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !on {
		delete(p.conns, nc)
		return true
	}
	if p.ctx.Err() != nil {
		return false
	}
	p.conns[nc] = true
	return true
}

// serve runs one connection: the handshake, then the adversary's behaviour.
func (p *Peer) serve(nc net.Conn, dialer bool) {
	defer nc.Close()
	if !p.track(nc, true) {
		return
	}
	defer p.track(nc, false)
	// Most kinds also claim to be the source, whose chunks a viewer accepts
	// unasked and whose advertisements pick a new viewer's start.
	claimSource := p.cfg.Kind.claimsSource()
	hs := &wire.Handshake{Version: wire.Version, Source: claimSource, Stream: p.cfg.Stream, Peer: p.id, ListenAddr: p.ln.Addr().String()}
	r := wire.NewReader(nc, wire.Limits{})
	_ = nc.SetDeadline(time.Now().Add(5 * time.Second))
	if dialer {
		if wire.WriteMessage(nc, hs) != nil {
			return
		}
	}
	m, err := r.ReadMessage()
	if err != nil {
		return
	}
	theirs, ok := m.(*wire.Handshake)
	if !ok {
		return
	}
	if _, ok := adversaries.Load(p2pstream.PeerID(theirs.Peer)); ok {
		return
	}
	if !dialer && wire.WriteMessage(nc, hs) != nil {
		return
	}
	_ = nc.SetDeadline(time.Time{})
	p.Conns.Add(1)
	s := &session{p: p, nc: nc, r: r}
	defer func() {
		if p.ctx.Err() != nil {
			return // closed by the test, not by the honest peer
		}
		storeMax(&p.maxBad, s.bad)
		if !s.firstBad.IsZero() {
			storeMax(&p.maxDelay, int64(time.Since(s.firstBad)))
		}
	}()
	switch p.cfg.Kind {
	case Garbage:
		s.garbage()
	case Flooder:
		s.flood()
	default:
		s.answer()
	}
}
