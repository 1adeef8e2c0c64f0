package p2pstream

import (
	"time"

	"github.com/p2pstream/p2pstream/internal/wire"
)

// A source's side of the stripe trees (tree.go): it roots each stripe in
// Fanout children, and when one of them leaves, it takes the stripe's
// orphans on for a moment.
//
// When a stripe's root leaves, nobody but the source has the stripe. Its
// children used to ask the source, which took one of them, while the
// others looked for room in that one's subtree as its depths came back,
// a level a tick; the subtrees below waited parentGrace, and under churn
// the whole tree came apart now and then (swarm lab, 30% churn per
// minute: one run in five at 91.64% continuity). Instead, the source
// takes every child that asks for rerootWindow, as its pushes to a few
// more peers for a few seconds cost little, and the orphaned subtrees
// keep their shape; then it ends the extra feeds one at a time, and each
// extra root finds a parent in a tree that is whole by then.

const (
	// rerootWindow is how long a source takes more roots of a stripe
	// whose root left: the orphans' subtrees wait parentGrace for them.
	rerootWindow = parentGrace + time.Second
	// rerootExtra is how many more roots it takes: as many as a viewer
	// has children.
	rerootExtra = viewerFeeds
	// shedGap is how long a source waits between ending extra roots'
	// feeds of a stripe, so that each finds its place before the next.
	shedGap = time.Second
)

// rootRoomLocked is how many more children a source takes on in stripe i:
// up to Fanout, and rerootExtra more if extra is set (rerootingLocked; for
// a child, orphanOfLocked).
func (s *Stream) rootRoomLocked(i int, extra bool) int {
	n := s.fanout
	if extra {
		n += rerootExtra
	}
	return n - s.stripeFeedsLocked(i)
}

// rerootingLocked reports whether stripe i is within rerootWindow of a
// root's leaving.
func (s *Stream) rerootingLocked(i int, now time.Time) bool {
	return now.Before(s.tree.rerootUntil[i])
}

// orphanOfLocked reports whether c may take an extra root's place in
// stripe i: it was below the root that left, by its filter then, and the
// window is open. Others (a joiner, a peer that drops and reconnects to
// reopen the window) take only Fanout's room.
func (s *Stream) orphanOfLocked(c *conn, i int, now time.Time) bool {
	return s.rerootingLocked(i, now) && c.orphanOf&(1<<i) != 0
}

// rootLeftLocked notes, at a source in the trees, that c is gone: for each
// stripe it fed c, if some peer's filter held c (it had children), the
// peers below it may take extra roots' places for rerootWindow.
func (s *Stream) rootLeftLocked(c *conn, now time.Time) {
	if !s.source || !s.treesOn() || s.closed || c.feed == 0 {
		return
	}
	bits := idBits(c.id) &^ s.sourceBitsLocked()
	for i := range stripes {
		if c.feed&(1<<i) == 0 || s.belowLocked(c, i) == 0 {
			continue
		}
		s.tree.rerootUntil[i] = now.Add(rerootWindow)
		for _, d := range s.conns {
			if d.treeValid && holds(d.tree.Above[i], bits) {
				d.orphanOf |= 1 << i
			} else {
				d.orphanOf &^= 1 << i
			}
		}
		s.log.Debug("tree root left", "stripe", i, "peer", c)
	}
}

// shedRootsLocked ends, at a source, the feed of one extra root of each
// stripe past its rerootWindow, at most one per shedGap: the one with the
// fewest viewers below it, which finds a parent in the others' subtrees. A
// root with most of the tree below it would find none outside its own
// (swarm lab, 30% churn per minute: 88 viewers lost the stripe 2 s after
// such a root was shed).
func (s *Stream) shedRootsLocked(now time.Time) {
	for i := range stripes {
		if s.rootRoomLocked(i, s.rerootingLocked(i, now)) >= 0 || now.Sub(s.tree.shedAt[i]) < shedGap {
			continue
		}
		bit := uint8(1) << i
		var shed *conn
		fewest := 0
		for _, c := range s.conns {
			if c.feed&bit == 0 {
				continue
			}
			if n := s.belowLocked(c, i); shed == nil || n < fewest {
				shed, fewest = c, n
			}
		}
		s.tree.shedAt[i] = now
		shed.feed &^= bit
		shed.send(&wire.Feed{Mask: shed.feed})
		s.log.Debug("tree root shed", "stripe", i, "peer", shed, "below", fewest)
	}
}

// belowLocked estimates how many viewers receive stripe i through c: the
// peers of s whose ancestor filter holds c's bits that are not the
// source's, which every filter holds (0 if none are). A source is
// everyone's peer in a small swarm, and a sample of it in a large one; a
// filter may hold c by chance, which counts alike for every root.
func (s *Stream) belowLocked(c *conn, i int) int {
	me, n := idBits(c.id)&^s.sourceBitsLocked(), 0
	for _, d := range s.conns {
		if d != c && d.treeValid && d.tree.Depth[i] < maxDepth && holds(d.tree.Above[i], me) {
			n++
		}
	}
	return n
}

// keepRootLocked reports whether a source keeps the place of a root of
// stripe i that c asks for, for another peer that may ask for it soon
// (awaits): one whose home is i, or any, if c roots a stripe not its home
// already (it is granted one in grant); and the place has been kept for
// less than feedWait. In a flash crowd everyone asks the source first, for
// every stripe, and the first to ask became the root of every one: one
// whose home was another stripe filled its feeds with its own stripe's
// children, and the tree of a stripe it rooted had no place to grow (swarm
// lab, 1,000 viewers: one stripe fed to its root alone for 30 s, 41.20%
// continuity; three stripes sharing a root's five feeds, 76.15%). A lone
// viewer roots every stripe at once. The wait is bounded so that peers
// that never ask cannot keep a stripe rootless.
func (s *Stream) keepRootLocked(c *conn, i int, grant uint8, now time.Time) bool {
	if home(c.id) == i || s.orphanOfLocked(c, i, now) {
		return false
	}
	if t := s.tree.rootWait[i]; !t.IsZero() && now.Sub(t) >= feedWait {
		return false
	}
	foreign := grant&^(1<<home(c.id)) != 0
	keep := false
	for _, d := range s.conns {
		if d != c && !d.closed() && (foreign || home(d.id) == i) && awaits(d, i, now) {
			keep = true
			break
		}
	}
	switch {
	case !keep:
		s.tree.rootWait[i] = time.Time{} // nobody to keep it for
	case s.tree.rootWait[i].IsZero():
		s.tree.rootWait[i] = now
	}
	return keep
}

// awaits reports whether a source's peer d may soon ask it for stripe i:
// its wire.Tree says it lacks the stripe, or it has sent none yet and
// connected less than feedWait ago (a joiner's Subscribe comes before its
// first Tree; a peer that never sends one, pulling, does not count).
func awaits(d *conn, i int, now time.Time) bool {
	if d.treeValid {
		return d.tree.Depth[i] == wire.NoDepth
	}
	return now.Sub(d.opened) < feedWait
}
