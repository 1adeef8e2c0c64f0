package p2pstream

import (
	"log/slog"
	"time"

	"github.com/p2pstream/p2pstream/internal/ts"
	"github.com/p2pstream/p2pstream/internal/wire"
)

// playout tracks the delivery position and the play clock of a stream, and
// counts what quality-of-experience statistics need. Guarded by Stream.mu.
//
// Live deadlines come from the publisher's timestamps: the first chunk is
// handed to the sink at t0; a chunk stamped ts is due at
// t0 + (ts - ts0) + delay. Because only differences of the publisher's
// timestamps are used, clock skew does not matter, and a publisher that
// stalls does not make the chunks after the stall late.
type playout struct {
	joined  time.Time     // Join was called
	first   time.Time     // the first chunk (a part sink: its first part) went to the sink
	started bool          // the live start point is chosen
	startAt time.Time     // when it was
	wide    bool          // live: the start was chosen from a point half the neighbours held (widelyHeldLocked), or below it
	ended   bool          // the last chunk was delivered (or the sink failed)
	next    uint64        // next seq for the sink
	t0      time.Time     // when the first chunk (or part) went to the sink
	ts0     int64         // timestamp of the first chunk, Unix µs
	lastTS  int64         // timestamp of the last chunk delivered (a part sink: begun)
	lastSeq uint64        // and its seq
	avgDur  time.Duration // the chunks' mean duration, from their timestamps
	extra   time.Duration // play-out delay added after missed chunks (playDelayLocked)
	liveEnd time.Time     // the live stream's last chunk went to the sink: lag stops there
	due     int64
	onTime  int64
	skipped int64

	// Live, to a part sink (Stream.parts): chunk next is handed over in
	// parts as its pieces arrive.
	partOff  int  // bytes of chunk next handed over so far; 0 if it has not begun
	partSize int  // chunk next's size, once begun
	partLate bool // a part of chunk next was handed over after its play-out time
}

// playDelayLocked returns the live play-out delay: Peer.Delay, plus what
// the player added after missing chunks (at most as much again).
func (s *Stream) playDelayLocked() time.Duration {
	return s.peer.delay(s.chunkDuration()) + s.play.extra
}

// startLocked sets the live start point.
func (s *Stream) startLocked(seq uint64) {
	s.play.started, s.play.startAt = true, time.Now()
	s.play.next = seq
	s.log.Debug("starting playback", "seq", seq)
	s.wakeDelivery()
}

// deadline returns when chunk seq is due, if the play clock runs: for a
// chunk begun in parts, when the player reaches its first byte not yet
// handed over. It extrapolates from the last chunk delivered (or begun).
func (p *playout) deadline(seq uint64, dur, delay time.Duration) (time.Time, bool) {
	if p.t0.IsZero() || seq < p.next {
		return time.Time{}, false
	}
	avg := p.meanDur(dur)
	est := time.Duration(p.lastTS-p.ts0)*time.Microsecond + time.Duration(seq-p.lastSeq)*avg
	if seq == p.lastSeq && p.partOff > 0 {
		// Chunk next, begun in parts: the player reaches the rest of it
		// later.
		est += avg * time.Duration(p.partOff) / time.Duration(p.partSize)
	}
	return p.t0.Add(est + delay), true
}

// The figures below take the deadlines as the player's play-out times: the
// player behind the sink plays a chunk when it is due, delay after the play
// clock (the first chunk too), so it plays the stream stamped
// ts0 + (now - t0 - delay). Chunks are handed to the sink as soon as they are
// held, so what lies between the sink and that play-out point (the start
// behind the newest chunk and the delay) is buffered downstream of the sink.

