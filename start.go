package p2pstream

import (
	"slices"
	"time"

	"github.com/p2pstream/p2pstream/internal/wire"
)

// Where a live viewer starts, and how it fetches its first chunk: the
// newest keyframe chunk startBehind below the live edge (further back while
// its neighbours lack it), asked of two peers at once when most of its
// neighbours hold it (in the stripe trees: the first chunk they bring whole,
// or after treeJoinWait the same as pulling). The scheduler (schedule.go)
// calls in here.

// wantsHelperLocked reports whether live chunk seq should also be asked of
// a second peer, from the end, as no second peer is sending it: it is a
// joining viewer's first chunk (or a chunk probed for it), or, once the
// viewer plays, a chunk asked of a peer that is about to miss its deadline,
// while fewer than maxHelpers second requests are out.
func (s *Stream) wantsHelperLocked(seq uint64, now time.Time) bool {
	if _, ok := s.helpers[seq]; ok {
		return false
	}
	if s.play.t0.IsZero() {
		return !s.play.started || seq == s.play.next
	}
	if len(s.helpers) >= maxHelpers {
		return false
	}
	c, ok := s.pending[seq]
	return ok && !c.source && s.dueWithinLocked(seq, now, helpAhead)
}

// helpAhead is how many chunk durations (at least seconds) before its
// deadline a chunk asked of a peer is also asked of a second one. Swarm
// lab, 1,000 viewers at 500 kbit/s, 30 s: the chunks that missed their
// deadline had been advertised 5 s before it, but the request that was
// still out when they missed had been sent 0.5-0.6 s before (the earlier
// ones rejected by busy peers); 340-480 misses and 97.8-98.4% continuity
// without a second peer, 200-220 and 98.8-99.0% asking one within a chunk
// duration, 100-110 and 99.5% within two.
const helpAhead = 2

// maxHelpers is how many second requests a playing viewer has out at
// once: when a swarm falls behind, more chunks come close to their deadline
// and more second requests load the uplinks that are late already. Swarm
// lab, 1,000 viewers at 500 kbit/s with uploads of 1.2x the bitrate:
// 97.87 and 97.63% capped, 96.70 and 97.01% not; 1.5x: 99.86-100% either
// way (docs/BENCHMARKS.md, "Fourteenth session").
const maxHelpers = 1

// askHelperLocked asks a second peer of free, other than c, for chunk seq
// (a joining viewer's first, or one about to miss its deadline:
// wantsHelperLocked), last piece first (wire.RequestBack), while c sends it
// from the front: it is whole when the two meet, in about half the time.
// It returns the peer asked, or nil. The request is in the helper's
// inflight, and in s.helpers, not s.pending.
func (s *Stream) askHelperLocked(free []*conn, c *conn, seq uint64, now time.Time) *conn {
	if !s.st.live() || s.treesOn() && !s.play.t0.IsZero() || !s.wantsHelperLocked(seq, now) {
		// In the trees, once it plays: a chunk late for one viewer is late
		// for its subtree, and second requests would double the repairs'
		// load on uplinks that push stripes.
		return nil
	}
	if held, n := s.spreadLocked(seq, holdsChunk); n < minSpreadSample || 2*held < n {
		// A scarce chunk (a flash crowd's first): its few holders have
		// requests enough.
		return nil
	}
	var h *conn
	bestETA := 0.0
	for _, f := range free {
		// The source is kept for rescues; this request only speeds a
		// start up.
		if _, ok := f.has[seq]; !ok || f == c || f.source {
			continue
		}
		if eta := queueETA(f); h == nil || eta < bestETA {
			h, bestETA = f, eta
		}
	}
	if h == nil {
		return nil
	}
	h.inflight[seq] = now
	s.helpers[seq] = h
	s.noteExpiryLocked(now.Add(s.requestTimeout(h)))
	h.send(&wire.RequestBack{Seq: seq})
	s.log.Debug("request from the end", "seq", seq, "peer", h)
	return h
}

// joinProbesLocked picks where a new live viewer starts: the newest keyframe
// chunk at least joinBehind chunks below the newest the source advertises. It
// returns the chunks to fetch to find it, or starts playback.
func (s *Stream) joinProbesLocked() []uint64 {
	if s.treesOn() {
		if seq, ok := s.heldStartLocked(); ok {
			s.startLocked(seq)
			return s.wantedLiveLocked()
		}
		if time.Since(s.play.joined) < treeJoinWait {
			return nil // the trees bring a chunk sooner than a pull
		}
	}
	// Follow the live edge while joining.
	base, ok := s.joinBaseLocked()
	if !ok {
		return nil
	}
	if !s.st.has(base) && !s.anyoneHasLocked(base) {
		return nil
	}
	// Start joinBehind chunks behind the newest: more peers hold those, so
	// the first chunk comes sooner, and the deadlines of the chunks after it
	// leave time for them to spread through the swarm.
	top, wide := s.widelyHeldLocked(base - min(base, joinBehind))
	// In the stream's first seconds the viewers around are a flash crowd
	// that is still spreading the chunks after the start, however widely
	// the start itself is held (holdFirstLocked).
	s.play.wide = wide && base >= startBehind+maxJoinBehind
	if lo, _ := s.st.bounds(); s.st.len() > 0 && top < lo {
		top = lo
	}
	// A keyframe chunk fetched for an earlier top is good enough: the live
	// edge moves on while the first chunk arrives, and chasing it would
	// cost a chunk's transfer for each step.
	if seq, ok := s.heldKeyframeLocked(top); ok {
		s.startLocked(seq)
		return s.wantedLiveLocked()
	}
	var probes []uint64
	for i := uint64(0); i < maxJoinProbe && i <= top; i++ {
		seq := top - i
		if c, ok := s.st.get(seq); ok {
			if c.Keyframe() {
				s.startLocked(seq)
				return s.wantedLiveLocked()
			}
			continue
		}
		if s.anyoneHasLocked(seq) {
			probes = append(probes, seq)
			if len(probes) == 2 {
				return probes
			}
		}
	}
	if len(probes) == 0 {
		// Searched as far as we go and found no keyframe: start at the top.
		s.startLocked(top)
		return s.wantedLiveLocked()
	}
	return probes
}

