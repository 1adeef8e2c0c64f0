package p2pstream

import (
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/p2pstream/p2pstream/internal/wire"
)

// TestPickParents: a viewer asks, per stripe, a peer whose home it is and
// that is shallowest; one that refuses, or stops feeding, is left and
// another asked.
func TestPickParents(t *testing.T) {
	src := treeConn(1, 0)
	src.source = true
	home1deep, home1, home2 := treeConn(2, 1), treeConn(3, 1), treeConn(4, 2)
	s := liveTestStream(0, src, home1deep, home1, home2)
	s.kind, s.log = KindLive, slog.New(slog.DiscardHandler)
	s.treeAdvertLocked(src, advert(0, 0))
	s.treeAdvertLocked(home1deep, advert(3, 5))
	s.treeAdvertLocked(home1, advert(1, 5))
	s.treeAdvertLocked(home2, advert(2, 5))
	now := time.Now()
	s.pickParentsLocked(now)
	assert.Same(t, src, s.tree.parent[0], "full, but stripe 0 is our home: it makes room for us")
	assert.Same(t, home1, s.tree.parent[1])
	assert.Same(t, home2, s.tree.parent[2])
	assert.NotNil(t, s.tree.parent[3], "some peer, if none has it as home")
	assert.NotZero(t, home1.asked&(1<<1))

	s.feedLocked(home1, &wire.Feed{}, now)
	assert.Nil(t, s.tree.parent[1], "refused")
	s.feedLocked(home2, &wire.Feed{Mask: 1 << 2}, now)
	assert.True(t, s.tree.accepted[2])
	assert.Equal(t, uint8(3), s.fedDepthLocked(2))

	s.pickParentsLocked(now)
	assert.Same(t, home1deep, s.tree.parent[1], "not the one that refused")

	p3 := s.tree.parent[3]
	s.feedLocked(p3, &wire.Feed{Mask: p3.asked}, now)
	later := now.Add(4 * time.Second)
	s.tree.fedAt[3] = later // stripe 3's parent feeds us
	s.pickParentsLocked(later)
	assert.Same(t, home1, s.tree.parent[2], "home2 fed nothing for three chunk durations; of those shallower than we were, home1")
}

// TestRefusalPerStripe: a parent that refuses one stripe may still be
// asked for others at once: a source grants Fanout feeds per stripe.
func TestRefusalPerStripe(t *testing.T) {
	src, other := treeConn(1, 0), treeConn(2, 3)
	src.source = true
	s := liveTestStream(0, src, other)
	s.kind, s.log = KindLive, slog.New(slog.DiscardHandler)
	s.treeAdvertLocked(src, advert(0, 4))
	s.treeAdvertLocked(other, advert(1, 5))
	now := time.Now()
	s.pickParentsLocked(now)
	for i := range stripes {
		require.Same(t, src, s.tree.parent[i], "stripe %d: the source first", i)
	}
	s.feedLocked(src, &wire.Feed{Mask: allStripes &^ (1 << 2)}, now)
	assert.Nil(t, s.tree.parent[2], "refused")

	s.leaveParentLocked(3) // as if it went silent
	s.treeAdvertLocked(src, advert(0, 1))
	s.pickParentsLocked(now.Add(time.Second))
	assert.Same(t, other, s.tree.parent[2], "not asked again for the stripe it refused")
	assert.Same(t, src, s.tree.parent[3], "but for another")
}

