package p2pstream

import (
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/p2pstream/p2pstream/internal/wire"
)

// TestHomeStripeFirst: a full viewer asked for its home stripe ends a feed
// of another stripe to a leaf of it (never the asker's own); a viewer that
// finds no parent with room for a stripe asks a full one whose home it is.
func TestHomeStripeFirst(t *testing.T) {
	up := treeConn(1, 0)
	own := []*conn{treeConn(2, 1), treeConn(3, 2)}   // fed stripe 0, our home
	interior, leaf := treeConn(5, 1), treeConn(6, 3) // fed stripe 1: interior's home, not leaf's
	asking, late := treeConn(7, 2), treeConn(8, 2)
	s := fedViewer(0, up, append([]*conn{interior, leaf, asking, late}, own...)...)
	require.Equal(t, 0, home(s.peer.id))
	s.treeAdvertLocked(up, advert(1, 0))
	for _, c := range own {
		c.feed = 1
	}
	interior.feed, leaf.feed, asking.feed = 1<<1, 1<<1, 1<<1
	require.Equal(t, viewerFeeds, s.feedsLocked())

	s.subscribeLocked(asking, &wire.Subscribe{Mask: 1 | 1<<1}, time.Now())
	assert.Equal(t, uint8(1|1<<1), lastFeed(asking).Mask, "our home stripe, and its own feed of stripe 1 kept")
	assert.Zero(t, lastFeed(leaf).Mask, "the other leaf of stripe 1 made room")
	assert.Nil(t, lastFeed(interior), "stripe 1's interior viewer kept")
	assert.Equal(t, viewerFeeds, s.feedsLocked())

	s.subscribeLocked(leaf, &wire.Subscribe{Mask: 1}, time.Now())
	assert.Equal(t, uint8(1), lastFeed(leaf).Mask)
	assert.Equal(t, uint8(1), lastFeed(asking).Mask, "its feed of stripe 1 made room")
	s.subscribeLocked(late, &wire.Subscribe{Mask: 1}, time.Now())
	assert.Zero(t, lastFeed(late).Mask, "full of our home stripe and of an interior viewer: refused")

	// As a child: none with room for stripe 1.
	v := liveTestStream(0, interior, leaf, asking)
	v.kind, v.log = KindLive, slog.New(slog.DiscardHandler)
	for _, c := range []*conn{interior, leaf, asking} {
		c.feed = 0
		v.treeAdvertLocked(c, advert(1, 0))
	}
	now := time.Now()
	assert.Same(t, interior, v.bestParentLocked(1, now), "full, but its home is stripe 1")
	v.treeAdvertLocked(asking, advert(2, 1))
	assert.Same(t, asking, v.bestParentLocked(1, now), "room first")
}

// TestDropForeignPrefersLeaves: of the children fed another stripe, one
// that feeds nobody makes room, not one that forwards it; and a viewer with
// room for one feed gives it to its home stripe first.
func TestDropForeignPrefersLeaves(t *testing.T) {
	forwards, leaf := treeConn(1, 3), treeConn(2, 3)
	s := liveTestStream(0, forwards, leaf)
	s.treeAdvertLocked(forwards, advert(2, viewerFeeds-2))
	s.treeAdvertLocked(leaf, advert(2, viewerFeeds))
	for range 3 {
		forwards.feed, leaf.feed = 1<<1, 1<<1
		require.True(t, s.dropForeignLocked(0, nil))
		assert.Equal(t, uint8(1<<1), forwards.feed)
		assert.Zero(t, leaf.feed)
	}

	up, asker := treeConn(3, 0), treeConn(4, 2)
	v := fedViewer(1, up, asker)
	v.treeAdvertLocked(up, advert(1, 0))
	up.feed = 0
	for _, c := range []*conn{treeConn(5, 1), treeConn(6, 1), treeConn(7, 1), treeConn(8, 1)} {
		c.feed = 1 << 1
		v.conns[c.id] = c
	}
	v.subscribeLocked(asker, &wire.Subscribe{Mask: 1 | 1<<1}, time.Now())
	assert.Equal(t, uint8(1<<1), lastFeed(asker).Mask, "the last feed to our home stripe, not to stripe 0")
}

