package p2pstream

import (
	"cmp"
	"slices"
	"time"

	"github.com/p2pstream/p2pstream/internal/wire"
)

// Scheduling: which chunk to request from whom, and when.
//
// Live: once the start point is chosen, every missing chunk from the
// delivery position to the newest advertised one is wanted, earliest
// deadline first. Each goes to the connected peer that has it and would
// deliver it soonest (requests in flight divided by measured rate). The
// source is asked only when no other peer has the chunk and the chunk is
// urgent or has been advertised for a while, so fresh chunks spread from the
// few peers the source pushed them to.
//
// On demand: the chunks just after the reader's (or sink's) position are
// wanted first, in order; then the rest, rarest first, with a per-peer
// random tie-break so peers fetch different chunks and can trade.
//
// Every peer has a window of requests in flight that grows by one per chunk
// received and halves on a timeout; a timed-out request is cancelled and
// asked elsewhere.

const (
	maxInflight   = 16          // requests in flight to one peer, at most
	liveInflight  = 1           // live: requests in flight to one peer, at most
	joinBehind    = startBehind // live: a new viewer starts this many chunks behind the newest
	maxJoinProbe  = 8           // chunks searched backwards for a keyframe when joining
	maxJoinBehind = 8           // live: chunks a new viewer may start below joinBehind, waiting for them to spread
	urgentAhead   = 8           // on demand: chunks after the read position fetched in order
	joinSlack     = startBehind // live: chunks below the start point a fetched keyframe chunk may be, to start there
	// maxLiveWanted bounds the missing live chunks a scheduling pass
	// considers, earliest first: a viewer that fell behind would otherwise
	// pay for the whole window on every pass, and fall further behind.
	maxLiveWanted = 16
)

// scheduleLocked sends requests for wanted chunks to peers with free slots.
// It runs after events that may free a peer or make a chunk wanted
// (scheduleSoon) and on every tick, so the common case (nothing new to
// ask) is kept cheap: it does not visit the connections.
func (s *Stream) scheduleLocked(now time.Time) {
	if s.st == nil || s.closed || s.source || s.failure != nil {
		return
	}
	if !s.expireAt.IsZero() && !now.Before(s.expireAt) {
		s.expireRequestsLocked(now)
	}
	var wanted []uint64
	if s.st.live() {
		wanted = s.wantedLocked()
		if !s.anyUnrequestedLocked(wanted, now) {
			return
		}
	}
	free := s.free[:0] // peers that may take another request
	defer func() {
		clear(free) // keep no closed connection alive
		s.free = free[:0]
	}()
	for _, c := range s.conns {
		if s.mayAskLocked(c, now) {
			free = append(free, c)
		}
	}
	if len(free) == 0 {
		return
	}
	if !s.st.live() {
		wanted = s.wantedLocked()
	}
	// asked removes c from free once it may take no more requests.
	asked := func(c *conn) {
		if c != nil && !s.mayAskLocked(c, now) {
			free = slices.DeleteFunc(free, func(f *conn) bool { return f == c })
		}
	}
	for _, seq := range wanted {
		c, ok := s.pending[seq]
		if !ok {
			if c = s.pickPeerLocked(free, seq, now); c == nil {
				continue
			}
			c.inflight[seq] = now
			s.pending[seq] = c
			s.noteExpiryLocked(now.Add(s.requestTimeout(c)))
			c.send(s.requestLocked(seq))
			s.log.Debug("request", "seq", seq, "peer", c, "source", c.source)
			asked(c)
		}
		asked(s.askHelperLocked(free, c, seq, now))
		if len(free) == 0 {
			return
		}
	}
}

// anyUnrequestedLocked reports whether some of wanted is not requested.
// While joining, a first chunk asked of one peer only counts as unrequested
// (askHelperLocked).
func (s *Stream) anyUnrequestedLocked(wanted []uint64, now time.Time) bool {
	for _, seq := range wanted {
		if _, ok := s.pending[seq]; !ok || s.wantsHelperLocked(seq, now) {
			return true
		}
	}
	return false
}

// forgetRequestLocked forgets our request to c for chunk seq, if there is
// one, and returns when it was sent. Requests are made in scheduleLocked
// and askHelperLocked, and forgotten only here, which keeps what
// expireRequestsLocked relies on: c.inflight[seq] is set if and only if
// s.pending[seq] or s.helpers[seq] is c.
func (s *Stream) forgetRequestLocked(c *conn, seq uint64) (sentAt time.Time, ok bool) {
	sentAt, ok = c.inflight[seq]
	if ok {
		delete(c.inflight, seq)
		if s.pending[seq] == c {
			delete(s.pending, seq)
		}
		if s.helpers[seq] == c {
			delete(s.helpers, seq)
		}
	}
	return sentAt, ok
}

