package p2pstream

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/p2pstream/p2pstream/internal/wire"
)

// handshake returns this peer's handshake for the stream.
func (s *Stream) handshake() *wire.Handshake {
	hs := &wire.Handshake{
		Version:    wire.Version,
		Source:     s.source,
		Stream:     s.id,
		Peer:       s.peer.id,
		ListenAddr: s.peer.ln.Addr().String(),
	}
	_, _ = rand.Read(hs.Nonce[:]) // never fails (crypto/rand)
	return hs
}

// accept answers an incoming connection whose handshake named this stream.
func (s *Stream) accept(nc net.Conn, r *wire.Reader, hs *wire.Handshake) {
	if err := s.admit(PeerID(hs.Peer), nc.RemoteAddr().String(), true); err != nil {
		s.log.Debug("refused incoming peer", "remote", nc.RemoteAddr(), "err", err)
		nc.Close()
		return
	}
	ours := s.handshake()
	if err := wire.WriteMessage(nc, ours); err != nil {
		nc.Close()
		return
	}
	s.register(newConn(s, nc, r, hs, ours.Nonce, PeerID(hs.Peer), ""))
}

// dial connects to a peer found through the tracker.
func (s *Stream) dial(addr string) {
	defer func() {
		s.mu.Lock()
		delete(s.dialing, addr)
		s.mu.Unlock()
	}()
	ctx, cancel := context.WithTimeout(s.ctx, handshakeWait)
	defer cancel()
	nc, err := s.peer.transport().Dial(ctx, addr)
	if err != nil {
		s.log.Debug("dial failed", "addr", addr, "err", err)
		return
	}
	ours := s.handshake()
	hs, r, err := s.clientHandshake(nc, ours)
	if err != nil {
		// Most often the peer refused us (it is full, or has not joined
		// the stream yet): do not ask again at every tracker answer. In
		// the swarm lab, 1,000 viewers redialling the full source every
		// announce made 11,000 failed handshakes in 30 s.
		s.log.Debug("handshake failed", "addr", addr, "err", err)
		nc.Close()
		s.mu.Lock()
		s.refusedLocked(addr, time.Now())
		s.mu.Unlock()
		return
	}
	if err := s.admit(PeerID(hs.Peer), addr, false); err != nil {
		nc.Close()
		return
	}
	s.mu.Lock()
	delete(s.refused, addr) // let us in: a later refusal starts afresh
	s.mu.Unlock()
	s.register(newConn(s, nc, r, hs, ours.Nonce, s.peer.id, addr))
}

// clientHandshake sends our handshake, ours, on a connection we dialled
// and reads the peer's answer.
func (s *Stream) clientHandshake(nc net.Conn, ours *wire.Handshake) (*wire.Handshake, *wire.Reader, error) {
	_ = nc.SetDeadline(time.Now().Add(handshakeWait))
	if err := wire.WriteMessage(nc, ours); err != nil {
		return nil, nil, err
	}
	r := wire.NewReaderSize(nc, readBuffer, s.peer.wireLimits())
	m, err := r.ReadMessage()
	if err != nil {
		return nil, nil, err
	}
	hs, ok := m.(*wire.Handshake)
	if !ok {
		return nil, nil, fmt.Errorf("p2pstream: peer answered with %v, not a handshake", m.Type())
	}
	if StreamID(hs.Stream) != s.id {
		return nil, nil, errors.New("p2pstream: peer answered for another stream")
	}
	return hs, r, nil
}

// maxConns bounds the connections of one stream: four times MaxPeers, and
// at a live source at least sourceConns.
func (s *Stream) maxConns() int {
	n := 4 * s.peer.maxPeers()
	if s.source && s.kind == KindLive {
		n = max(n, sourceConns)
	}
	return n
}

// goneLocked reports whether c is closed or no longer one of s's
// connections.
func (s *Stream) goneLocked(c *conn) bool { return c.closed() || s.conns[c.id] != c }

// sourceConns is how many connections a live source accepts at least. Each
// viewer dials the source, its last resort, and a stripe's root's children
// that can reach it take its place at once when the root leaves
// (rootLeftLocked); one that cannot waits for the tree to re-form below
// the new root, and its subtree with it (swarm lab, 30% churn per minute:
// with 32 connections, two of four orphans could not, and 94 viewers lost
// the stripe). The source's connections cost it a frame per chunk each.
const sourceConns = 256

// admit decides whether a peer may connect: addr is the address we dialled,
// or the remote address of an incoming connection.
func (s *Stream) admit(id PeerID, addr string, incoming bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed:
		return ErrClosed
	case id == s.peer.id:
		return errors.New("connected to self")
	case s.bannedLocked(id, addr, time.Now()):
		return errors.New("banned")
	case incoming && len(s.conns) >= s.maxConns():
		return fmt.Errorf("too many peers (%d)", len(s.conns))
	}
	return nil
}

