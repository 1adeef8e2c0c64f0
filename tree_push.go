package p2pstream

import (
	"bufio"
	"context"
	"time"

	"github.com/p2pstream/p2pstream/internal/wire"
)

// Pushing down the stripe trees (tree.go builds them): what a parent sends
// each child and when, how pulled uploads give way to it, and how a viewer
// repairs what the trees missed.

// wakePushesLocked tells the writers of the children fed any of the
// stripes in mask that pieces of them (or a head: allStripes) arrived.
func (s *Stream) wakePushesLocked(mask uint8) {
	for _, c := range s.conns {
		if c.feed&mask != 0 {
			notify(c.pushWake)
		}
	}
}

// pushLoad is the share of its stripe feeds that viewer c gives, as far as
// its last wire.Tree says: 1 when it pushes as many as it takes on, and
// little of its upload is left for a repair.
func pushLoad(c *conn) float64 {
	if !c.treeValid || c.source {
		return 0
	}
	return float64(viewerFeeds-min(viewerFeeds, max(0, c.freeLeft))) / viewerFeeds
}

// pushesFullLocked reports whether s is a viewer in the trees that pushes
// all the feeds it takes on: it then serves no pulled upload. Five feeds
// are 1.25x the bitrate, and its uplink is shared a segment at a time by
// its connections, so a pull beside them leaves each feed no more than it
// needs on a 1.5x uplink, a delay never drains, and the late pieces turn
// whole subtrees' chunks into repairs (docs/BENCHMARKS.md, "Eleventh
// session"). Repairs go to viewers with a feed to spare, or the source.
func (s *Stream) pushesFullLocked() bool {
	return s.treesOn() && !s.source && s.feedsLocked() >= viewerFeeds
}

// push is one frame a parent pushes to a child.
type push struct {
	head  *wire.Head // the chunk's head, or nil for a piece
	seq   uint64
	index int
	data  []byte
}

// maxPushBehind is how far behind the newest chunk a push may still go:
// older chunks are pulled.
const maxPushBehind = 2

// nextPushLocked returns the next frame to push to c: the oldest chunk c
// does not hold whole first, its head first, then its pieces of c's
// stripes in index order, as far as s holds them.
func (s *Stream) nextPushLocked(c *conn) (push, bool) {
	if c.feed == 0 || s.st == nil || !s.st.live() {
		return push{}, false
	}
	top := s.st.newest
	for seq := range s.partials {
		top = max(top, seq)
	}
	if top >= maxPushBehind && c.feedFrom < top-maxPushBehind {
		c.feedFrom = top - maxPushBehind
	}
	for seq := range c.pushed {
		if seq < c.feedFrom {
			delete(c.pushed, seq)
		}
	}
	for seq := c.feedFrom; seq <= top; seq++ {
		if _, held := c.has[seq]; held {
			if seq == c.feedFrom {
				c.feedFrom++ // the child has it whole
				delete(c.pushed, seq)
			}
			continue
		}
		r, ok := s.relayLocked(seq)
		if !ok {
			continue
		}
		ps := c.pushed[seq]
		if ps == nil {
			ps = &pushState{}
			c.pushed[seq] = ps
		}
		if !ps.head {
			ps.head = true
			h := r.head
			return push{head: &h, seq: seq}, true
		}
		n := wire.Pieces(len(r.data))
		p := s.partials[seq]
		done := true
		best := -1
		for i := range stripes {
			if c.feed&(1<<i) == 0 {
				continue
			}
			idx := i + stripes*int(ps.next[i])
			if idx >= n {
				continue
			}
			done = false
			if p != nil && !p.got[idx] {
				continue
			}
			if best < 0 || idx < best {
				best = idx
			}
		}
		if best >= 0 {
			ps.next[best%stripes]++
			return push{seq: seq, index: best, data: piece(r.data, best)}, true
		}
		if done && seq == c.feedFrom {
			c.feedFrom++
			delete(c.pushed, seq)
		}
	}
	return push{}, false
}

// writePushes writes what there is to push to c now, through the upload
// limiter, with control frames between pieces. Each piece is flushed with
// the frames before it (its chunk's head among them): one write a piece,
// which leaves as soon as it is pushed.
func (c *conn) writePushes(ctx context.Context, bw *bufio.Writer) error {
	s := c.s
	lim := s.peer.limiter
	n := 0 // bytes pushed and not yet counted
	defer func() {
		if n > 0 {
			s.mu.Lock()
			s.counters.up += int64(n)
			s.mu.Unlock()
		}
	}()
	s.pushers.Add(1)
	defer s.pushers.Add(-1)
	for {
		// A Feed queued with the change of stripes goes before their
		// first head, or the child would ignore it.
		if err := c.writeQueued(bw); err != nil {
			return err
		}
		s.mu.Lock()
		// Counted as they go: a writer that always has more to push
		// (a source feeding Fanout 4 on a 4x uplink) never returns.
		s.counters.up += int64(n)
		n = 0
		p, ok := s.nextPushLocked(c)
		s.mu.Unlock()
		if !ok {
			return nil
		}
		if p.head != nil {
			if err := c.writeFrame(bw, p.head, false); err != nil {
				return err
			}
			continue
		}
		if lim != nil {
			if err := bw.Flush(); err != nil {
				return err
			}
			if err := lim.WaitN(ctx, len(p.data)); err != nil {
				return err
			}
		}
		if err := c.writePiece(bw, p.seq, p.index, p.data); err != nil {
			return err
		}
		n += len(p.data)
		if err := c.writeQueued(bw); err != nil {
			return err
		}
		if err := bw.Flush(); err != nil {
			return err
		}
	}
}

// requestLocked is the request for live chunk seq: in the trees, for a
// chunk that came down some of them, only the stripes it lacks.
func (s *Stream) requestLocked(seq uint64) wire.Message {
	if p := s.partials[seq]; p != nil && s.treesOn() {
		var missing uint8
		for i, got := range p.got {
			if !got {
				missing |= 1 << (i % stripes)
			}
		}
		if missing != 0 && missing != allStripes {
			return &wire.RequestStripes{Seq: seq, Mask: missing}
		}
	}
	return &wire.Request{Seq: seq}
}

// yieldToPushes holds a pulled upload's next piece while other writers of
// the stream push pieces down the trees, up to maxYield per 16 KiB of the
// piece's n bytes: the pushes feed whole subtrees on time, a pull repairs
// one chunk for one viewer.
func (s *Stream) yieldToPushes(ctx context.Context, n int) {
	limit := maxYield * time.Duration(n) / wire.MaxPieceSize
	if limit <= 0 || s.pushers.Load() == 0 {
		return
	}
	tick := time.NewTicker(yieldStep) // one for the whole wait: a pull storm yields often
	defer tick.Stop()
	for t := time.Duration(0); t < limit && s.pushers.Load() > 0; t += yieldStep {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

const (
	maxYield  = 200 * time.Millisecond
	yieldStep = 2 * time.Millisecond
)