// cancelRequestLocked forgets our request to c for chunk seq, if there is
// one, and tells c with a Cancel.
func (s *Stream) cancelRequestLocked(c *conn, seq uint64) {
	if _, ok := s.forgetRequestLocked(c, seq); ok {
		c.send(&wire.Cancel{Seq: seq})
	}
}

// noteExpiryLocked makes the scheduler look at the requests in flight again
// at at, if that is sooner than planned.
func (s *Stream) noteExpiryLocked(at time.Time) {
	if s.expireAt.IsZero() || at.Before(s.expireAt) {
		s.expireAt = at
	}
}

// expireRequestsLocked cancels the requests that took too long; they are
// asked elsewhere, and the peer's window halves. It sets s.expireAt to when
// the next request left would time out. Every request in flight is in
// s.pending or s.helpers (see forgetRequestLocked).
func (s *Stream) expireRequestsLocked(now time.Time) {
	s.expireAt = time.Time{}
	for _, m := range []map[uint64]*conn{s.pending, s.helpers} {
		for seq, c := range m {
			at := c.inflight[seq].Add(s.requestTimeout(c))
			if !now.After(at) {
				s.noteExpiryLocked(at)
				continue
			}
			s.cancelRequestLocked(c, seq)
			c.limit = max(1, c.limit/2)
			s.requestTimedOutLocked(c, seq)
		}
	}
	if !s.expireAt.IsZero() && !s.st.live() {
		// On demand a timeout shrinks as a peer's queue drains or its rate
		// rises: look again within a second.
		if soon := now.Add(time.Second); soon.Before(s.expireAt) {
			s.expireAt = soon
		}
	}
}

// mayAskLocked reports whether c may take another request now: it has
// room in its window, has not just rejected one, is open, and is not a
// viewer that pushes all the tree feeds it takes on (it rejects every pull:
// pushesFullLocked). A live peer uploads one chunk at a time; a second
// request would be rejected, and the reject would wait behind the chunk it
// is sending us.
func (s *Stream) mayAskLocked(c *conn, now time.Time) bool {
	if c.closed() || now.Before(c.busyUntil) || pushLoad(c) >= 1 {
		return false
	}
	limit := c.limit
	if s.st.live() {
		limit = min(limit, liveInflight)
	}
	return len(c.inflight) < limit
}

// requestTimeout is how long a request to c may take before it is asked
// elsewhere: two chunk durations live; on demand, four times what the chunks
// queued at c should take at its measured rate, and at least five seconds.
func (s *Stream) requestTimeout(c *conn) time.Duration {
	if s.st.live() {
		return max(2*s.chunkDuration(), time.Second)
	}
	t := 5 * time.Second
	if c.rate > 0 {
		queued := float64(len(c.inflight)+1) * float64(s.st.manifest.ChunkSize)
		t = max(t, time.Duration(4*queued/c.rate*float64(time.Second)))
	}
	return t
}

// wantedLocked lists missing chunks in the order they should be requested.
// The live list is valid until the next call.
func (s *Stream) wantedLocked() []uint64 {
	if !s.st.live() {
		return s.wantedVODLocked()
	}
	if s.play.started && s.play.t0.IsZero() && !s.holdsLocked(s.play.next) && !s.anyoneHasLocked(s.play.next) {
		// No neighbour advertises the start chunk any more: those that did
		// left, or were banned for lying about it. Choose again.
		s.play.started = false
	}
	if !s.play.started {
		return s.joinProbesLocked()
	}
	return s.wantedLiveLocked()
}

// wantedLiveLocked lists the missing live chunks from the delivery
// position on, earliest deadline first.
func (s *Stream) wantedLiveLocked() []uint64 {
	if !s.knownValid || s.play.ended {
		return nil
	}
	out := s.wanted[:0]
	defer func() { s.wanted = out[:0] }()
	last := min(s.known, s.play.next+s.st.window-1)
	now, fed := time.Now(), s.allFedLocked()
	for seq := s.play.next; seq <= last && len(out) < maxLiveWanted; seq++ {
		if !s.st.has(seq) && !(fed && s.comingLocked(seq, now)) {
			out = append(out, seq)
		}
	}
	return out
}

