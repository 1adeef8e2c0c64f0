package p2pstream

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/p2pstream/p2pstream/internal/wire"
)

// Defences against peers that misbehave: bans, strikes for requests that are
// never answered, and limits on connections per remote IP. docs/RELIABILITY.md
// lists every bad input and fault they were tested against.

// Default limits; see the Peer fields of the same names.
const (
	defaultMaxIncoming   = 256
	defaultMaxConnsPerIP = 8
	defaultMaxServe      = 32
)

const (
	// maxStrikes is how many requests in a row a peer may leave unanswered
	// (timed out, with no verified chunk from it in between) before it is
	// dropped and refused for strikeBan. A peer that advertises chunks it
	// does not have, or accepts requests and never answers, is caught so.
	// The source gets more: it is everyone's last resort.
	maxStrikes       = 4
	maxSourceStrikes = 6
	strikeBan        = 30 * time.Second
	// maxSeen bounds, in live windows, how many advertised chunks a stream
	// remembers before its first chunk arrives (after that the window
	// bounds them).
	maxSeenWindows = 4
)

// banKey names a banned peer: its ID, claimed in the handshake, only counts
// together with the host it connected from, so a peer that claims another's
// ID gets only itself banned.
type banKey struct {
	id   PeerID
	host string
}

// hostOf returns the host part of addr ("10.0.0.1:7000" -> "10.0.0.1"), or
// addr itself if it has no port.
func hostOf(addr string) string {
	h, _, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	return h
}

// ban drops a peer that sent a bad chunk or a malformed frame, and refuses
// it from now on.
func (s *Stream) ban(c *conn, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.banLocked(c, err)
}

func (s *Stream) banLocked(c *conn, err error) { s.banForLocked(c, err, 0) }

// banForLocked closes c and refuses its peer for d (forever if d is 0).
func (s *Stream) banForLocked(c *conn, err error, d time.Duration) {
	var until time.Time // zero: forever
	if d > 0 {
		until = time.Now().Add(d)
	}
	key := banKey{c.id, c.host}
	old, ok := s.banned[key]
	if ok && old.IsZero() {
		c.close(err)
		return // banned for good already
	}
	if !ok || !until.IsZero() && until.After(old) || until.IsZero() {
		s.banned[key] = until
		if c.addr != "" {
			s.bannedAt[c.addr] = until
		}
	}
	if !ok || time.Now().After(old) {
		// Not banned at the moment: a new ban.
		s.counters.bans++
		s.log.Warn("banned peer", "peer", c.String(), "for", d, "err", err)
	}
	c.close(err)
}

// bannedLocked reports whether a peer (id, reached at or connecting from
// addr) is refused now.
func (s *Stream) bannedLocked(id PeerID, addr string, now time.Time) bool {
	active := func(until time.Time, ok bool) bool { return ok && (until.IsZero() || now.Before(until)) }
	until, ok := s.banned[banKey{id, hostOf(addr)}]
	if active(until, ok) {
		return true
	}
	until, ok = s.bannedAt[addr]
	return active(until, ok)
}

// fault judges the error that ended c's reading: a malformed or unexpected
// frame bans the peer; a connection that merely broke (even inside a frame)
// does not.
func (s *Stream) fault(c *conn, err error) {
	var pe *ProtocolError
	if errors.As(err, &pe) && !errors.Is(err, io.ErrUnexpectedEOF) {
		s.ban(c, err)
	}
}

// requestTimedOutLocked is called by the scheduler when the request for seq
// to c timed out. Too many in a row, with no verified chunk from c in
// between (a late answer to one of them counts), and c is dropped.
func (s *Stream) requestTimedOutLocked(c *conn, seq uint64) {
	c.strikes++
	c.late[seq] = struct{}{} // at most maxSourceStrikes entries: cleared by a chunk, or c is dropped
	limit := maxStrikes
	if c.source {
		limit = maxSourceStrikes
	}
	if c.strikes >= limit {
		s.banForLocked(c, fmt.Errorf("p2pstream: %d requests in a row unanswered", c.strikes), strikeBan)
	}
}

// recomputeKnownLocked resets the newest advertised live chunk from the
// peers still connected, after one that may have lied about it left.
func (s *Stream) recomputeKnownLocked() {
	if s.st == nil || !s.st.live() {
		return
	}
	s.known, s.knownValid = 0, false
	if s.st.len() > 0 {
		s.known, s.knownValid = s.st.newest, true
	}
	for _, c := range s.conns {
		if c.topValid && (!s.knownValid || c.top > s.known) {
			s.known, s.knownValid = c.top, true
		}
	}
}

// forgetAdvertised forgets which live chunks the peer advertised. s.mu is
// held.
func (c *conn) forgetAdvertised() {
	clear(c.has)
	c.top, c.topValid = 0, false
}

// noteTopLocked records that c advertised live chunk seq, and keeps c.has
// to about two of our windows below the newest chunk c advertised: older
// chunks are of no use to us (and an honest peer with our window holds one).
func (s *Stream) noteTopLocked(c *conn, seq uint64) {
	if !c.topValid || seq > c.top {
		c.top, c.topValid = seq, true
	}
	w := s.st.window
	if uint64(len(c.has)) <= 2*w || c.top < w {
		return
	}
	for q := range c.has {
		if q+w <= c.top {
			delete(c.has, q)
		}
	}
}

// Peer-level limits on incoming connections.

func (p *Peer) maxIncoming() int { return positiveOr(p.MaxIncoming, defaultMaxIncoming) }

func (p *Peer) maxConnsPerIP() int { return positiveOr(p.MaxConnsPerIP, defaultMaxConnsPerIP) }

func (p *Peer) maxServe() int { return positiveOr(p.MaxServe, defaultMaxServe) }

// wireLimits bounds every frame a peer may send us.
func (p *Peer) wireLimits() wire.Limits {
	return wire.Limits{MaxChunk: positiveOr(p.MaxChunk, MaxChunkSize)}
}

// admitIncoming counts an accepted connection against MaxIncoming and
// MaxConnsPerIP. It returns the connection to use, which gives its slot back
// when closed, or nil if a limit is reached (then nc is closed). Loopback
// addresses have no per-IP limit: everything on one machine shares them.
func (p *Peer) admitIncoming(nc net.Conn) net.Conn {
	host := hostOf(nc.RemoteAddr().String())
	ip := net.ParseIP(host)
	perIP := ip == nil || !ip.IsLoopback()
	p.mu.Lock()
	if p.incoming >= p.maxIncoming() || perIP && p.perIP[host] >= p.maxConnsPerIP() {
		n, k := p.incoming, p.perIP[host]
		p.mu.Unlock()
		p.logger().Debug("refused connection: limit reached", "remote", host, "incoming", n, "from this IP", k)
		nc.Close()
		return nil
	}
	p.incoming++
	if p.perIP == nil {
		p.perIP = make(map[string]int)
	}
	p.perIP[host]++
	p.mu.Unlock()
	return &countedConn{Conn: nc, release: func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		p.incoming--
		if p.perIP[host]--; p.perIP[host] <= 0 {
			delete(p.perIP, host)
		}
	}}
}

// countedConn gives its connection-limit slot back when it is closed.
type countedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *countedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

// rawConn returns the connection under a countedConn, so writes can use
// writev (net.Buffers) where the transport supports it.
func rawConn(nc net.Conn) net.Conn {
	if c, ok := nc.(*countedConn); ok {
		return c.Conn
	}
	return nc
}

// liveUploadTimeout is how long writing one live chunk to a peer may take.
func (s *Stream) liveUploadTimeout() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return max(8*s.chunkDuration(), 4*time.Second)
}
