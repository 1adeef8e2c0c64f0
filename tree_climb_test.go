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
// until climbGap later), with a neighbour one level shallower than deep
// (not worth a climb), and returns it.
func climbing(at time.Time, deep *conn, others ...*conn) *Stream {
	mid := treeConn(9, 1)
	s := liveTestStream(0, append(others, deep, mid)...)
	s.kind, s.log = KindLive, slog.New(slog.DiscardHandler)
	s.treeAdvertLocked(deep, advert(5, 0))
	s.treeAdvertLocked(mid, advert(4, 5))
	ts := &s.tree
	ts.parent[1], ts.accepted[1], ts.askedAt[1], ts.fedAt[1], ts.fedOnce[1] = deep, true, at, at.Add(climbGap), true
	deep.asked = 1 << 1
	return s
}

// TestClimb: a viewer fed a stripe for climbGap asks a neighbour at least
// climbMin levels shallower to feed it too, and leaves the old parent only
// once the new one says yes.
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
	assert.Same(t, deep, s.tree.parent[1], "kept until the new one says yes")
	assert.NotZero(t, deep.asked&(1<<1))
	assert.NotZero(t, shallow.asked&(1<<1))

	s.feedLocked(shallow, &wire.Feed{Mask: shallow.asked}, later)
	assert.Same(t, deep, s.tree.parent[1], "kept until the new one pushes a piece")
	assert.True(t, s.fedLocked(shallow, 1, later), "its pieces count as pushed")
	assert.Same(t, shallow, s.tree.parent[1])
	assert.True(t, s.tree.accepted[1])
	assert.Nil(t, s.tree.climb[1])
	assert.Zero(t, deep.asked&(1<<1), "the old parent is told at once")
	assert.Equal(t, uint8(3), s.fedDepthLocked(1))
}

// TestClimbFails: a climb refused, unanswered, or said yes to with no
// piece pushed keeps the old parent; one whose old parent leaves meanwhile
// goes on as a new parent's ask; a neighbour one level shallower is not
// worth a climb.
func TestClimbFails(t *testing.T) {
	at := time.Now().Add(-climbGap)
	now := time.Now()

	deep := treeConn(1, 1)
	s := climbing(at, deep)
	s.pickParentsLocked(now)
	assert.Nil(t, s.tree.climb[1], "one level shallower: no climb")

	for _, tc := range []struct {
		name   string
		answer func(s *Stream, to *conn)
	}{
		{"refused", func(s *Stream, to *conn) { s.feedLocked(to, &wire.Feed{}, now) }},
		{"unanswered", func(s *Stream, to *conn) { s.pickParentsLocked(now.Add(feedWait + time.Millisecond)) }},
		{"unfed", func(s *Stream, to *conn) {
			s.feedLocked(to, &wire.Feed{Mask: to.asked}, now)
			s.pickParentsLocked(now.Add(2 * time.Second))
			require.Same(t, to, s.tree.climb[1], "two chunk durations to push a piece")
			s.pickParentsLocked(now.Add(2*time.Second + time.Millisecond))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			deep, shallow := treeConn(1, 1), treeConn(2, 1)
			s := climbing(at, deep, shallow)
			s.treeAdvertLocked(shallow, advert(1, 5))
			s.pickParentsLocked(now)
			require.Same(t, shallow, s.tree.climb[1])
			tc.answer(s, shallow)
			assert.Nil(t, s.tree.climb[1])
			assert.Same(t, deep, s.tree.parent[1])
			assert.True(t, s.tree.accepted[1])
			assert.True(t, now.Before(shallow.noFeedUntil[1]), "not asked again at once")
		})
	}

	t.Run("parent left", func(t *testing.T) {
		deep, shallow := treeConn(1, 1), treeConn(2, 1)
		s := climbing(at, deep, shallow)
		s.treeAdvertLocked(shallow, advert(1, 5))
		s.pickParentsLocked(now)
		require.Same(t, shallow, s.tree.climb[1])
		delete(s.conns, deep.id)
		s.pickParentsLocked(now.Add(time.Millisecond))
		assert.Same(t, shallow, s.tree.parent[1], "the peer asked to climb to is the parent asked")
		assert.False(t, s.tree.accepted[1])
		s.feedLocked(shallow, &wire.Feed{Mask: shallow.asked}, now)
		assert.True(t, s.tree.accepted[1])
	})
}
