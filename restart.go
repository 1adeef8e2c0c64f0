package p2pstream

import "github.com/p2pstream/p2pstream/internal/wire"

// A live publisher restarted with the same key (the broadcaster's -key
// file keeps the stream ID across restarts) numbers its chunks from 0
// again. A viewer of the earlier run would ignore the new chunks whose seqs
// it already passed, and wait for the new run to catch up with it: an hour
// after an hour-long run. Its proved source's Have frames tell it: a
// source announces each chunk as it cuts it, so a Have from the source for
// a chunk older than our whole window comes only from a new run. The viewer
// then forgets the earlier run and joins the new one as it joined the
// first: its sink gets the new run's chunks after the old ones, as a player
// gets a stream that restarted. The chunks the source pushes tell it too:
// it pushes only fresh ones, and to a viewer that is its only neighbour, it
// pushes every chunk and announces none.

// sourceRestartedLocked reports whether a Have, a pushed chunk or a pushed
// head for seq from c says the stream's publisher started over.
func (s *Stream) sourceRestartedLocked(c *conn, seq uint64) bool {
	return c.source && !s.source && s.st != nil && s.st.live() && s.st.len() > 0 &&
		seq < s.st.oldest && !s.play.ended
}

// rejoinLocked forgets the earlier run of a restarted live stream: its
// chunks, what the peers advertised of it, the requests for it, and the
// play-out position, keeping the statistics counted so far. The new run is
// joined as a new viewer joins.
func (s *Stream) rejoinLocked() {
	s.log.Warn("the publisher restarted the stream; joining the new run", "was at", s.play.next)
	for _, requests := range []map[uint64]*conn{s.pending, s.helpers} {
		for seq, c := range requests {
			s.cancelRequestLocked(c, seq)
		}
	}
	for seq := range s.partials {
		s.dropPartialLocked(seq)
	}
	s.st = newLiveStore(int(s.st.window))
	s.pruned = 0
	clear(s.seen)
	s.known, s.knownValid = 0, false
	none := wire.NewBufferMap(0, 0)
	for _, c := range s.conns {
		c.forgetAdvertised()
		clear(c.late)
		c.strikes = 0
		c.feedFrom = 0 // pushes start again with the new run's seqs
		clear(c.pushed)
		// Our earlier map listed chunks of the earlier run: the source
		// would take them for this run's, and not push or announce them.
		c.send(none)
	}
	p := s.play
	if p.partOff > 0 { // a chunk begun in parts is cut short
		p.due++
		p.skipped++
	}
	s.play = playout{joined: p.joined, first: p.first, due: p.due, onTime: p.onTime, skipped: p.skipped}
	s.measuredDur.Store(0)
	s.scheduleSoon()
}

// otherRunLocked reports whether a chunk (n bytes of data) or head for seq
// stamped ts, verified against st with s.mu released, belongs to another run
// than the one followed now: the publisher restarted meanwhile (s.st is no
// longer st), or it is an earlier run's (olderRunLocked), refused.
func (s *Stream) otherRunLocked(st *store, c *conn, seq uint64, ts int64, n int) bool {
	if s.st != st {
		return true
	}
	if s.olderRunLocked(seq, ts) {
		s.counters.wasted += int64(n)
		s.refuseOlderRunLocked(c, seq)
		return true
	}
	return false
}

// olderRunLocked reports whether a verified live chunk seq stamped ts comes
// from an earlier run of a publisher restarted with the same key, which a
// peer that missed the restart may still hold under the same number: within
// a run timestamps grow with seq, so such a chunk is stamped before the
// chunk below it that we hold. By more than a chunk duration: a publisher
// whose clock is set back a little mid-stream is not cut off.
func (s *Stream) olderRunLocked(seq uint64, ts int64) bool {
	if seq == 0 || !s.st.live() {
		return false
	}
	prev, ok := s.st.get(seq - 1)
	return ok && ts+s.chunkDuration().Microseconds() < prev.Timestamp
}

// refuseOlderRunLocked turns down chunk seq from c, of an earlier run: the
// request is cancelled and asked elsewhere, and c is not asked for seq
// again. c is not banned: an honest peer that missed the restart sends it.
func (s *Stream) refuseOlderRunLocked(c *conn, seq uint64) {
	s.log.Debug("chunk of an earlier run refused", "seq", seq, "peer", c)
	s.cancelRequestLocked(c, seq)
	delete(c.has, seq)
	s.scheduleSoon()
}