// lagAt returns how far behind the live edge the viewer plays at now: the
// first chunk's age when it was handed over, plus delay; or, once the
// play-out point has passed the end of what was handed over (handedEnd), the
// age of that end, as the player waits there for the next chunk. It compares
// the publisher's timestamps with this machine's clock. Zero before the
// first chunk.
func (p *playout) lagAt(now time.Time, delay, dur time.Duration) time.Duration {
	if p.t0.IsZero() {
		return 0
	}
	return now.Sub(time.UnixMicro(min(p.playing(now, delay), p.handedEnd(dur))))
}

// aheadAt returns how much of the stream handed to the sink the player has
// not played at now.
func (p *playout) aheadAt(now time.Time, delay, dur time.Duration) time.Duration {
	if p.t0.IsZero() {
		return 0
	}
	return max(0, time.Duration(p.handedEnd(dur)-p.playing(now, delay))*time.Microsecond)
}

// handedEnd returns the timestamp, Unix µs, of the end of the stream handed
// to the sink: of the last chunk handed over (of its parts handed over, if
// it is begun in parts), whose duration is taken to be the chunks' mean, or
// dur before there is one.
func (p *playout) handedEnd(dur time.Duration) int64 {
	dur = p.meanDur(dur)
	if p.partOff > 0 {
		dur = dur * time.Duration(p.partOff) / time.Duration(p.partSize)
	}
	return p.lastTS + dur.Microseconds()
}

// meanDur returns the chunks' mean duration, or dur before there is one.
func (p *playout) meanDur(dur time.Duration) time.Duration {
	if p.avgDur > 0 {
		return p.avgDur
	}
	return dur
}

// playing returns the timestamp of the stream played at now, Unix µs.
func (p *playout) playing(now time.Time, delay time.Duration) int64 {
	return p.ts0 + (now.Sub(p.t0) - delay).Microseconds()
}

// beginLocked starts live chunk c at the sink at now (play.begin), and
// logs the play clock's start, for the lab's diagnosis.
func (s *Stream) beginLocked(c Chunk, now time.Time, delay time.Duration) bool {
	first := s.play.t0.IsZero()
	onTime := s.play.begin(c, now, delay)
	if first {
		s.log.Debug("play clock started", "seq", c.Seq, "age", now.Sub(time.UnixMicro(c.Timestamp)), "joined", now.Sub(s.play.joined))
	}
	return onTime
}

// begin updates the play clock for live chunk c, whose first bytes are
// handed to the sink at now, and reports whether they are on time. The
// first chunk starts the clock.
func (p *playout) begin(c Chunk, now time.Time, delay time.Duration) bool {
	if p.t0.IsZero() {
		if p.first.IsZero() { // (not after a restarted publisher: rejoinLocked)
			p.first = now
		}
		p.t0, p.ts0, p.lastTS, p.lastSeq = now, c.Timestamp, c.Timestamp, c.Seq
		return true
	}
	onTime := !now.After(p.t0.Add(time.Duration(c.Timestamp-p.ts0)*time.Microsecond + delay))
	if gap := time.Duration(c.Timestamp-p.lastTS) * time.Microsecond; gap > 0 && gap < 10*time.Second && c.Seq > p.lastSeq {
		gap /= time.Duration(c.Seq - p.lastSeq) // over skipped chunks too
		if p.avgDur == 0 {
			p.avgDur = gap
		} else {
			p.avgDur = (7*p.avgDur + gap) / 8
		}
	}
	p.lastTS, p.lastSeq = c.Timestamp, c.Seq
	return onTime
}

// handover is what deliverNext hands the sink: a whole chunk, or, to a
// part sink, bytes [off, off+len(c.Data)) of one (part).
type handover struct {
	c    Chunk
	off  int
	part bool
	last bool // the chunk is all handed over with this
}

