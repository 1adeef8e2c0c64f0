package p2pstream

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"time"

	"github.com/p2pstream/p2pstream/internal/wire"
)

// Live chunks travel in pieces (wire.Head, then wire.Piece frames) so that a
// peer passes each piece on as soon as it has checked it against the
// signed head, instead of waiting for the whole chunk. Store-and-forward of
// 1 s chunks costs a hop 0.7 s at 1.5x the bitrate; a 4 KiB piece at
// 2 Mbit/s costs it about 11 ms a child. A peer advertises a chunk (Have)
// once it holds its verified head, and serves whatever prefix of pieces it
// has, then the rest as it comes.

// partial is a live chunk being received: its verified head and the pieces
// so far. Guarded by Stream.mu, except the data of received pieces (got),
// which never changes once they are in and which writers, and a part sink
// (deliverNext), read unlocked.
type partial struct {
	head    *wire.Head // verified
	data    []byte
	got     []bool
	n       int            // pieces received
	pulled  int            // pieces received other than down the trees (diagnosis)
	prefix  int            // pieces 0..prefix-1 are all received
	grew    chan struct{}  // closed (and replaced) when prefix grows or the partial ends
	senders map[*conn]bool // connections whose pieces of it are wanted
}

func (p *partial) pieces() int { return len(p.got) }

// pieceLen returns the length of piece i.
func (p *partial) pieceLen(i int) int {
	return len(piece(p.data, i))
}

// piece returns piece i of a chunk's data (wire.PieceBounds).
func piece(data []byte, i int) []byte {
	start, end := wire.PieceBounds(len(data), i)
	return data[start:end]
}

// wake tells the writers relaying p that something changed.
func (p *partial) wake() {
	close(p.grew)
	p.grew = make(chan struct{})
}

