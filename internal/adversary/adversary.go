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
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
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
// publishes the stream: a viewer accepts the source's chunks unasked, and
// starts where the source's advertisements say.
func (k Kind) claimsSource() bool { return k == Polluter || k == Forger || k == Replayer || k == Liar }

// pushes reports whether the kind pushes a bad chunk, unasked, for every
// chunk a viewer says it got.
func (k Kind) pushes() bool { return k == Polluter || k == Forger || k == Replayer }

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
	// maxBad is the most bad frames sent on one connection before the
	// honest peer closed it.
	maxBad atomic.Int64
	// maxDelay is the longest time, in nanoseconds, from a connection's
	// first bad frame to the honest peer closing it.
	maxDelay atomic.Int64

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

// session is one adversary connection. Its goroutine owns it.
type session struct {
	p        *Peer
	nc       net.Conn
	r        *wire.Reader
	bad      int64 // bad frames sent on this connection
	firstBad time.Time
	asked    int // requests for real chunks sent to the honest peer
	asm      assembler
	wmu      sync.Mutex
}

func (s *session) write(m wire.Message) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	_ = s.nc.SetWriteDeadline(time.Now().Add(10 * time.Second))
	return wire.WriteMessage(s.nc, m)
}

func (s *session) writeRaw(b []byte) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	_ = s.nc.SetWriteDeadline(time.Now().Add(10 * time.Second))
	_, err := s.nc.Write(b)
	return err
}

func (s *session) badFrame() {
	if s.bad == 0 {
		s.firstBad = time.Now()
	}
	s.bad++
	s.p.Bad.Add(1)
}

// answer reads the honest peer's frames: it learns the live edge from
// advertisements, fetches a few real chunks to abuse, and answers requests
// the adversary's way.
func (s *session) answer() {
	switch {
	case s.p.cfg.Kind == Liar:
		if err := s.lie(); err != nil {
			return
		}
	case s.p.cfg.Kind.pushes():
		// Advertise nothing, so the viewer tells us of every chunk it gets,
		// and push a bad one for the next seq.
	default:
		if err := s.advertise(); err != nil {
			return
		}
	}
	for {
		m, err := s.r.ReadMessage()
		if err != nil {
			return
		}
		switch m := m.(type) {
		case *wire.Have:
			s.sawEdge(m.Seq)
			if s.p.cfg.Kind.pushes() {
				if err := s.request(m.Seq + 1); err != nil {
					return
				}
			}
		case *wire.BufferMap:
			for i := uint64(0); i < uint64(m.N); i++ {
				if m.Has(m.Base + i) {
					s.sawEdge(m.Base + i)
				}
			}
		case *wire.Chunk:
			if s.gotReal(m) != nil {
				return
			}
		case *wire.Head, *wire.Piece:
			if c := s.asm.add(m); c != nil && s.gotReal(c) != nil {
				return
			}
		case *wire.Ping:
			if s.write(&wire.Pong{Nonce: m.Nonce}) != nil {
				return
			}
		case *wire.Request:
			if err := s.request(m.Seq); err != nil {
				return
			}
		}
	}
}

// sawEdge notes an advertised seq and, now and then, asks for it to have
// real chunks to abuse.
func (s *session) sawEdge(seq uint64) {
	p := s.p
	p.mu.Lock()
	if seq > p.edge {
		p.edge = seq
	}
	p.mu.Unlock()
	if (s.asked < 3 || p.cfg.Kind == Polluter) && p.cfg.Kind != Liar {
		s.asked++
		_ = s.write(&wire.Request{Seq: seq})
	}
}

// advertise claims to hold a window of chunks around the live edge.
func (s *session) advertise() error {
	p := s.p
	p.mu.Lock()
	edge := p.edge
	p.mu.Unlock()
	base := uint64(0)
	if edge > 64 {
		base = edge - 64
	}
	bm := wire.NewBufferMap(base, 128)
	for i := uint64(0); i < 128; i++ {
		bm.Set(base + i)
	}
	return s.write(bm)
}

// lie advertises chunks far beyond the live edge, then keeps announcing
// new ones it does not have.
func (s *session) lie() error {
	if err := s.advertise(); err != nil {
		return err
	}
	s.p.goFunc(func() {
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for i := uint64(1); ; i++ {
			select {
			case <-s.p.ctx.Done():
				return
			case <-t.C:
			}
			s.p.mu.Lock()
			seq := s.p.edge + 8 + i
			s.p.mu.Unlock()
			if s.write(&wire.Have{Seq: seq}) != nil {
				return
			}
		}
	})
	return nil
}