// partLocked returns the next part of live chunk c (its Data is nil while
// it arrives) for a part sink: bytes [play.partOff, avail) of data, the
// chunk's buffer, of which the first avail bytes are verified: a whole
// number of TS packets, or the whole chunk.
func (s *Stream) partLocked(c Chunk, data []byte, avail int, now time.Time, delay time.Duration) handover {
	p := &s.play
	off := p.partOff
	if off == 0 {
		p.partLate = !s.beginLocked(c, now, delay)
		p.partSize = len(data)
		s.measuredDur.Store(int64(p.avgDur))
	} else if dl, _ := p.deadline(p.next, s.chunkDuration(), delay); now.After(dl) {
		p.partLate = true
	}
	h := handover{c: c, off: off, part: true, last: avail == len(data)}
	h.c.Data = data[off:avail:avail] // (a sink that appends cannot write into the buffer)
	p.partOff = avail
	if h.last {
		p.due++
		if !p.partLate {
			p.onTime++
		}
		p.next++
		p.endPart()
	}
	return h
}

// nextPartLocked returns the next part of chunk play.next for a part sink,
// if more of it is here than was handed over: what relayLocked would send
// of it (all of a stored chunk, a partial's verified prefix of pieces), cut
// to whole TS packets unless it is the whole chunk, so that a chunk cut
// short (skipped, or left behind by the window) leaves none torn in the
// sink.
func (s *Stream) nextPartLocked(now time.Time, delay time.Duration) (handover, bool) {
	r, ok := s.relayLocked(s.play.next)
	if !ok {
		return handover{}, false
	}
	_, end := wire.PieceBounds(len(r.data), r.avail-1) // (0 if none)
	whole := end == len(r.data)
	if !whole {
		end -= end % ts.PacketSize
	}
	if end <= s.play.partOff && !whole {
		return handover{}, false
	}
	h := r.head
	c := Chunk{Seq: h.Seq, Timestamp: h.Timestamp, Flags: ChunkFlags(h.Flags), Sig: h.Sig}
	return s.partLocked(c, r.data, end, now, delay), true
}

// endPart forgets chunk next's parts: it was all handed over, or skipped.
func (p *playout) endPart() { p.partOff, p.partSize, p.partLate = 0, 0, false }

// nextChunkLocked returns the next chunk for the sink, or part of one for
// a part sink, if one is ready. A live chunk that is past its deadline
// (for one begun in parts: its next part is) while a later chunk is held
// is skipped.
func (s *Stream) nextChunkLocked(now time.Time) (handover, bool) {
	p := &s.play
	if s.st == nil || p.ended || s.source {
		return handover{}, false
	}
	if !s.st.live() {
		if s.sink == nil {
			return handover{}, false // nothing to deliver to; readers read the store
		}
		if !s.st.has(p.next) {
			return handover{}, false
		}
		// Its data is read from the file by the caller, outside the lock
		// (readOnDemandChunk).
		c := Chunk{Seq: p.next}
		if p.first.IsZero() {
			p.first = now
		}
		p.next++
		p.due++
		p.onTime++
		return handover{c: c, last: true}, true
	}
	if !p.started {
		return handover{}, false
	}
	dur, delay := s.chunkDuration(), s.playDelayLocked()
	if p.t0.IsZero() {
		s.skipLostStartLocked(now, delay)
	}
	if p.t0.IsZero() && s.knownValid && !s.playsAtOnceLocked() {
		edge := s.edgeLocked()
		if s.holdFirstLocked(edge) {
			// Hold the first chunk until it is startBehind chunks behind the
			// newest one advertised, as a player buffers before it starts, and
			// until the chunk after it has reached half the neighbours.
			// Chunks take seconds to spread through a large swarm; the play
			// clock starts here, so this lag is what the chunks after it have
			// to arrive in. Counting chunks needs no clock shared with the
			// publisher.
			if c, ok := s.st.get(edge); !ok || c.Flags&FlagEnd == 0 {
				return handover{}, false // (a stream that ends sooner plays at once)
			}
		}
	}
	for {
		if s.parts {
			if h, ok := s.nextPartLocked(now, delay); ok {
				return h, true
			}
		} else if c, ok := s.st.get(p.next); ok {
			p.next++
			p.due++
			if s.beginLocked(c, now, delay) {
				p.onTime++
			}
			s.measuredDur.Store(int64(p.avgDur))
			return handover{c: c, last: true}, true
		}
		if p.next < s.st.oldest && s.st.len() > 0 {
			// Fell out of the window (the sink was too slow): jump ahead.
			p.skipped += int64(s.st.oldest - p.next)
			p.due += int64(s.st.oldest - p.next)
			p.next = s.st.oldest
			p.endPart()
			continue
		}
		dl, ok := p.deadline(p.next, dur, delay)
		if !ok || now.Before(dl) || s.st.len() == 0 || s.st.newest <= p.next || !s.laterChunkDueLocked(now, delay) {
			return handover{}, false
		}
		s.logMissLocked(p.next, now)
		p.next++
		p.due++
		p.skipped++
		p.endPart() // (a chunk begun in parts is cut short)
		// The player skips the chunk and, as a player does after a gap,
		// buffers a little more: a viewer whose chunks come late gives
		// the next ones more time (and plays further behind), up to
		// twice Peer.Delay, instead of missing one after another.
		p.extra = min(p.extra+dur, s.peer.delay(dur))
	}
}