// TestRootMakesRoom: a stripe's root makes room for its stripe whatever its
// home, if it must by ending a feed to a child whose home that stripe is,
// but never a feed of its home stripe; nor, for its home stripe, a feed of
// the stripe it roots.
func TestRootMakesRoom(t *testing.T) {
	src, homed, own, asker := treeConn(1, 0), treeConn(2, 2), treeConn(3, 1), treeConn(4, 3)
	s := fedViewer(1, src, homed, own, asker)
	s.treeAdvertLocked(src, advert(0, 0)) // the source: we root every stripe
	for _, c := range []*conn{homed, own} {
		s.treeAdvertLocked(c, advert(2, 0))
	}
	homed.feed, own.feed = 1<<2, 1<<1
	for _, c := range []*conn{treeConn(5, 1), treeConn(6, 1), treeConn(7, 1)} {
		c.feed = 1 << 1
		s.conns[c.id] = c
	}
	require.True(t, s.ownsLocked(0))
	require.True(t, s.ownsLocked(1))
	require.True(t, s.ownsLocked(2), "it roots stripe 2 too")

	s.tree.parent[2] = treeConn(8, 2) // no longer roots stripe 2
	s.treeAdvertLocked(s.tree.parent[2], advert(3, 0))
	require.False(t, s.ownsLocked(2))
	s.subscribeLocked(asker, &wire.Subscribe{Mask: 1}, time.Now())
	assert.Equal(t, uint8(1), lastFeed(asker).Mask, "room made for the stripe it roots")
	assert.Zero(t, lastFeed(homed).Mask, "by ending a feed of stripe 2, though its child's home")
	assert.Nil(t, lastFeed(own), "not of its home stripe")

	late := treeConn(9, 1)
	s.conns[late.id] = late
	s.subscribeLocked(late, &wire.Subscribe{Mask: 1 << 1}, time.Now())
	assert.Zero(t, lastFeed(late).Mask, "for its home stripe, no feed of the stripe it roots ends")
	assert.Equal(t, uint8(1), asker.feed)
}

// TestRefuseAncestor: a viewer does not feed a stripe to a peer that feeds
// others and that its parent's ancestor filter holds: it may be an
// ancestor, and the feed would close a loop. A leaf cannot be one.
func TestRefuseAncestor(t *testing.T) {
	up, ancestor, leaf := filterConn(1, 0), filterConn(2, 0), filterConn(3, 0)
	s := fedViewer(0, up, ancestor, leaf)
	s.resched = make(chan struct{}, 1)
	s.treeAdvertLocked(up, below(0, ancestor, leaf)) // both in its filter
	s.treeAdvertLocked(ancestor, advert(wire.NoDepth, viewerFeeds-2))
	s.treeAdvertLocked(leaf, advert(wire.NoDepth, viewerFeeds))

	s.subscribeLocked(ancestor, &wire.Subscribe{Mask: 1}, time.Now())
	assert.Zero(t, lastFeed(ancestor).Mask, "it may be our ancestor")
	assert.Empty(t, s.resched, "no grant, nothing to tell")
	s.subscribeLocked(leaf, &wire.Subscribe{Mask: 1}, time.Now())
	assert.Equal(t, uint8(1), lastFeed(leaf).Mask, "a leaf descends from nobody")
	joiner := filterConn(4, 0)
	s.conns[joiner.id] = joiner
	s.treeAdvertLocked(up, below(0, joiner))
	s.subscribeLocked(joiner, &wire.Subscribe{Mask: 1}, time.Now())
	assert.Equal(t, uint8(1), lastFeed(joiner).Mask, "a joiner that has sent no Tree yet feeds nobody")
	assert.Len(t, s.resched, 1, "no longer a leaf: our parent is told at once")
}

// TestDropForeignOrder: a viewer making room for a stripe it owns ends,
// of its feeds of stripes it does not own, one to a leaf whose home that
// stripe is not first, then one to such a child that feeds others, and
// only at a root one to a child whose home the stripe is.
func TestDropForeignOrder(t *testing.T) {
	src, homed, forwards, leaf := treeConn(1, 0), treeConn(2, 2), treeConn(3, 3), treeConn(4, 3)
	s := fedViewer(1, src, homed, forwards, leaf)
	s.treeAdvertLocked(src, advert(3, 0)) // not a root: owns stripe 1 only
	s.treeAdvertLocked(homed, advert(5, viewerFeeds))
	s.treeAdvertLocked(forwards, advert(5, viewerFeeds-1))
	s.treeAdvertLocked(leaf, advert(5, viewerFeeds))
	homed.feed, forwards.feed, leaf.feed = 1<<2, 1<<2, 1<<2

	require.True(t, s.dropForeignLocked(1, nil))
	assert.Zero(t, leaf.feed, "the leaf first")
	require.True(t, s.dropForeignLocked(1, nil))
	assert.Zero(t, forwards.feed, "then one that feeds others")
	assert.False(t, s.dropForeignLocked(1, nil), "not a child whose home the stripe is")
	assert.Equal(t, uint8(1<<2), homed.feed)

	s.treeAdvertLocked(src, advert(0, 0)) // now a root of every stripe: it owns them all
	assert.False(t, s.dropForeignLocked(1, nil), "a stripe it owns is never cut")
	s.tree.parent[2] = treeConn(5, 2)
	s.treeAdvertLocked(s.tree.parent[2], advert(3, 0))
	s.tree.accepted[2] = true
	require.True(t, s.dropForeignLocked(0, nil), "a root, if it must, cuts a child whose home the stripe is")
	assert.Zero(t, homed.feed)
}