// heldKeyframeLocked returns the newest keyframe chunk held at or up to
// joinSlack chunks below top.
func (s *Stream) heldKeyframeLocked(top uint64) (uint64, bool) {
	for i := uint64(0); i <= joinSlack && i <= top; i++ {
		if c, ok := s.st.get(top - i); ok && c.Keyframe() {
			return top - i, true
		}
	}
	return 0, false
}

// heldStartLocked returns the newest keyframe chunk a viewer holds whole
// or, for a part sink, whose first piece it holds: where a joining viewer
// in the trees starts (joinProbesLocked), and where one whose first chunk
// does not come moves its start (skipLostStartLocked).
func (s *Stream) heldStartLocked() (uint64, bool) {
	seq, ok := uint64(0), false
	if s.st.len() > 0 {
		seq, ok = s.heldKeyframeLocked(s.st.newest)
	}
	if !s.parts {
		return seq, ok
	}
	for n, p := range s.partials {
		if p.prefix > 0 && ChunkFlags(p.head.Flags)&FlagKeyframe != 0 && (!ok || n > seq) {
			seq, ok = n, true
		}
	}
	return seq, ok
}

// joinBaseLocked returns the newest chunk to start searching from: the
// newest the source advertises, or, without a connection to the source, the
// median of the newest each peer advertises, once three peers have (or a
// second has passed), or the newest chunk pushed to us. Trusting the source, or the median, keeps a lying peer
// from sending a new viewer to chunks that do not exist.
func (s *Stream) joinBaseLocked() (uint64, bool) {
	var best uint64
	found := false
	var tops []uint64
	for _, c := range s.conns {
		if c.topValid {
			tops = append(tops, c.top)
		}
		if !c.source {
			continue
		}
		for seq := range c.has {
			if !found || seq > best {
				best, found = seq, true
			}
		}
	}
	if found {
		return best, true
	}
	if len(tops) < 3 && time.Since(s.play.joined) < time.Second {
		return 0, false // give the connection to the source a moment
	}
	if len(tops) == 0 {
		return s.known, s.knownValid // what was pushed to us
	}
	slices.Sort(tops)
	return tops[(len(tops)-1)/2], true
}

// widelyHeldLocked returns the newest chunk at or below top that at least
// half of the neighbours that advertise chunks hold (or top, with fewer than
// four such neighbours). A new viewer starts there: about as far behind the
// newest chunk as its neighbours are, so each later chunk reaches it about
// when it reaches them, and Peer.Delay is the margin. In a large or slow
// swarm chunks spread slowly and the viewer starts further back; in a small
// one, one chunk behind. At most maxJoinBehind chunks below top (half the
// window, if that is less). wide
// reports whether enough neighbours advertise chunks to tell, and half of
// them hold the chunk returned.
func (s *Stream) widelyHeldLocked(top uint64) (seq uint64, wide bool) {
	if _, n := s.spreadLocked(top, holdsChunk); n < minSpreadSample {
		return top, false
	}
	// A window of 10 chunks (a 20 s window of 2 s chunks) leaves room for
	// fewer than startBehind+maxJoinBehind.
	limit := min(maxJoinBehind, s.st.window/2)
	for back := uint64(0); back <= limit && back <= top; back++ {
		if held, n := s.spreadLocked(top-back, holdsChunk); 2*held >= n {
			return top - back, true
		}
	}
	return top - min(top, limit), false
}

// minSpreadSample is how many neighbours that advertise chunks it takes to
// judge how far a chunk has spread (widelyHeldLocked, holdFirstLocked).
const minSpreadSample = 4

// spreadLocked counts the neighbours other than the source that advertise
// chunks, n, and those among them that chunk seq has reached, held.
func (s *Stream) spreadLocked(seq uint64, reached func(*conn, uint64) bool) (held, n int) {
	for _, c := range s.conns {
		if c.source || len(c.has) == 0 {
			continue
		}
		n++
		if reached(c, seq) {
			held++
		}
	}
	return held, n
}

// holdsChunk reports whether c advertised chunk seq.
func holdsChunk(c *conn, seq uint64) bool {
	_, ok := c.has[seq]
	return ok
}

func (s *Stream) anyoneHasLocked(seq uint64) bool {
	for _, c := range s.conns {
		if _, ok := c.has[seq]; ok {
			return true
		}
	}
	return false
}

// startBehind is how many chunks behind the newest advertised one a live
// viewer starts at least (see widelyHeldLocked for further back). Its lag is
// this plus Peer.Delay, and so is the time later chunks have to reach it.
// Swarm lab, chunks in pieces: 100 viewers at 2 Mbit/s kept 99.7-100%
// continuity one behind (startup p95 2.7-3.5 s), but 300 at 500 kbit/s
// only 77-93%; three behind, 100% and 98.8%; six, 100% and 99.3% (startup
// p95 7-9 s). Starting at the newest, 5% of viewers chased the live edge
// for 5-10 s, asking for chunks only the source had.
const startBehind = 3
