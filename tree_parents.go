package p2pstream

import (
	"math/bits"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/p2pstream/p2pstream/internal/wire"
)

// A viewer's side of the stripe trees (tree.go): keeping one working parent
// per stripe, choosing a new one, and asking for more peers when none can
// be asked.

// pickParentsLocked keeps one working parent per stripe.
func (s *Stream) pickParentsLocked(now time.Time) {
	ts := &s.tree
	silent := 3 * max(s.chunkDuration(), time.Second)
	unfed := s.unfedWait()
	for i := range stripes {
		c := ts.parent[i]
		if c == nil {
			continue
		}
		reason := ""
		switch {
		case s.goneLocked(c):
			reason = "gone"
		case !ts.accepted[i] && now.Sub(ts.askedAt[i]) > feedWait:
			c.noFeedsUntil(now.Add(5 * time.Second))
			reason = "unanswered"
		case ts.accepted[i] && (!c.treeValid || c.tree.Depth[i] >= maxDepth):
			// The parent lost its own feed: it may find another at once,
			// so wait a moment rather than dissolve the subtree below.
			if ts.lostAt[i].IsZero() {
				ts.lostAt[i] = now
			}
			if now.Sub(ts.lostAt[i]) < parentGrace {
				continue
			}
			reason = "deep"
		case ts.accepted[i] && !ts.fedOnce[i] && now.Sub(ts.fedAt[i]) > unfed:
			// Said yes and pushed nothing: an honest parent has a feed
			// of the stripe and pushes its next piece within a chunk
			// or so. One that only offers itself (an adversary that
			// advertises depth 1 everywhere) is not asked again soon.
			c.noFeedsUntil(now.Add(unfedPenalty))
			reason = "unfed"
		case ts.accepted[i] && now.Sub(ts.fedAt[i]) > silent:
			c.noFeedsUntil(now.Add(10 * time.Second))
			reason = "silent"
		default:
			ts.lostAt[i] = time.Time{}
			continue // keep it
		}
		ts.lostAt[i] = time.Time{}
		if reason == "gone" || reason == "deep" || reason == "silent" {
			// Less the source's bits, which every filter holds: a
			// parent with the same bits would exclude everyone.
			ts.left[i], ts.leftAt[i] = idBits(c.id)&^s.sourceBitsLocked(), now
		}
		s.log.Debug("tree parent left", "reason", reason, "stripe", i, "peer", c, "depth", c.tree.Depth[i])
		s.leaveParentLocked(i)
	}
	orphan := false
	for i := range stripes {
		if ts.parent[i] == nil {
			if c := s.bestParentLocked(i, now); c != nil {
				ts.parent[i], ts.accepted[i], ts.askedAt[i] = c, false, now
				s.log.Debug("tree parent asked", "source", c.source, "stripe", i, "peer", c)
				c.freeLeft--
			} else {
				orphan = true
			}
		}
	}
	s.orphanLocked(orphan, now)
	s.climbLocked(now)
	s.subscribeMasksLocked()
}

// subscribeMasksLocked tells each peer the stripes we want from it (as a
// parent, or a shallower one asked to become it: climbLocked), where that
// changed.
func (s *Stream) subscribeMasksLocked() {
	ts := &s.tree
	for _, c := range s.conns {
		var want uint8
		for i := range stripes {
			if ts.parent[i] == c || ts.climb[i] == c {
				want |= 1 << i
			}
		}
		if want != c.asked {
			c.asked = want
			c.send(&wire.Subscribe{Mask: want})
		}
	}
}

// unfedWait is how long a peer that said yes to a stripe has to push a
// piece of it: two chunk durations, at least a second.
func (s *Stream) unfedWait() time.Duration { return max(2*s.chunkDuration(), time.Second) }

// unfedPenalty is how long a parent that said yes to a stripe and pushed
// none of it is not asked for any stripe (pickParentsLocked).
const unfedPenalty = 30 * time.Second

// orphanWait is how long a viewer finds no parent to ask for some stripe
// before it dials more peers (orphanDials): under churn, a late joiner's
// neighbours may all push every feed they take on, refuse its Subscribes
// and reject its pulls (pushesFullLocked), and it starves (swarm lab, 30%
// churn per minute: one late joiner at 35% continuity). It asks the
// tracker again after orphanWait, then after twice as long each time, up
// to orphanMaxGap.
const (
	orphanWait   = 2 * time.Second
	orphanMaxGap = 30 * time.Second
	orphanDials  = 4
)

// orphanLocked notes whether s found no parent to ask for some stripe, and
// asks the tracker for more peers when that has lasted orphanWait, backing
// off while it lasts.
func (s *Stream) orphanLocked(orphan bool, now time.Time) {
	ts := &s.tree
	switch {
	case !orphan:
		ts.orphanSince, ts.redialGap = time.Time{}, 0
	case ts.orphanSince.IsZero():
		ts.orphanSince = now
	case now.Sub(ts.orphanSince) >= orphanWait && now.Sub(ts.redialAt) >= ts.redialGap:
		ts.redialAt = now
		ts.redialGap = min(orphanMaxGap, max(orphanWait, 2*ts.redialGap))
		s.log.Debug("tree orphan: dialling more peers")
		notify(s.redial)
	}
}