// request answers a request for seq the adversary's way.
func (s *session) request(seq uint64) error {
	p := s.p
	real := p.older(seq + 1)
	var c *wire.Chunk
	switch p.cfg.Kind {
	case Liar:
		s.badFrame() // ignored
		return nil
	case Polluter:
		if real != nil && real.Seq == seq {
			s.badFrame()
			return s.pollutePieces(real)
		}
		c = &wire.Chunk{Seq: seq, Timestamp: time.Now().UnixMicro(), Flags: 1, Data: randBytes(188 * 8), Sig: randBytes(64)}
		if real != nil {
			c = &wire.Chunk{Seq: seq, Timestamp: real.Timestamp, Flags: real.Flags, Sig: real.Sig, Data: append([]byte(nil), real.Data...)}
			if len(c.Data) == 0 {
				c.Data = []byte{0x47}
			} else {
				c.Data[len(c.Data)/2] ^= 0x01
			}
		}
	case Forger:
		data := randBytes(188 * 8)
		if real != nil {
			data = real.Data
		}
		c = &wire.Chunk{Seq: seq, Timestamp: time.Now().UnixMicro(), Flags: 1, Data: data}
		c.Sig = ed25519.Sign(p.key, signedBytes(p.key.Public().(ed25519.PublicKey), c))
	case Replayer:
		old := p.older(seq)
		if old == nil {
			return nil // nothing to replay yet: leave the request unanswered
		}
		c = &wire.Chunk{Seq: seq, Timestamp: old.Timestamp, Flags: old.Flags, Data: old.Data, Sig: old.Sig}
	case SlowLoris:
		s.badFrame()
		return s.trickle()
	}
	s.badFrame()
	return s.write(c)
}

// trickle starts a chunk frame of 64 KiB and sends it a byte every 200 ms.
func (s *session) trickle() error {
	hdr := binary.BigEndian.AppendUint32(nil, 64<<10)
	hdr = append(hdr, byte(wire.TypeChunk))
	if err := s.writeRaw(hdr); err != nil {
		return err
	}
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-s.p.ctx.Done():
			return s.p.ctx.Err()
		case <-t.C:
		}
		if err := s.writeRaw([]byte{0}); err != nil {
			return err
		}
	}
}

// garbage writes random bytes until the honest peer hangs up.
func (s *session) garbage() {
	s.p.goFunc(func() { _, _ = io.Copy(io.Discard, s.nc) })
	for s.p.ctx.Err() == nil {
		s.badFrame()
		if s.writeRaw(randBytes(512)) != nil {
			return
		}
	}
}

// flood sends requests, haves and pings without reading, then a frame
// whose length is near 2^32.
func (s *session) flood() {
	var b []byte
	for i := uint64(0); i < 4096; i++ {
		b = wire.AppendFrame(b, &wire.Request{Seq: i})
		b = wire.AppendFrame(b, &wire.Have{Seq: i * 7919})
		b = wire.AppendFrame(b, &wire.Ping{Nonce: i})
		if len(b) > 32<<10 {
			s.badFrame()
			if s.writeRaw(b) != nil {
				return
			}
			b = b[:0]
		}
	}
	hdr := binary.BigEndian.AppendUint32(nil, 0xFFFFFFF0)
	hdr = append(hdr, byte(wire.TypeChunk))
	s.badFrame()
	if s.writeRaw(append(hdr, randBytes(1024)...)) != nil {
		return
	}
	// Wait for the honest peer to hang up.
	_, _ = io.Copy(io.Discard, s.nc)
}

func storeMax(v *atomic.Int64, n int64) {
	for {
		old := v.Load()
		if n <= old || v.CompareAndSwap(old, n) {
			return
		}
	}
}

// keep caches a real chunk (at most 32).
func (p *Peer) keep(c *wire.Chunk) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.chunks[c.Seq] = c
	if len(p.chunks) > 32 {
		lo := c.Seq
		for seq := range p.chunks {
			lo = min(lo, seq)
		}
		delete(p.chunks, lo)
	}
}

// older returns the newest cached real chunk before seq, or nil.
func (p *Peer) older(seq uint64) *wire.Chunk {
	p.mu.Lock()
	defer p.mu.Unlock()
	var best *wire.Chunk
	for s, c := range p.chunks {
		if s < seq && (best == nil || s > best.Seq) {
			best = c
		}
	}
	return best
}

// signedBytes mirrors what a live chunk's signature covers (chunk.go), so
// a Forger's chunks are well signed, only by the wrong key.
func signedBytes(id ed25519.PublicKey, c *wire.Chunk) []byte {
	const tag = "p2pstream chunk v2\x00"
	b := append([]byte(tag), id...)
	b = binary.BigEndian.AppendUint64(b, c.Seq)
	b = binary.BigEndian.AppendUint64(b, uint64(c.Timestamp))
	b = append(b, c.Flags)
	b = binary.BigEndian.AppendUint32(b, uint32(len(c.Data)))
	sum := sha256.Sum256(wire.PieceHashes(c.Data))
	return append(b, sum[:]...)
}

func randBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}