// wantedVODLocked lists missing on-demand chunks: those right after the read
// position first, in order, then the rest rarest first. A reader that read
// within readerActive (a player) goes before the sink (a file being
// written, which has no deadline).
func (s *Stream) wantedVODLocked() []uint64 {
	n := uint64(s.st.manifest.Chunks())
	pos := s.readPos
	if s.sink != nil && !s.ended && time.Since(s.readAt) > readerActive {
		pos = min(pos, s.play.next)
	}
	var urgent, rest []uint64
	for seq := pos; seq < n && len(urgent) < urgentAhead; seq++ {
		if !s.st.has(seq) {
			urgent = append(urgent, seq)
		}
	}
	count := make(map[uint64]int)
	for _, c := range s.conns {
		for seq := range c.has {
			if !s.st.has(seq) {
				count[seq]++
			}
		}
	}
	for seq := range count {
		if seq < pos || seq >= pos+urgentAhead {
			rest = append(rest, seq)
		}
	}
	salt := s.peer.id[0]
	slices.SortFunc(rest, func(a, b uint64) int {
		if c := cmp.Compare(count[a], count[b]); c != 0 {
			return c
		}
		return cmp.Compare(mix(a, salt), mix(b, salt))
	})
	return append(urgent, rest...)
}

// readerActive is how long after its last read a reader of an on-demand
// stream still steers the scheduler ahead of the sink.
const readerActive = 5 * time.Second

// mix scrambles seq so peers break rarity ties in different orders.
func mix(seq uint64, salt byte) uint64 {
	x := seq ^ uint64(salt)*0x9e3779b97f4a7c15
	x ^= x >> 31
	x *= 0xbf58476d1ce4e5b9
	return x ^ x>>29
}

// queueETA is how long, in seconds, c would take to deliver one more
// request after those in flight, at its measured rate (at least 64 KiB/s).
func queueETA(c *conn) float64 {
	return float64(len(c.inflight)+1) / max(c.rate, 64<<10)
}

// pickPeerLocked chooses who of free to ask for seq: the peer that would
// deliver it soonest. A live source is asked first for an urgent chunk
// (in the stripe trees, only if no free peer holds it), otherwise only as
// a last resort.
func (s *Stream) pickPeerLocked(free []*conn, seq uint64, now time.Time) *conn {
	var best, source *conn
	bestETA := 0.0
	for _, c := range free {
		if _, ok := c.has[seq]; !ok {
			continue
		}
		if c.source && s.st.live() {
			source = c
			continue
		}
		eta := queueETA(c)
		if s.st.live() && (c.sending > 0 || len(c.queued) > 0) {
			// We are uploading to the peer: our request waits behind that
			// chunk on the connection.
			eta += s.chunkDuration().Seconds()
		}
		if s.treesOn() {
			// A parent pushing stripes to children has that much less
			// upload for us.
			eta += pushLoad(c) * s.chunkDuration().Seconds()
		}
		if best == nil || eta < bestETA || !c.source && best.source && eta <= 2*bestETA {
			best, bestETA = c, eta
		}
	}
	if source != nil && s.urgentLocked(seq, now) && (best == nil || !s.treesOn()) {
		// About to miss its deadline: the source surely has it, while
		// peers that advertise a chunk may only hold its head (its sender
		// stalled, or lied), and reject the request when they cannot go on.
		// In the trees a peer advertises only whole chunks, and a chunk
		// late down a tree is late for the whole subtree at once: sent to
		// the source, all their repairs would slow its pushes to the
		// roots, and so the next chunk for everyone.
		return source
	}
	if best != nil {
		return best
	}
	if source != nil && s.sourceAllowedLocked(seq, now) {
		return source
	}
	return nil
}

// sourceAllowedLocked reports whether a live chunk may be requested from the
// source. Once playing: only when it is urgent (the source pushes each chunk
// to a few peers and keeps its upload for rescues). While joining: when no
// free peer has given it for half a chunk duration.
func (s *Stream) sourceAllowedLocked(seq uint64, now time.Time) bool {
	if s.play.t0.IsZero() {
		seen, ok := s.seen[seq]
		return !ok || now.Sub(seen) >= s.chunkDuration()/2
	}
	return s.urgentLocked(seq, now)
}

// urgentLocked reports whether live chunk seq is due within a chunk
// duration, or a second for short chunks: the time left to fetch it from
// the source.
func (s *Stream) urgentLocked(seq uint64, now time.Time) bool {
	return s.dueWithinLocked(seq, now, 1)
}

// dueWithinLocked reports whether live chunk seq is due within the given
// number of chunk durations (each at least a second), once the play clock
// runs.
func (s *Stream) dueWithinLocked(seq uint64, now time.Time, chunks time.Duration) bool {
	d := s.chunkDuration()
	dl, ok := s.play.deadline(seq, d, s.playDelayLocked())
	return ok && dl.Sub(now) < chunks*max(d, time.Second)
}