// extraDialsLocked is how many peers s dials beyond Peer.MaxPeers:
// orphanDials while it has found no parent for some stripe for orphanWait.
func (s *Stream) extraDialsLocked(now time.Time) int {
	if t := s.tree.orphanSince; s.treesOn() && !t.IsZero() && now.Sub(t) >= orphanWait {
		return orphanDials
	}
	return 0
}

// bestParentLocked picks a parent for stripe i among the peers that feed
// it, have room (if none has, full ones whose home it is), are not fed it
// by us, and have not refused or failed us lately: the best by better.
func (s *Stream) bestParentLocked(i int, now time.Time) *conn {
	if c := s.pickParentLocked(i, now, askRoom, maxDepth-1); c != nil {
		return c
	}
	// None with room: one whose home is the stripe makes room for us by
	// ending a feed of another stripe (subscribeLocked).
	return s.pickParentLocked(i, now, askFull, maxDepth-1)
}

// parentAsk says which peers pickParentLocked considers, besides those
// with room.
type parentAsk int

const (
	// askRoom: full ones too if the stripe is our home (they end a feed
	// of it to a child whose home it is not, for us).
	askRoom parentAsk = iota
	// askFull: also full viewers whose home is the stripe (they end a
	// feed of another stripe for us).
	askFull
	// askClimb: none: a climb must not cost another viewer its feed.
	askClimb
)

// pickParentLocked is bestParentLocked among the peers at most depth deep
// in stripe i with room, and the full ones ask lets through.
func (s *Stream) pickParentLocked(i int, now time.Time, ask parentAsk, depth uint8) *conn {
	feeding := s.stripeFeedsLocked(i) > 0
	cands := s.cands[:0]
	defer func() {
		clear(cands)
		s.cands = cands[:0]
	}()
	var best *conn
	for _, c := range s.conns {
		if c.closed() || !c.treeValid || c.tree.Depth[i] > depth || feeding && s.mayDescendLocked(c, i) || s.belowLeftLocked(c, i, now) ||
			c.freeLeft <= 0 && (ask == askClimb || home(s.peer.id) != i && !(ask == askFull && !c.source && home(c.id) == i)) ||
			c.feed&(1<<i) != 0 || s.tree.climb[i] == c || now.Before(c.noFeedUntil[i]) {
			continue
		}
		cands = append(cands, c)
		if best == nil || better(c, best, i) {
			best = c
		}
	}
	if best == nil {
		return nil
	}
	// Of those about as good as the best, one at random: a crowd joining
	// at once would otherwise all ask the same peer.
	cands = slices.DeleteFunc(cands, func(c *conn) bool {
		return home(c.id) == i != (home(best.id) == i) || c.source != best.source || c.tree.Depth[i] > best.tree.Depth[i]+1
	})
	return cands[rand.IntN(len(cands))]
}

// better reports whether a is a better parent for stripe i than b: one
// whose home is i (the source counts as such), then the shallower, then one that
// feeds us fewer stripes.
func better(a, b *conn, i int) bool {
	ha, hb := a.source || home(a.id) == i, b.source || home(b.id) == i
	if ha != hb {
		return ha
	}
	if a.tree.Depth[i] != b.tree.Depth[i] {
		return a.tree.Depth[i] < b.tree.Depth[i]
	}
	return bits.OnesCount8(a.asked) < bits.OnesCount8(b.asked)
}

// belowLeftLocked reports whether c may descend, in stripe i, from the
// parent s just left because it went away or lost the stripe: for a
// moment, until the news has gone down that parent's subtree, c still
// advertises a depth it no longer has. Asking it would close a loop or
// wait on a feed that is not coming (swarm lab, 30% churn per minute: the
// children of a stripe's only root that left took parents in each other's
// subtrees, the loop's depths counted up to maxDepth and the whole tree
// came apart 3 s later, 95.62% continuity).
func (s *Stream) belowLeftLocked(c *conn, i int, now time.Time) bool {
	return !c.source && now.Sub(s.tree.leftAt[i]) < parentGrace && holds(c.tree.Above[i], s.tree.left[i])
}

// sourceBitsLocked is the source's bits in the ancestor filters, if s is
// connected to it (or is it), else 0.
func (s *Stream) sourceBitsLocked() uint64 {
	if s.source {
		return idBits(s.peer.id)
	}
	for _, c := range s.conns {
		if c.source {
			return idBits(c.id)
		}
	}
	return 0
}

// mayDescendLocked reports whether c's ancestor filter in stripe i holds
// s: c may receive the stripe through s, and taking it as a parent could
// close a loop. The filter is only checked by a viewer that feeds the
// stripe to someone (pickParentLocked): one that feeds nobody has no
// descendants. With two bits of 64 per peer, and the source's and the
// root's bits in every filter of a tree, a neighbourhood's filters hold
// some viewer by chance, and it could never get the stripe (swarm lab,
// 30% churn per minute: a viewer with 14 of its 15 neighbours excluded as
// its descendants for 12 s). A parent once taken is not left on its
// filter: a loop's depths count up to maxDepth, where it breaks.
func (s *Stream) mayDescendLocked(c *conn, i int) bool {
	return !c.source && holds(c.tree.Above[i], idBits(s.peer.id))
}
