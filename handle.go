package p2pstream

import (
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"time"

	"github.com/p2pstream/p2pstream/internal/wire"
)

// maxAheadWindows bounds how far past the newest chunk we hold a live
// advertisement may point (further ones are ignored as lies), and how much
// of a live buffer map is read (maxBufferMap).
const maxAheadWindows = 4

// handle applies one frame from c. An error closes the connection.
func (s *Stream) handle(c *conn, m wire.Message) error {
	switch m.(type) {
	case *wire.Chunk, *wire.Head, *wire.Piece:
		if s.source {
			// A source asks for no chunks, and only a source pushes them.
			return &ProtocolError{Frame: m.Type(), Reason: "a chunk sent to the stream's source, which asks for none"}
		}
	}
	switch m := m.(type) {
	case *wire.Chunk:
		return s.receive(c, m)
	case *wire.Head:
		return s.receiveHead(c, m)
	case *wire.Piece:
		return s.receivePiece(c, m)
	case *wire.SourceProof:
		return s.sourceProof(c, m)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	c.lastRecv = now
	switch m := m.(type) {
	case *wire.Have:
		if s.sourceRestartedLocked(c, m.Seq) {
			s.rejoinLocked()
		}
		_, had := c.has[m.Seq]
		if err := s.noteHaveLocked(c, m.Seq, now); err != nil {
			return err
		}
		if _, has := c.has[m.Seq]; has && !had && s.st != nil && !s.st.has(m.Seq) && s.mayAskLocked(c, now) {
			// Only news from a peer we may ask is worth a scheduling pass:
			// a flood of repeated or ignored haves costs a map lookup
			// each, and a busy peer is asked when its answer comes (or on
			// the next tick).
			s.scheduleSoon()
		}
	case *wire.BufferMap:
		if s.info.Kind == KindLive {
			// A live map replaces what the peer advertised before: a peer
			// that followed a restarted publisher sends an empty one.
			c.forgetAdvertised()
		}
		from := uint64(0)
		if limit := s.maxBufferMap(); uint64(m.N) > limit {
			if s.info.Kind == KindVOD {
				return &ProtocolError{Frame: wire.TypeBufferMap, Reason: fmt.Sprintf("covers %d chunks, more than %d", m.N, limit)}
			}
			// A live peer that keeps a much longer window than ours
			// (Peer.Window): only its newest chunks can matter.
			from = uint64(m.N) - limit
		}
		before := len(c.has)
		for i := from; i < uint64(m.N); i++ {
			if m.Has(m.Base + i) {
				if err := s.noteHaveLocked(c, m.Base+i, now); err != nil {
					return err
				}
			}
		}
		if len(c.has) != before && s.st != nil && s.mayAskLocked(c, now) {
			s.scheduleSoon() // as for Have
		}
	case *wire.Request:
		c.forgetBack(m.Seq)
		c.forgetPart(m.Seq)
		s.serveLocked(c, m.Seq)
	case *wire.RequestBack:
		c.back = m.Seq // one at a time: a live peer uploads one chunk at a time
		c.forgetPart(m.Seq)
		s.serveLocked(c, m.Seq)
	case *wire.RequestStripes:
		c.forgetBack(m.Seq)
		if len(c.parts) < s.peer.maxServe() { // as many as may be queued
			c.parts[m.Seq] = m.Mask & allStripes
		}
		s.serveLocked(c, m.Seq)
		if _, ok := c.queued[m.Seq]; !ok {
			c.forgetPart(m.Seq) // rejected, or kept waiting as a whole chunk
		}
	case *wire.Cancel:
		c.forgetBack(m.Seq)
		c.forgetPart(m.Seq)
		s.unqueueLocked(c, m.Seq)
		if c.writing == m.Seq {
			notify(c.stop)
		}
		s.cancelWaitingLocked(c, m.Seq)
	case *wire.Ready:
		// A slot is free at the peer that turned us away: ask it again.
		c.busyUntil = time.Time{}
		s.scheduleSoon()
	case *wire.Reject:
		if _, ok := s.forgetRequestLocked(c, m.Seq); ok {
			// The peer is busy (or lied): ask others for a while.
			s.log.Debug("rejected", "seq", m.Seq, "peer", c)
			c.busyUntil = now.Add(s.busyBackoff())
			s.scheduleSoon()
		}
	case *wire.ManifestRequest:
		// Once per connection: a manifest is up to 1 MiB, and answering
		// every 5-byte request would let a peer use us as an amplifier.
		if s.manifest != nil && !c.sentManifest {
			c.sentManifest = true
			c.send(&wire.Manifest{Data: s.manifest})
		}
	case *wire.Manifest:
		return s.gotManifestLocked(c, m.Data)
	case *wire.Tree:
		s.treeAdvertLocked(c, m)
	case *wire.Subscribe:
		s.subscribeLocked(c, m, now)
	case *wire.Feed:
		s.feedLocked(c, m, now)
	case *wire.Ping:
		c.send(&wire.Pong{Nonce: m.Nonce})
	case *wire.Pong:
		// Any frame proves the connection alive.
	default:
		return &ProtocolError{Frame: m.Type(), Reason: "unexpected frame"}
	}
	return nil
}

// sourceProof checks a live source's proof: the stream key's signature of
// our handshake nonce (checked without holding s.mu). From then on c is the
// source: its pushes are taken, its advertisements pick a new viewer's
// start, and it is asked for urgent chunks. A proof that does not verify,
// that nobody asked for, or a second one, is a protocol error (and a ban).
func (s *Stream) sourceProof(c *conn, m *wire.SourceProof) error {
	s.mu.Lock()
	c.lastRecv = time.Now()
	proved := c.source
	s.mu.Unlock()
	if !c.claim || proved || s.kind != KindLive {
		return &ProtocolError{Frame: wire.TypeSourceProof, Reason: "from a peer that did not claim to be a live stream's source, or twice"}
	}
	if !ed25519.Verify(ed25519.PublicKey(s.id[:]), wire.SourceProofMessage(s.id, c.nonce), m.Sig) {
		return &ProtocolError{Frame: wire.TypeSourceProof, Reason: "does not verify against the stream ID"}
	}
	s.mu.Lock()
	c.source = true
	s.scheduleSoon()
	s.mu.Unlock()
	s.log.Debug("source proved", "peer", c)
	return nil
}

// forgetBack forgets that the peer asked for chunk seq last piece first
// (wire.RequestBack), if it did: it asked for it again, cancelled it, or
// it is being sent. s.mu is held.
func (c *conn) forgetBack(seq uint64) {
	if c.back == seq {
		c.back = noSeq
	}
}

// forgetPart forgets that the peer asked for some stripes of chunk seq
// only (wire.RequestStripes), if it did. s.mu is held.
func (c *conn) forgetPart(seq uint64) { delete(c.parts, seq) }

// maxBufferMap bounds one buffer map: an on-demand file (more is a protocol
// error), or, live, maxAheadWindows of our windows: a peer may keep a
// longer window than ours (Peer.Window), and only the newest part of a
// longer map is read.
func (s *Stream) maxBufferMap() uint64 {
	if s.st != nil && !s.st.live() {
		return uint64(s.st.manifest.Chunks())
	}
	if s.info.Kind == KindVOD {
		return maxManifestChunks
	}
	return maxAheadWindows * uint64(s.peer.window(s.chunkDuration()))
}

// noteHaveLocked records that c holds chunk seq.
func (s *Stream) noteHaveLocked(c *conn, seq uint64, now time.Time) error {
	if s.info.Kind == KindVOD {
		if s.st != nil && seq >= uint64(s.st.manifest.Chunks()) || seq >= maxManifestChunks {
			return &ProtocolError{Frame: wire.TypeHave, Reason: fmt.Sprintf("chunk %d is past the end of the file", seq)}
		}
		c.has[seq] = struct{}{}
		return nil
	}
	if s.st.len() > 0 {
		w := s.st.window
		if seq < s.st.oldest || seq > s.st.newest+maxAheadWindows*w {
			return nil // outside any window we care about
		}
	}
	c.has[seq] = struct{}{}
	s.noteTopLocked(c, seq)
	if _, ok := s.seen[seq]; !ok && uint64(len(s.seen)) < maxSeenWindows*s.st.window {
		s.seen[seq] = now
	}
	if seq > s.known || !s.knownValid {
		s.known, s.knownValid = seq, true
	}
	return nil
}

// serveLocked queues an upload of chunk seq to c, or rejects the request.
func (s *Stream) serveLocked(c *conn, seq uint64) {
	if s.pushesFullLocked() {
		c.send(&wire.Reject{Seq: seq})
		return
	}
	if s.waitUploadLocked(c, seq) {
		return
	}
	if s.st == nil || !s.holdsLocked(seq) || len(c.queued) >= s.peer.maxServe() || !s.sourceMayServeLocked() {
		c.send(&wire.Reject{Seq: seq})
		return
	}
	if s.uploadsFullLocked() {
		s.rejectBusyLocked(c, seq)
		return
	}
	if _, ok := c.queued[seq]; ok {
		return // asked twice; one copy is enough
	}
	select {
	case c.data <- seq:
		s.queueLocked(c, seq)
	default:
		c.send(&wire.Reject{Seq: seq})
	}
}

// uploadsFullLocked reports whether a live stream has as many uploads
// queued or under way as it should: a longer queue only makes every chunk late, so
// further requests are rejected and go to other peers at once.
func (s *Stream) uploadsFullLocked() bool {
	if !s.st.live() {
		return false
	}
	slots := liveUploadSlots
	if s.source {
		slots += s.fanout
	}
	return s.uploading+s.nqueued >= slots
}

// queueLocked notes an upload of chunk seq queued in c.data.
func (s *Stream) queueLocked(c *conn, seq uint64) {
	if _, ok := c.queued[seq]; ok {
		return
	}
	c.queued[seq] = struct{}{}
	if s.conns[c.id] == c {
		s.nqueued++
	}
}

// unqueueLocked forgets a queued upload: it was taken or cancelled. Uploads
// queued at a connection that was dropped left s.nqueued with it.
func (s *Stream) unqueueLocked(c *conn, seq uint64) {
	if _, ok := c.queued[seq]; !ok {
		return
	}
	delete(c.queued, seq)
	if s.conns[c.id] == c {
		s.nqueued--
	}
}

// busyBackoff is how long a peer that rejected a request is not asked. Live,
// a chunk duration: a busy peer sends Ready when it has room (readyLocked),
// so polling it sooner only adds rejects (swarm lab, 1,000 viewers: a
// quarter chunk and no Ready, 156,000 rejects in 30 s; this, 97,000).
func (s *Stream) busyBackoff() time.Duration {
	if s.st != nil && s.st.live() {
		return s.chunkDuration()
	}
	return 100 * time.Millisecond
}

// chunkToSend returns the chunk the writer of c should send next, unless the
// request was cancelled. An on-demand chunk comes back with its data still
// in the file (the seeder's, or a viewer's download; see outgoing); the
// writer reads it from there.
func (s *Stream) chunkToSend(c *conn, seq uint64) (outgoing, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := c.queued[seq]; !ok {
		return outgoing{}, false
	}
	var out outgoing
	ok := false
	if st := s.st; !st.live() {
		out.Seq, out.file = seq, st.file
		out.off, out.n, ok = st.section(seq)
		ok = ok && st.has(seq)
	} else {
		out.Seq, out.live, out.back = seq, true, c.back == seq
		out.mask = c.parts[seq]
		ok = s.holdsLocked(seq)
	}
	s.unqueueLocked(c, seq)
	c.forgetBack(seq)
	c.forgetPart(seq)
	if !ok {
		s.uploadFreedLocked() // the slot it held is free
		return outgoing{}, false
	}
	c.has[seq] = struct{}{}
	s.uploading++ // until sent
	c.sending++
	return out, true
}

// sent records the end of an upload; ok is false if it failed.
func (s *Stream) sent(c *conn, n int, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.uploading--
	c.sending--
	s.uploadFreedLocked()
	if !ok {
		return
	}
	s.counters.up += int64(n)
}

// receive verifies and stores a chunk. A chunk that fails verification bans
// its sender.
func (s *Stream) receive(c *conn, m *wire.Chunk) error {
	ch := Chunk{Seq: m.Seq, Timestamp: m.Timestamp, Flags: ChunkFlags(m.Flags), Data: m.Data, Sig: m.Sig}
	now := time.Now()
	s.mu.Lock()
	c.lastRecv = now
	_, requested := c.inflight[ch.Seq]
	// A late answer to a request that timed out is checked too: if good,
	// it clears the sender's strikes (it is slow, not lying).
	_, late := c.late[ch.Seq]
	if !requested && !late && s.sourceRestartedLocked(c, ch.Seq) {
		s.rejoinLocked() // a push of the first chunks of a new run
	}
	st := s.st
	need := st != nil && st.inWindow(ch.Seq) && !st.has(ch.Seq) && (requested || c.source || late)
	if !need && requested {
		s.forgetRequestLocked(c, ch.Seq)
	}
	delete(c.late, ch.Seq)
	s.mu.Unlock()
	if !need && late && st != nil {
		if err := s.verify(st, &ch); err != nil {
			s.ban(c, err)
			return err
		}
		s.mu.Lock()
		c.strikes = 0
		clear(c.late)
		s.mu.Unlock()
	}
	if !need {
		s.wastedChunk(ch)
		return nil
	}
	if err := s.verify(st, &ch); err != nil {
		s.ban(c, err)
		return err
	}
	if st.out != nil {
		s.mu.Lock()
		dup := st.has(ch.Seq) // (another copy came in meanwhile)
		s.mu.Unlock()
		if dup {
			s.wastedChunk(ch)
			return nil
		}
		if err := st.write(ch); err != nil {
			// Our disk, not the peer: asking again would fail again.
			s.mu.Lock()
			s.forgetRequestLocked(c, ch.Seq)
			s.failLocked(err)
			s.mu.Unlock()
			return nil
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.otherRunLocked(st, c, ch.Seq, ch.Timestamp, len(ch.Data)) {
		return nil
	}
	s.dropPartialLocked(ch.Seq) // it was also coming in pieces
	s.acceptLocked(c, ch, now, false)
	return nil
}

// wastedChunk counts a chunk that was not needed.
func (s *Stream) wastedChunk(ch Chunk) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.counters.wasted += int64(len(ch.Data))
}

// acceptLocked stores a verified chunk that came from c, and updates what
// we know of c: its request is answered, its strikes cleared, its rate
// measured. announced says the other peers were told of it already.
func (s *Stream) acceptLocked(c *conn, ch Chunk, now time.Time, announced bool) {
	if _, ok := s.helpers[ch.Seq]; ok {
		// Asked of c and of a second peer from the other end: c may go on
		// with the pieces the other sent.
		c.send(&wire.Cancel{Seq: ch.Seq})
	}
	sentAt, requested := s.forgetRequestLocked(c, ch.Seq)
	c.strikes = 0
	clear(c.late)
	if requested {
		c.limit = min(c.limit+1, maxInflight)
		if d := now.Sub(sentAt).Seconds(); d > 0 {
			r := float64(len(ch.Data)) / d
			if c.rate == 0 {
				c.rate = r
			} else {
				c.rate = 0.7*c.rate + 0.3*r
			}
		}
	}
	s.storeLocked(ch, c, now, announced)
}

// verify checks a chunk against the stream's signature or manifest.
func (s *Stream) verify(st *store, ch *Chunk) error {
	if st.live() {
		return verifyLiveChunk(s.id, ch)
	}
	return st.manifest.verify(*ch)
}

// storeLocked keeps a verified chunk, cancels duplicate requests for it,
// tells the other peers, and (at a live source) pushes it to a few peers.
func (s *Stream) storeLocked(ch Chunk, from *conn, now time.Time, announced bool) {
	if s.st.has(ch.Seq) {
		return
	}
	s.st.put(ch)
	if s.st.live() && !s.source && s.log.Enabled(s.ctx, slog.LevelDebug) {
		// How long the chunk took to get here since it was cut (by the
		// publisher's clock): how fast the swarm spreads chunks.
		// In the trees, how many of its pieces did not come down them.
		s.log.Debug("chunk stored", "seq", ch.Seq, "age", now.Sub(time.UnixMicro(ch.Timestamp)), "pulled", ch.pulled)
	}
	if from != nil {
		if from.source {
			s.counters.fromSource += int64(len(ch.Data))
		} else {
			s.counters.fromPeers += int64(len(ch.Data))
		}
	}
	for _, requests := range []map[uint64]*conn{s.pending, s.helpers} {
		if c, ok := requests[ch.Seq]; ok {
			s.cancelRequestLocked(c, ch.Seq)
		}
	}
	if s.st.live() {
		s.noteLiveLocked(ch.Seq, now)
	}
	if s.source && s.st.live() && s.feedsLocked() == 0 {
		s.pushLocked(ch.Seq)
	}
	if s.st.live() && s.treesOn() && !s.source {
		s.emptyStripesLocked(wire.Pieces(len(ch.Data)), now)
	}
	s.wakePushesLocked(allStripes)
	if !announced {
		s.announceLocked(ch.Seq, from)
	}
	s.cond.Broadcast()
	s.wakeDelivery()
	if s.st.complete() && s.sink == nil {
		s.markDoneLocked()
	}
	s.scheduleSoon()
}

// noteLiveLocked notes that we hold (or receive) live chunk seq: when it
// was first heard of, and the newest known.
func (s *Stream) noteLiveLocked(seq uint64, now time.Time) {
	if _, ok := s.seen[seq]; !ok {
		s.seen[seq] = now
	}
	if seq > s.known || !s.knownValid {
		s.known, s.knownValid = seq, true
	}
}

// pushLocked sends a fresh live chunk, unasked, to Fanout peers chosen at
// random (map order). The rest of the swarm gets it from them, which keeps
// the source's upload near Fanout copies of the stream. A push to a peer
// that does not pass it on is lost until viewers ask the source for the
// chunk as it falls due, so peers that show they would not are skipped: one
// that claims to be the source too, or that advertises the chunk before it
// was published.
func (s *Stream) pushLocked(seq uint64) {
	n := 0
	for _, c := range s.conns {
		if n >= s.fanout {
			return
		}
		if _, lied := c.has[seq]; lied || c.claim || len(c.queued) >= s.peer.maxServe() {
			continue
		}
		select {
		case c.data <- seq:
			s.queueLocked(c, seq)
			c.has[seq] = struct{}{}
			n++
		default:
		}
	}
}

// gotManifestLocked checks a manifest against the stream ID and, if it is
// the first, sets the stream up to fetch chunks.
func (s *Stream) gotManifestLocked(c *conn, data []byte) error {
	if s.st != nil {
		return nil
	}
	if sha256.Sum256(data) != s.id {
		err := fmt.Errorf("%w: manifest does not hash to the stream ID", ErrBadChunk)
		s.banLocked(c, err)
		return err
	}
	var m Manifest
	if err := m.UnmarshalBinary(data); err != nil {
		s.banLocked(c, err) // it hashed right, so the publisher made it: unusable
		return err
	}
	for _, cc := range s.conns {
		for seq := range cc.has {
			if seq >= uint64(m.Chunks()) {
				delete(cc.has, seq)
			}
		}
	}
	s.manifest = data
	if err := s.download.Truncate(m.Size); err != nil {
		s.log.Warn("sizing the download file", "err", err) // WriteAt grows it anyway
	}
	s.st = newDownloadStore(&m, s.download)
	s.info = m.Info()
	close(s.ready)
	s.cond.Broadcast()
	s.scheduleLocked(time.Now())
	return nil
}
