package adversary

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/p2pstream/p2pstream/internal/wire"
)

// session is one adversary connection. Its goroutine owns it.
type session struct {
	p        *Peer
	nc       net.Conn
	r        *wire.Reader
	bad      int64 // bad frames sent on this connection
	firstBad time.Time
	asked    int   // requests for real chunks sent to the honest peer
	told     bool  // a Replayer advertised its chunks
	feed     uint8 // stripes the honest peer subscribed to (Config.Trees)
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
		s.p.firstBad.CompareAndSwap(0, s.firstBad.UnixNano())
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
	case s.p.cfg.Kind == Replayer:
		// Advertises once it holds a real chunk to replay (gotReal):
		// asked before, it could only leave requests unanswered.
	default:
		// Pushers too: the source claim they make is not believed without
		// a proof they cannot make, so they are asked like anyone else.
		if err := s.advertise(); err != nil {
			return
		}
	}
	if s.p.cfg.Trees && s.offerFeeds() != nil {
		return
	}
	for {
		m, err := s.r.ReadMessage()
		if err != nil {
			return
		}
		switch m := m.(type) {
		case *wire.Subscribe:
			if s.p.cfg.Trees {
				if m.Mask != 0 {
					s.p.Subscribed.Add(1)
				} else if s.feed != 0 {
					s.p.Dropped.Add(1)
				}
				s.feed = m.Mask
				if s.write(&wire.Feed{Mask: m.Mask}) != nil {
					return
				}
			}
		case *wire.Have:
			s.sawEdge(m.Seq)
			if s.p.cfg.Kind.Pushes() {
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
			s.p.Asked.Add(1)
			if err := s.request(m.Seq); err != nil {
				return
			}
		case *wire.RequestBack: // answered as a Request: in order
			s.p.Asked.Add(1)
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
			return s.pushPieces(real, true)
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
	if s.feed != 0 {
		return s.pushPieces(c, false)
	}
	return s.write(c)
}

// offerFeeds advertises the adversary as a stripe-tree parent one level
// below the source in every stripe, with room for children.
func (s *session) offerFeeds() error {
	t := &wire.Tree{Free: 5}
	for i := range t.Depth {
		t.Depth[i] = wire.NoDepth
		if i < 4 {
			t.Depth[i] = 1
		}
	}
	return s.write(t)
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