// TestFilterOnlyWhenFeeding: a viewer that feeds a stripe to nobody takes
// a parent whose ancestor filter holds it (by chance: it has no
// descendants); one that feeds the stripe does not.
func TestFilterOnlyWhenFeeding(t *testing.T) {
	p, child := treeConn(1, 1), treeConn(2, 2)
	s := liveTestStream(0, p, child)
	s.kind, s.log = KindLive, slog.New(slog.DiscardHandler)
	a := advert(1, 5)
	a.Above[1] = idBits(s.peer.id) | 1<<63
	s.treeAdvertLocked(p, a)
	s.treeAdvertLocked(child, advert(wire.NoDepth, 5))
	now := time.Now()
	assert.Same(t, p, s.bestParentLocked(1, now), "no descendants: the filter is a false positive")

	child.feed = 1<<1 | 1<<2
	assert.Nil(t, s.bestParentLocked(1, now), "p may descend from us through child")
	assert.Same(t, p, s.bestParentLocked(2, now), "not in stripe 2: its filter does not hold us")

	s.tree.parent[1], s.tree.accepted[1], s.tree.fedAt[1] = p, true, now
	s.pickParentsLocked(now)
	assert.Same(t, p, s.tree.parent[1], "a parent taken is not left on its filter")
}

// TestOrphanRedials: a viewer that finds no parent to ask for a stripe
// asks the tracker for more peers after orphanWait, then less and
// less often, and dials more peers meanwhile.
func TestOrphanRedials(t *testing.T) {
	s := liveTestStream(1)
	s.kind, s.log = KindLive, slog.New(slog.DiscardHandler)
	s.redial = make(chan struct{}, 1)
	redialled := func() bool {
		select {
		case <-s.redial:
			return true
		default:
			return false
		}
	}
	t0 := time.Now()
	at := func(d time.Duration) time.Time { return t0.Add(d) }

	s.orphanLocked(true, t0)
	assert.False(t, redialled(), "not at once")
	assert.Zero(t, s.extraDialsLocked(t0))
	s.orphanLocked(true, at(orphanWait))
	assert.True(t, redialled(), "after orphanWait")
	assert.Equal(t, orphanDials, s.extraDialsLocked(at(orphanWait)))
	s.orphanLocked(true, at(orphanWait+time.Second))
	assert.False(t, redialled())
	s.orphanLocked(true, at(2*orphanWait))
	assert.True(t, redialled(), "again after orphanWait")
	s.orphanLocked(true, at(2*orphanWait+orphanWait))
	assert.False(t, redialled(), "then after twice as long")
	s.orphanLocked(true, at(2*orphanWait+2*orphanWait))
	assert.True(t, redialled())

	s.orphanLocked(false, at(time.Minute))
	assert.Zero(t, s.extraDialsLocked(at(time.Minute)), "a parent for every stripe")
	s.orphanLocked(true, at(time.Minute))
	s.orphanLocked(true, at(time.Minute+orphanWait))
	assert.True(t, redialled(), "a new orphaning starts afresh")
}

// TestUnfedParent: a parent that said yes and pushed nothing is left after
// two chunk durations (at least 1 s) and not asked again for unfedPenalty;
// one that pushed a piece is kept until it is silent for three.
func TestUnfedParent(t *testing.T) {
	for _, tt := range []struct {
		name    string
		fed     bool
		after   time.Duration
		kept    bool
		penalty time.Duration
	}{
		{"unfed, in time", false, 1500 * time.Millisecond, true, 0},
		{"unfed", false, 2500 * time.Millisecond, false, unfedPenalty},
		{"fed once", true, 2500 * time.Millisecond, true, 0},
		{"fed once, then silent", true, 3500 * time.Millisecond, false, 10 * time.Second},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := treeConn(1, 1)
			s := liveTestStream(0, p)
			s.kind, s.log, s.info.ChunkDuration = KindLive, slog.New(slog.DiscardHandler), time.Second
			s.treeAdvertLocked(p, advert(1, 5))
			now := time.Now()
			s.tree.parent[1], s.tree.askedAt[1] = p, now
			p.asked = 1 << 1
			s.feedLocked(p, &wire.Feed{Mask: 1 << 1}, now)
			if tt.fed {
				assert.True(t, s.fedLocked(p, 1, true, now))
			}
			later := now.Add(tt.after)
			s.pickParentsLocked(later)
			if tt.kept {
				assert.Same(t, p, s.tree.parent[1])
				return
			}
			assert.NotSame(t, p, s.tree.parent[1], "left")
			assert.Equal(t, later.Add(tt.penalty), p.noFeedUntil[1], "not asked again until")
		})
	}
}