// receiveHead starts receiving live chunk h.Seq from c, if it is wanted.
// The head's signature is checked once per chunk; a connection that sends a
// bad one is banned.
func (s *Stream) receiveHead(c *conn, h *wire.Head) error {
	now := time.Now()
	s.mu.Lock()
	c.lastRecv = now
	st := s.st
	if st == nil || !st.live() {
		s.mu.Unlock()
		return &ProtocolError{Frame: wire.TypeHead, Reason: "a head on an on-demand stream"}
	}
	_, requested := c.inflight[h.Seq]
	_, late := c.late[h.Seq]
	if !requested && !late && s.sourceRestartedLocked(c, h.Seq) {
		s.rejoinLocked() // a push of the first chunks of a new run
		st = s.st
	}
	need := st.inWindow(h.Seq) && !st.has(h.Seq) && (requested || c.source || late || c.feeds != 0)
	if p := s.partials[h.Seq]; need && p != nil {
		p.senders[c] = true // its pieces are checked against p's hashes
	}
	known := s.partials[h.Seq] != nil
	var heldSig []byte // a pushed head of a chunk we hold
	if c.feeds != 0 && !requested && !late {
		if ch, ok := st.get(h.Seq); ok {
			heldSig = ch.Sig
		}
	}
	s.mu.Unlock()
	if heldSig != nil && !bytes.Equal(heldSig, h.Sig) {
		// A chunk's head is the same from every honest peer: a tree
		// parent that pushes another for a chunk we hold is checked, so
		// a forger is found out even where its chunks are not needed.
		if err := verifyHead(s.id, h.Seq, h.Timestamp, ChunkFlags(h.Flags), int(h.Size), h.Hashes, h.Sig); err != nil {
			s.ban(c, err)
			return err
		}
	}
	if !need || known {
		return nil
	}
	if err := verifyHead(s.id, h.Seq, h.Timestamp, ChunkFlags(h.Flags), int(h.Size), h.Hashes, h.Sig); err != nil {
		s.ban(c, err)
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.otherRunLocked(st, c, h.Seq, h.Timestamp, 0) {
		return nil
	}
	if p := s.partials[h.Seq]; p != nil || st.has(h.Seq) || !st.inWindow(h.Seq) {
		if p != nil {
			p.senders[c] = true
		}
		return nil
	}
	p := &partial{
		head:    h,
		data:    make([]byte, h.Size),
		got:     make([]bool, wire.Pieces(int(h.Size))),
		grew:    make(chan struct{}),
		senders: map[*conn]bool{c: true},
	}
	s.partials[h.Seq] = p
	if s.log.Enabled(s.ctx, slog.LevelDebug) {
		s.log.Debug("chunk head", "seq", h.Seq, "age", now.Sub(time.UnixMicro(h.Timestamp)))
	}
	if p.pieces() == 0 { // an empty end-of-stream chunk
		s.completeLocked(c, p, now)
		return nil
	}
	if s.treesOn() {
		// Advertised once whole (completeLocked): pulls are repairs,
		// and a peer short of a stripe could not serve them.
		s.noteLiveLocked(h.Seq, now)
	} else {
		s.announceLocked(h.Seq, c)
	}
	s.wakePushesLocked(allStripes)
	return nil
}

// receivePiece checks a piece against its chunk's head and keeps it. A piece
// that does not match bans its sender: an honest peer checks every piece
// before passing it on.
func (s *Stream) receivePiece(c *conn, m *wire.Piece) error {
	now := time.Now()
	s.mu.Lock()
	c.lastRecv = now
	p := s.partials[m.Seq]
	if p == nil || !p.senders[c] {
		s.wastedPieceLocked(c, m, p == nil)
		s.mu.Unlock()
		s.fedDuplicate(c, m, now)
		return nil
	}
	// Compared as uint64 first: int(m.Index) may be negative on 32-bit platforms.
	if uint64(m.Index) >= uint64(p.pieces()) || len(m.Data) != p.pieceLen(int(m.Index)) {
		s.mu.Unlock()
		err := fmt.Errorf("%w: chunk %d: piece %d of %d bytes does not fit a chunk of %d bytes", ErrBadChunk, m.Seq, m.Index, len(m.Data), len(p.data))
		s.ban(c, err)
		return err
	}
	i := int(m.Index)
	if p.got[i] {
		s.wastedPieceLocked(c, m, false)
		s.mu.Unlock()
		s.fedDuplicate(c, m, now)
		return nil
	}
	hashes := p.head.Hashes
	s.mu.Unlock()
	if !pieceMatches(hashes, i, m.Data) {
		err := fmt.Errorf("%w: chunk %d: piece %d does not match its hash", ErrBadChunk, m.Seq, m.Index)
		s.ban(c, err)
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.partials[m.Seq] != p || p.got[i] {
		return nil // completed or dropped meanwhile
	}
	copy(piece(p.data, i), m.Data)
	p.got[i] = true
	p.n++
	if !s.fedLocked(c, i, true, now) {
		p.pulled++
	}
	if p.prefix == i {
		for p.prefix < p.pieces() && p.got[p.prefix] {
			p.prefix++
		}
		p.wake()
		switch {
		case !s.parts:
		case !s.play.started:
			if i == 0 {
				s.scheduleSoon() // a chunk to start on, maybe (heldStartLocked)
			}
		case m.Seq == s.play.next:
			s.wakeDelivery()
		}
	}
	if p.n == p.pieces() {
		s.completeLocked(c, p, now)
	} else {
		s.wakePushesLocked(1 << (i % stripes))
	}
	return nil
}

// pieceMatches reports whether data is piece i of a chunk whose piece
// hashes are hashes (a head's); i must be a piece of it.
func pieceMatches(hashes []byte, i int, data []byte) bool {
	sum := sha256.Sum256(data)
	return bytes.Equal(sum[:], hashes[i*sha256.Size:(i+1)*sha256.Size])
}

// completeLocked stores a partial whose pieces are all in, received last
// from c.
func (s *Stream) completeLocked(c *conn, p *partial, now time.Time) {
	h := p.head
	s.dropPartialLocked(h.Seq)
	ch := Chunk{Seq: h.Seq, Timestamp: h.Timestamp, Flags: ChunkFlags(h.Flags), Data: p.data, Sig: h.Sig, hashes: h.Hashes, pulled: p.pulled}
	s.acceptLocked(c, ch, now, len(p.got) > 0 && !s.treesOn())
}

// announceLocked tells every connection but from that we hold (or are
// receiving) chunk seq. A viewer in the trees that pushes all the feeds it
// takes on serves no pull (pushesFullLocked), so it tells only those that
// may use it (haveWantedLocked) and owes the others a buffer map for when
// it can serve again (tellHeldLocked).
func (s *Stream) announceLocked(seq uint64, from *conn) {
	have := &wire.Have{Seq: seq}
	full := s.pushesFullLocked()
	for _, c := range s.conns {
		if c == from {
			continue
		}
		if _, ok := c.has[seq]; ok {
			continue
		}
		if full && !s.haveWantedLocked(c) {
			c.owedMap = true
			continue
		}
		c.send(have)
	}
}

// haveWantedLocked reports whether c has a use for our Haves while we
// serve no pull: a parent, which pushes us nothing we hold whole, and a
// neighbour looking for a parent (a joining viewer picks its start by what
// its neighbours hold), and one we climb to (about to feed us).
func (s *Stream) haveWantedLocked(c *conn) bool {
	return c.feeds != 0 || slices.Contains(s.tree.parent[:], c) || slices.Contains(s.tree.climb[:], c) || !fedAll(c)
}

// tellHeldLocked sends a buffer map to the connections whose Haves were
// held back (announceLocked) once s serves pulls again.
func (s *Stream) tellHeldLocked() {
	var bm *wire.BufferMap
	for _, c := range s.conns {
		if !c.owedMap {
			continue
		}
		if bm == nil { // the first owed: whether s serves again, and what it holds
			if s.pushesFullLocked() {
				return
			}
			if bm = s.bufferMapLocked(); bm == nil {
				return
			}
		}
		c.owedMap = false
		c.send(bm)
	}
}

// dropPartialLocked forgets the partial chunk seq, if any, and wakes the
// writers relaying it.
func (s *Stream) dropPartialLocked(seq uint64) {
	if p := s.partials[seq]; p != nil {
		delete(s.partials, seq)
		p.wake()
	}
}

// holdsLocked reports whether chunk seq is stored or arriving in pieces: what
// this peer can serve.
func (s *Stream) holdsLocked(seq uint64) bool {
	return s.st.has(seq) || s.partials[seq] != nil
}

// dropPartialsLocked forgets partial chunks below seq (they left the window)
// and wakes the writers relaying them.
func (s *Stream) dropPartialsLocked(below uint64) {
	for seq := range s.partials {
		if seq < below {
			s.dropPartialLocked(seq)
		}
	}
}

// relay is what a writer can send of live chunk seq now.
type relay struct {
	head  wire.Head
	data  []byte
	avail int           // pieces that may be sent
	grew  chan struct{} // nil once the chunk is complete
}

// relayLocked returns what can be sent of live chunk seq: all of it if it is
// stored, the received prefix if it is arriving. ok is false if we have
// neither.
func (s *Stream) relayLocked(seq uint64) (r relay, ok bool) {
	if ch, ok := s.st.get(seq); ok {
		return relay{
			head:  wire.Head{Seq: seq, Timestamp: ch.Timestamp, Flags: uint8(ch.Flags), Size: uint32(len(ch.Data)), Sig: ch.Sig, Hashes: ch.hashes},
			data:  ch.Data,
			avail: wire.Pieces(len(ch.Data)),
		}, true
	}
	if p := s.partials[seq]; p != nil {
		return relay{head: *p.head, data: p.data, avail: p.prefix, grew: p.grew}, true
	}
	return relay{}, false
}

// writePieces sends live chunk seq as a head and pieces, each piece as soon
// as it is here, with control frames between pieces. It returns the chunk
// bytes it wrote. If the next piece does not come within half a chunk
// duration, or the rest by end, or the chunk goes away before it is complete
// (it left the window), it tells the peer with a Reject so that it asks
// elsewhere; if the peer cancels its request, it stops. Asked for the chunk
// back first, it sends the pieces last first if it holds them all, and in
// order otherwise. A non-zero mask limits it to the pieces of those stripes.
func (c *conn) writePieces(ctx context.Context, bw *bufio.Writer, seq uint64, end time.Time, back bool, mask uint8) (int, error) {
	s := c.s
	lim := s.peer.limiter
	// A relay whose upstream stops gives up soon, so the requester asks a
	// peer that has the chunk instead of waiting for its request to time out.
	s.mu.Lock()
	stall := max(s.chunkDuration()/2, 300*time.Millisecond)
	s.mu.Unlock()
	timer := time.NewTimer(min(stall, time.Until(end)))
	defer timer.Stop()
	reject := func() {
		s.mu.Lock()
		delete(c.has, seq) // noted when the upload began; the trees push it after all
		c.send(&wire.Reject{Seq: seq})
		s.mu.Unlock()
	}
	sent, bytes, headSent := 0, 0, false
	for {
		s.mu.Lock()
		r, ok := s.relayLocked(seq)
		s.mu.Unlock()
		if !ok {
			reject()
			return bytes, nil
		}
		if !headSent {
			if err := c.writeFrame(bw, &r.head, false); err != nil {
				return bytes, err
			}
			headSent = true
			back = back && r.grew == nil
		}
		progressed := sent < r.avail
		for ; sent < r.avail; sent++ {
			i := sent
			if back {
				i = r.avail - 1 - sent
			}
			if mask != 0 && mask&(1<<(i%stripes)) == 0 {
				continue
			}
			data := piece(r.data, i)
			if s.treesOn() {
				s.yieldToPushes(ctx, len(data))
			}
			if lim != nil {
				if err := bw.Flush(); err != nil {
					return bytes, err
				}
				if err := lim.WaitN(ctx, len(data)); err != nil {
					return bytes, err
				}
			}
			if err := c.writePiece(bw, seq, i, data); err != nil {
				return bytes, err
			}
			bytes += len(data)
			if err := c.writeQueued(bw); err != nil {
				return bytes, err
			}
			select {
			case <-c.stop: // cancelled: the chunk came from elsewhere
				return bytes, bw.Flush()
			case <-c.pushWake: // pushes go first: they feed a tree
				if err := c.writePushes(ctx, bw); err != nil {
					return bytes, err
				}
			default:
			}
		}
		if err := bw.Flush(); err != nil {
			return bytes, err
		}
		if r.grew == nil && sent == r.avail {
			return bytes, nil
		}
		if progressed {
			timer.Reset(min(stall, time.Until(end)))
		}
		select {
		case <-r.grew:
		case m := <-c.ctrl:
			if err := c.writeFrame(bw, m, true); err != nil {
				return bytes, err
			}
		case <-c.pushWake:
			if err := c.writePushes(ctx, bw); err != nil {
				return bytes, err
			}
			if err := bw.Flush(); err != nil {
				return bytes, err
			}
		case <-c.stop:
			return bytes, nil
		case <-timer.C:
			reject()
			return bytes, nil
		case <-c.done:
			return bytes, net.ErrClosed
		}
	}
}

// wastedPieceLocked counts a piece from c that was not needed (as
// wastedChunk counts a chunk) and logs at debug level why it came: pushed
// down a tree or not, and of a chunk held whole (or not wanted) or a piece
// held.
func (s *Stream) wastedPieceLocked(c *conn, m *wire.Piece, whole bool) {
	s.counters.wasted += int64(len(m.Data))
	if !s.log.Enabled(s.ctx, slog.LevelDebug) {
		return
	}
	how := "pulled"
	if s.feedsUsLocked(c, int(m.Index%stripes)) {
		how = "pushed"
	}
	what := "piece held"
	if whole {
		what = "chunk held"
	}
	s.log.Debug("piece not needed", "reason", how+", "+what)
}