// skipLostStartLocked moves a viewer's start, before its play clock
// runs, from a first chunk that has not come within delay of choosing it
// onto a later keyframe chunk that has (heldStartLocked): nothing was due
// yet, and a chunk none of its neighbours can complete would otherwise
// hold it forever (hostile swarm in the trees: a viewer that chose the
// stream's first chunk, which only the source and its first children
// held whole, never played).
func (s *Stream) skipLostStartLocked(now time.Time, delay time.Duration) {
	p := &s.play
	if s.st.has(p.next) || now.Sub(p.startAt) < delay {
		return
	}
	if pa := s.partials[p.next]; s.parts && pa != nil && pa.prefix > 0 {
		return // begun
	}
	if seq, ok := s.heldStartLocked(); ok && seq > p.next {
		s.log.Debug("first chunk not coming: starting later", "seq", p.next, "start", seq)
		p.next, p.startAt = seq, now
	}
}

// maxSpreadWait bounds how many chunks longer holdFirstLocked waits for the
// chunk after the first to spread. Swarm lab, 1,000 viewers at 500 kbit/s:
// waiting up to 8 chunks gave 97.9% and 99.3% continuity but a startup p95
// of 13-15 s (8 s without the wait); see docs/BENCHMARKS.md for 3.
const maxSpreadWait = 3

// holdFirstLocked reports whether the first live chunk waits: until the
// newest chunk, edge (edgeLocked), is startBehind after it, and, in a swarm large
// enough to tell (four neighbours that advertise chunks), until the chunk
// after it has reached half of them (passedLocked), so the play clock
// starts no sooner than the swarm can keep up with. A viewer that joins a flash crowd as the stream
// starts would otherwise start closest to the live edge of all. That wait
// ends once the newest chunk is maxSpreadWait further on, and is skipped
// when the start was chosen where half the neighbours held it, past the
// stream's first chunks (playout.wide): the swarm already spreads chunks
// that far.
func (s *Stream) holdFirstLocked(edge uint64) bool {
	p := &s.play
	if edge < p.next+startBehind {
		return true
	}
	if p.wide || edge >= p.next+startBehind+maxSpreadWait {
		return false // joined a swarm that already spread the chunks
	}
	held, n := s.spreadLocked(p.next+1, passedLocked)
	return n >= minSpreadSample && 2*held < n
}

