package p2pstream

import (
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/p2pstream/p2pstream/internal/wire"
)

// climbing sets up a viewer fed stripe 1 at depth 6 by deep since at (and
// until climbGap later), the other stripes by a peer that has no stripe 1,
// with a neighbour one level shallower than deep (not worth a climb), and
// returns it.
func climbing(at time.Time, deep *conn, others ...*conn) *Stream {
	mid, rest := treeConn(9, 1), treeConn(10, 0)
	s := liveTestStream(0, append(others, deep, mid, rest)...)
	s.kind, s.log = KindLive, slog.New(slog.DiscardHandler)
	s.treeAdvertLocked(deep, advert(5, 0))
	s.treeAdvertLocked(mid, advert(4, 5))
	a := advert(1, 0)
	a.Depth[1] = wire.NoDepth
	s.treeAdvertLocked(rest, a)
	ts := &s.tree
	for i := range stripes {
		p := rest
		if i == 1 {
			p = deep
		}
		ts.parent[i], ts.accepted[i], ts.askedAt[i], ts.fedAt[i], ts.fedOnce[i] = p, true, at, at.Add(climbGap), true
		p.asked |= 1 << i
		p.feeds |= 1 << i
	}
	return s
}

// TestClimb: a viewer fed a stripe for climbGap asks a neighbour at least
// climbMin levels shallower to feed it too, and leaves the old parent only
// once the new one has pushed it a new piece.
func TestClimb(t *testing.T) {
	now := time.Now()
	deep, shallow := treeConn(1, 1), treeConn(2, 1)
	s := climbing(now, deep, shallow)
	s.treeAdvertLocked(shallow, advert(2, 5))

	s.pickParentsLocked(now.Add(climbGap - time.Millisecond))
	assert.Nil(t, s.tree.climb[1], "the parent is kept climbGap first")

	later := now.Add(climbGap)
	s.pickParentsLocked(later)
	require.Same(t, shallow, s.tree.climb[1])
	assert.Equal(t, uint8(1<<1), shallow.asked, "asked for the stripe it climbs in")
	assert.NotZero(t, deep.asked&(1<<1), "the old parent still feeds it")

	s.subscribeLocked(shallow, &wire.Subscribe{Mask: 1 << 1}, later)
	assert.Zero(t, lastFeed(shallow).Mask, "the peer we climb to is not fed the stripe by us: a loop")

	s.feedLocked(shallow, &wire.Feed{Mask: shallow.asked}, later)
	assert.Same(t, deep, s.tree.parent[1], "kept until the new one pushes a piece")
	assert.True(t, s.fedLocked(shallow, 1, false, later), "a piece we held counts as pushed")
	assert.Same(t, deep, s.tree.parent[1], "but is no sign that it feeds us: anyone can send one back")
	assert.True(t, s.fedLocked(shallow, 1, true, later))
	assert.Same(t, shallow, s.tree.parent[1])
	assert.True(t, s.tree.accepted[1])
	assert.Nil(t, s.tree.climb[1])
	assert.Zero(t, deep.asked&(1<<1), "the old parent is told at once")
	assert.Equal(t, uint8(3), s.fedDepthLocked(1))

	s.feedLocked(shallow, &wire.Feed{}, later.Add(time.Second))
	assert.True(t, later.Add(unfedPenalty).Before(shallow.noFeedUntil[1]), "climbed to and ended at once: not asked for the stripe for long")
}

// climbAsked is climbing with a peer at depth 1 with room, asked at now to
// feed stripe 1 instead of deep.
func climbAsked(t *testing.T, at, now time.Time) (s *Stream, deep, shallow *conn) {
	deep, shallow = treeConn(1, 1), treeConn(2, 1)
	s = climbing(at, deep, shallow)
	s.treeAdvertLocked(shallow, advert(1, 5))
	s.pickParentsLocked(now)
	require.Same(t, shallow, s.tree.climb[1])
	return s, deep, shallow
}

// TestClimbFails: a climb refused, unanswered, or said yes to with no new
// piece pushed keeps the old parent, and the peer is not asked for the
// stripe again for a while; one whose old parent leaves or refuses
// meanwhile goes on as a new parent's ask; a neighbour one level shallower
// is not worth a climb, nor is a full one.
func TestClimbFails(t *testing.T) {
	at := time.Now().Add(-climbGap)
	now := time.Now()

	full := treeConn(2, 1)
	s := climbing(at, treeConn(1, 1), full)
	s.treeAdvertLocked(full, advert(1, 0))
	s.pickParentsLocked(now)
	assert.Nil(t, s.tree.climb[1], "one level shallower, or full: no climb")

	for _, tc := range []struct {
		name   string
		answer func(s *Stream, to *conn) (at time.Time)
		wait   time.Duration
	}{
		{"refused", func(s *Stream, to *conn) time.Time {
			s.feedLocked(to, &wire.Feed{}, now)
			return now
		}, climbGap},
		{"unanswered", func(s *Stream, to *conn) time.Time {
			later := now.Add(feedWait + time.Millisecond)
			s.pickParentsLocked(later)
			return later
		}, climbGap},
		{"unfed", func(s *Stream, to *conn) time.Time {
			s.feedLocked(to, &wire.Feed{Mask: to.asked}, now)
			s.feedLocked(to, &wire.Feed{Mask: to.asked}, now.Add(time.Second)) // not a new yes
			s.pickParentsLocked(now.Add(2 * time.Second))
			require.Same(t, to, s.tree.climb[1], "two chunk durations to push a piece")
			later := now.Add(2*time.Second + time.Millisecond)
			s.pickParentsLocked(later)
			return later
		}, unfedPenalty},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, deep, shallow := climbAsked(t, at, now)
			when := tc.answer(s, shallow)
			assert.Nil(t, s.tree.climb[1])
			assert.Same(t, deep, s.tree.parent[1])
			assert.True(t, s.tree.accepted[1])
			assert.Equal(t, when.Add(tc.wait), shallow.noFeedUntil[1])
			assert.Zero(t, shallow.noFeedUntil[0], "the other stripes may still be asked of it")
		})
	}

	for _, tc := range []struct {
		name  string
		leave func(s *Stream, deep *conn)
	}{
		{"parent left", func(s *Stream, deep *conn) {
			delete(s.conns, deep.id)
			s.pickParentsLocked(now.Add(time.Millisecond))
		}},
		{"parent refused", func(s *Stream, deep *conn) { s.feedLocked(deep, &wire.Feed{}, now) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, deep, shallow := climbAsked(t, at, now)
			tc.leave(s, deep)
			assert.Same(t, shallow, s.tree.parent[1], "the peer asked to climb to is the parent asked")
			assert.Nil(t, s.tree.climb[1])
			assert.False(t, s.tree.accepted[1])
			s.feedLocked(shallow, &wire.Feed{Mask: shallow.asked}, now)
			assert.True(t, s.tree.accepted[1])
		})
	}
}