// liveWaiting is how many live requests a peer whose upload slots are full
// keeps to serve next, instead of rejecting them: the next upload starts the
// moment one ends, rather than when a rejected peer asks again.
const liveWaiting = 1

// waitingUpload is a request kept to serve when an upload slot frees.
type waitingUpload struct {
	c   *conn
	seq uint64
}

// waitUploadLocked keeps a live request that found the upload slots full,
// if there is room; it reports whether it did. A source does not keep
// requests: a viewer rejected by it asks a peer instead.
func (s *Stream) waitUploadLocked(c *conn, seq uint64) bool {
	if s.st == nil || !s.st.live() || s.source || !s.holdsLocked(seq) {
		return false
	}
	s.startWaitingLocked() // earlier requests go first
	if !s.uploadsFullLocked() {
		return false // a slot is free: serve this one now
	}
	s.waiting = slices.DeleteFunc(s.waiting, func(w waitingUpload) bool { return w.c.closed() })
	for _, w := range s.waiting {
		if w.c == c && w.seq == seq {
			return true
		}
	}
	if len(s.waiting) >= liveWaiting {
		// Keep the newest request: a fresh chunk has few holders and each
		// new one serves others sooner, while an older chunk is held by
		// many peers that are idle.
		i := 0
		for j, w := range s.waiting {
			if w.seq < s.waiting[i].seq {
				i = j
			}
		}
		old := s.waiting[i]
		if old.seq >= seq {
			return false
		}
		s.rejectBusyLocked(old.c, old.seq)
		s.waiting[i] = waitingUpload{c, seq}
		return true
	}
	s.waiting = append(s.waiting, waitingUpload{c, seq})
	return true
}

// startWaitingLocked queues kept requests for upload while slots are free.
func (s *Stream) startWaitingLocked() {
	for len(s.waiting) > 0 && s.st != nil && !s.uploadsFullLocked() {
		w := s.waiting[0]
		s.waiting = s.waiting[1:]
		if w.c.closed() {
			continue
		}
		if !s.st.has(w.seq) || len(w.c.queued) >= s.peer.maxServe() {
			w.c.send(&wire.Reject{Seq: w.seq})
			continue
		}
		select {
		case w.c.data <- w.seq:
			s.queueLocked(w.c, w.seq)
		default:
			w.c.send(&wire.Reject{Seq: w.seq})
		}
	}
}

// cancelWaitingLocked forgets a kept request the peer cancelled. The
// cancel may also have freed an upload slot for the next kept request.
func (s *Stream) cancelWaitingLocked(c *conn, seq uint64) {
	s.waiting = slices.DeleteFunc(s.waiting, func(w waitingUpload) bool { return w.c == c && w.seq == seq })
	s.uploadFreedLocked()
}

// maxTurnedAway bounds the peers a live peer remembers having turned away
// as busy, to tell them (wire.Ready) when it has room again.
const maxTurnedAway = 8

// rejectBusyLocked rejects c's live request for seq because the upload
// slots are full, and remembers c: when a slot or the waiting place frees,
// readyLocked tells it, so it asks again then instead of polling.
func (s *Stream) rejectBusyLocked(c *conn, seq uint64) {
	c.send(&wire.Reject{Seq: seq})
	if s.source || s.st == nil || !s.st.live() || slices.Contains(s.turnedAway, c) {
		return
	}
	if len(s.turnedAway) == maxTurnedAway {
		s.turnedAway = slices.Delete(s.turnedAway, 0, 1)
	}
	s.turnedAway = append(s.turnedAway, c)
}

// uploadFreedLocked starts the kept requests an upload slot may have freed
// for, and tells the peers turned away if room is left.
func (s *Stream) uploadFreedLocked() {
	s.startWaitingLocked()
	s.readyLocked()
}

// readyLocked tells as many of the peers turned away as there is room for
// now (a free upload slot, a free waiting place), oldest first, that they
// may ask again. The source does not: it serves only rescues.
func (s *Stream) readyLocked() {
	if s.source || s.st == nil || !s.st.live() {
		return
	}
	room := liveWaiting - len(s.waiting)
	if !s.uploadsFullLocked() {
		room++
	}
	for room > 0 && len(s.turnedAway) > 0 {
		c := s.turnedAway[0]
		s.turnedAway = s.turnedAway[1:]
		if !c.closed() {
			c.send(&wire.Ready{})
			room--
		}
	}
}