// register adds an established connection and starts its goroutines. Of two
// connections between the same pair of peers (both dialled at once), the one
// dialled by the smaller peer ID survives, on both sides.
func (s *Stream) register(c *conn) {
	_ = c.nc.SetDeadline(time.Time{})
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		c.close(errStreamClosed)
		return
	}
	if old, ok := s.conns[c.id]; ok {
		if old.host != c.host && !old.closed() {
			// Not the same peer dialling back: someone claims its ID.
			s.mu.Unlock()
			c.close(errors.New("p2pstream: peer ID already connected from another host"))
			return
		}
		if old.dialer != c.dialer && lessID(old.dialer, c.dialer) {
			s.mu.Unlock()
			c.close(errors.New("duplicate connection"))
			return
		}
		old.close(errors.New("duplicate connection"))
		s.dropLocked(old)
	}
	s.conns[c.id] = c
	if c.proof != nil {
		c.send(c.proof) // first: see sourceProof
		c.proof = nil
	}
	if bm := s.bufferMapLocked(); bm != nil {
		c.send(bm)
	}
	if s.st == nil {
		c.send(&wire.ManifestRequest{})
	}
	if s.treesOn() && s.tree.toldOK {
		t := s.tree.told
		c.told, c.toldAt = t, time.Now()
		c.send(&t)
	}
	// Counted while s.mu shows the stream open: Close sets closed under
	// s.mu before it waits, so it cannot wait while these are being added
	// (register also runs on the peer's accept goroutines, outside s.wg).
	s.wg.Add(2)
	s.mu.Unlock()
	s.log.Debug("connected", "peer", c, "claims source", c.claim)
	go func() {
		defer s.wg.Done()
		c.readLoop()
		s.removeConn(c)
	}()
	go func() {
		defer s.wg.Done()
		c.writeLoop(s.ctx)
	}()
}

func lessID(a, b PeerID) bool { return string(a[:]) < string(b[:]) }

// removeConn forgets a closed connection and re-requests what it owed us.
func (s *Stream) removeConn(c *conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conns[c.id] != c {
		return
	}
	s.dropLocked(c)
	if !isQuietClose(c.err) && !errors.Is(c.err, net.ErrClosed) {
		s.log.Debug("disconnected", "peer", c, "err", c.err)
	}
	if !s.closed {
		s.uploadFreedLocked() // c's queued uploads left the count
		s.scheduleSoon()
		notify(s.redial)
	}
}

// dropLocked removes c from the stream and releases its requests.
func (s *Stream) dropLocked(c *conn) {
	if s.conns[c.id] == c {
		delete(s.conns, c.id)
		s.nqueued -= len(c.queued)
		s.rootLeftLocked(c, time.Now())
	}
	for seq := range c.inflight {
		s.forgetRequestLocked(c, seq)
	}
	if c.topValid && s.knownValid && c.top >= s.known {
		s.recomputeKnownLocked() // c may have lied about the live edge
	}
}

// connectPeers dials peers from a tracker answer, up to MaxPeers outgoing
// connections. The source is always dialled: it is everyone's last resort.
func (s *Stream) connectPeers(peers []PeerAddr) {
	if s.source {
		return // the publisher waits to be dialled
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	out := len(s.dialing)
	for _, c := range s.conns {
		if c.dialer == s.peer.id {
			out++
		}
	}
	now := time.Now()
	for addr, r := range s.refused {
		if now.After(r.until.Add(maxRefusedWait)) {
			delete(s.refused, addr) // long past: a refusal in a row no more
		}
	}
	for _, pa := range peers {
		if pa.ID == s.peer.id || s.bannedLocked(pa.ID, pa.Addr, now) || s.dialing[pa.Addr] {
			continue
		}
		if r, ok := s.refused[pa.Addr]; ok && now.Before(r.until) {
			continue
		}
		if _, ok := s.conns[pa.ID]; ok {
			continue
		}
		if !pa.Source && out >= s.peer.maxPeers()+s.extraDialsLocked(now) {
			continue
		}
		s.dialing[pa.Addr] = true
		out++
		addr := pa.Addr
		s.goFunc(func() { s.dial(addr) })
	}
}

// bufferMapLocked describes the chunks this peer holds, or nil if none.
func (s *Stream) bufferMapLocked() *wire.BufferMap {
	if s.st == nil {
		return nil
	}
	lo, hi := s.st.bounds()
	if hi <= lo {
		return nil
	}
	bm := wire.NewBufferMap(lo, uint32(hi-lo))
	for seq := lo; seq < hi; seq++ {
		if s.st.has(seq) {
			bm.Set(seq)
		}
	}
	return bm
}
