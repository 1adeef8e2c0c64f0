package p2pstream

import "time"

// Climbing: trees grown greedily are deeper than they need be. A crowd
// joining at once takes whatever parent has room when it asks (swarm lab,
// 1,000 viewers: the deepest stripe at depth p50 12-13, p95 15-16, where
// four levels of five would hold them), and under churn a subtree that
// loses its parent re-attaches wherever there is room (100 viewers, 30%
// churn per minute for three minutes: p95 8 -> 15). Every level adds a
// piece's upload time to the lag of everyone below it. So a viewer whose
// parent of a stripe has fed it for a while, and that sees a neighbour
// climbMin or more levels shallower with room to spare, asks that one too,
// and leaves the old parent only once the new one has pushed it a new
// piece that checks: make before break, no piece is missed on the way (the
// new parent pushes from the chunk before its newest: pushFromLocked), and
// a peer that says yes and pushes nothing new (one that advertises depth 1
// to draw viewers) costs us nothing but the asking.

const (
	// climbMin is how many levels shallower than its parent a peer must
	// be for a viewer to climb to it: one level would swap places with
	// the parent's siblings back and forth.
	climbMin = 2
	// climbGap is how long a viewer keeps a parent of a stripe before it
	// climbs from it, and waits between tries.
	climbGap = 5 * time.Second
)

// climbLocked asks, for each stripe whose parent has fed s for climbGap,
// a peer with room at least climbMin levels shallower to feed it too,
// unless s is pulling chunks the trees missed. It
// gives up on one that has gone, come to descend from s, not said yes
// within feedWait, or said yes and pushed nothing new for two chunk
// durations (not asked again for the stripe for unfedPenalty).
func (s *Stream) climbLocked(now time.Time) {
	ts := &s.tree
	unfed := s.unfedWait()
	// Repairing what the trees missed, s asks no new climb: a move now
	// would add the new parent's duplicates to a late viewer's load.
	repairing := len(s.pending) > 0
	for i := range stripes {
		if c := ts.climb[i]; c != nil {
			granted := c.feeds&(1<<i) != 0
			switch {
			case s.goneLocked(c):
			case c.feed&(1<<i) != 0 || s.mayDescendLocked(c, i) || !granted && now.Sub(ts.climbAt[i]) > feedWait:
				c.noFeedUntil[i] = now.Add(climbGap)
			case granted && now.Sub(ts.climbAt[i]) > unfed:
				s.log.Debug("tree climb unfed", "stripe", i, "peer", c)
				c.noFeedUntil[i] = now.Add(unfedPenalty)
			default:
				continue
			}
			ts.climb[i] = nil
			continue
		}
		p := ts.parent[i]
		if repairing || p == nil || !ts.accepted[i] || !ts.fedOnce[i] || !ts.lostAt[i].IsZero() || p.tree.Depth[i] >= maxDepth || p.tree.Depth[i] < climbMin ||
			now.Sub(ts.askedAt[i]) < climbGap || now.Sub(ts.climbAt[i]) < climbGap {
			continue
		}
		ts.climbAt[i] = now
		if c := s.pickParentLocked(i, now, askClimb, p.tree.Depth[i]-climbMin); c != nil {
			ts.climb[i] = c
			c.freeLeft--
			s.log.Debug("tree climb asked", "stripe", i, "peer", c, "depth", c.tree.Depth[i], "from", p.tree.Depth[i])
		}
	}
}

// climbAnsweredLocked takes the answer to a climb of stripe i: a first
// yes starts the wait for the peer's first piece (climbLocked); a no keeps
// the old parent.
func (s *Stream) climbAnsweredLocked(i int, granted, first bool, now time.Time) {
	ts := &s.tree
	if granted {
		if first {
			ts.climbAt[i] = now
		}
		return
	}
	s.log.Debug("tree climb refused", "stripe", i, "peer", ts.climb[i])
	ts.climb[i].noFeedUntil[i] = now.Add(climbGap)
	ts.climb[i] = nil
}

// climbedLocked makes the peer we climb to in stripe i, which has just
// pushed us a new piece that checks, our parent, and tells the old one at
// once that it feeds us no more.
func (s *Stream) climbedLocked(i int, now time.Time) {
	ts := &s.tree
	c := ts.climb[i]
	s.log.Debug("tree climbed", "stripe", i, "peer", c)
	ts.parent[i], ts.accepted[i], ts.askedAt[i], ts.lostAt[i], ts.climbed[i] = c, true, now, time.Time{}, true
	ts.climb[i] = nil
	s.subscribeMasksLocked()
}