// edgeLocked returns the newest live chunk as far as a viewer can tell
// before it plays: the newest advertised (s.known) if a second peer, or the
// proved source, or our own store backs it, or if it is just one past the
// newest that a second peer advertises; else the newest that is backed. A
// lone neighbour that advertises chunks far ahead of everyone (a liar)
// would otherwise let a new viewer start with no buffer at all.
func (s *Stream) edgeLocked() uint64 {
	var edge, first, second uint64
	if s.st.len() > 0 {
		edge = s.st.newest
	}
	n := 0
	for _, c := range s.conns {
		switch {
		case !c.topValid:
		case c.source:
			edge = max(edge, c.top)
		default:
			n++
			if c.top > first {
				first, second = c.top, first
			} else if c.top > second {
				second = c.top
			}
		}
	}
	if n == 1 {
		second = first // nothing to compare it with
	}
	// One chunk past the second neighbour's newest is believed: the
	// neighbour that got the newest chunk first is often alone with it for
	// a while (swarm lab, 1,000 viewers: startup p50 0.5 s later without).
	return min(s.known, max(edge, min(first, second+1)))
}

// passedLocked reports whether chunk seq has reached c: c holds it, or
// holds only later chunks (it started playing after seq and will never
// fetch it).
func passedLocked(c *conn, seq uint64) bool {
	if holdsChunk(c, seq) {
		return true
	}
	for s := range c.has {
		if s <= seq {
			return false
		}
	}
	return true
}

// logMissLocked logs why live chunk seq missed its deadline, for the lab's
// diagnosis: requested from whom and for how long, or held by how many
// neighbours, or advertised by none.
func (s *Stream) logMissLocked(seq uint64, now time.Time) {
	if !s.log.Enabled(s.ctx, slog.LevelDebug) {
		return
	}
	holders, source := 0, false
	for _, c := range s.conns {
		if _, ok := c.has[seq]; ok {
			holders++
			source = source || c.source
		}
	}
	var reason string
	var wait time.Duration
	switch c, ok := s.pending[seq]; {
	case ok && c.source:
		reason, wait = "requested from source", now.Sub(c.inflight[seq])
	case ok:
		reason, wait = "requested from peer", now.Sub(c.inflight[seq])
	case holders == 0:
		reason = "no neighbour has it"
	case holders == 1 && source:
		reason = "only the source has it"
	default:
		reason = "held by neighbours, not requested"
	}
	var seen time.Duration
	if t, ok := s.seen[seq]; ok {
		seen = now.Sub(t)
	}
	s.log.Debug("deadline missed", "reason", reason, "seq", seq, "holders", holders, "requested", wait, "seen", seen)
}

// deliverLoop hands chunks to the sink in order, from one goroutine.
func (s *Stream) deliverLoop() {
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-s.wake:
		}
		for s.deliverNext() {
		}
	}
}

// deliverNext hands the next chunk to the sink, if one is ready, and
// reports whether it did. An on-demand chunk is read from the download
// file here, outside the lock; if it cannot be, the stream fails (Err).
func (s *Stream) deliverNext() bool {
	s.mu.Lock()
	h, ok := s.nextChunkLocked(time.Now())
	st := s.st
	s.mu.Unlock()
	if !ok {
		return false
	}
	c := h.c
	if !st.live() {
		var err error
		if c, err = st.readOnDemandChunk(c.Seq); err != nil {
			s.mu.Lock()
			s.failLocked(err)
			s.mu.Unlock()
			return false
		}
	}
	if s.sink != nil {
		var err error
		if h.part {
			err = s.sink.(PartSink).WritePart(c, h.off, c.Data)
		} else {
			err = s.sink.WriteChunk(c)
		}
		if err != nil {
			s.log.Warn("sink failed; no longer delivering", "err", err)
			s.mu.Lock()
			s.play.ended = true
			s.mu.Unlock()
			return false
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !h.last {
		return true
	}
	if c.Flags&FlagEnd != 0 || s.st.complete() && s.play.next == uint64(s.st.manifest.Chunks()) {
		s.play.ended = true
		if c.Flags&FlagEnd != 0 {
			s.play.liveEnd = time.Now()
		}
		s.markDoneLocked()
	}
	return true
}
