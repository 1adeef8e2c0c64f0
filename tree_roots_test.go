package p2pstream

import (
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/p2pstream/p2pstream/internal/wire"
)

// filterConn is treeConn with its own bits in the ancestor filters.
func filterConn(n, home byte) *conn {
	c := treeConn(n, home)
	c.id[1], c.id[2] = 2*n, 2*n+1
	return c
}

// below is an advert of depth 2 in every stripe under the given ancestors.
func below(free uint8, ancestors ...*conn) *wire.Tree {
	t := advert(2, free)
	for _, a := range ancestors {
		for i := range t.Above {
			t.Above[i] |= idBits(a.id)
		}
	}
	return t
}

// TestReroot: when a stripe's root leaves, its source takes every peer
// that was below it (by its filter) and asks, for rerootWindow, but no
// other; past it, it ends the extra feeds one per shedGap, those with the
// fewest viewers below them first, and keeps the one with the most.
func TestReroot(t *testing.T) {
	root, big, mid, small, late := filterConn(1, 0), filterConn(2, 0), filterConn(3, 0), filterConn(4, 0), filterConn(5, 0)
	under := []*conn{filterConn(6, 1), filterConn(7, 1), filterConn(8, 1)}
	s := treeSource(append(under, root, big, mid, small, late)...)
	for _, c := range []*conn{big, mid, small} {
		s.treeAdvertLocked(c, below(5, root))
	}
	s.treeAdvertLocked(under[0], below(5, root, big))
	s.treeAdvertLocked(under[1], below(5, root, big))
	s.treeAdvertLocked(under[2], below(5, root, mid))
	s.treeAdvertLocked(late, advert(3, 5))
	now := time.Now()

	s.subscribeLocked(root, &wire.Subscribe{Mask: 1}, now)
	require.Equal(t, uint8(1), lastFeed(root).Mask)
	s.subscribeLocked(late, &wire.Subscribe{Mask: 1}, now)
	assert.Zero(t, lastFeed(late).Mask, "stripe 0 has its root")
	assert.Equal(t, uint8(stripes-1), s.advertLocked(now).Free, "the other stripes' roots")

	s.dropLocked(root) // the root leaves
	now = time.Now()
	assert.Equal(t, uint8(stripes+rerootExtra), s.advertLocked(now).Free, "its orphans are welcome")
	for _, c := range []*conn{big, mid} {
		s.subscribeLocked(c, &wire.Subscribe{Mask: 1}, now)
		require.Equal(t, uint8(1), lastFeed(c).Mask, "an orphan is taken at once")
	}
	s.subscribeLocked(late, &wire.Subscribe{Mask: 1}, now)
	assert.Zero(t, lastFeed(late).Mask, "a peer that was not below the root is not")
	s.subscribeLocked(small, &wire.Subscribe{Mask: 1}, now)
	require.Equal(t, uint8(1), lastFeed(small).Mask)
	s.shedRootsLocked(now)
	assert.Equal(t, 3, s.stripeFeedsLocked(0), "none is shed within the window")

	past := now.Add(rerootWindow)
	s.subscribeLocked(late, &wire.Subscribe{Mask: 1}, past)
	assert.Zero(t, lastFeed(late).Mask, "past the window, no more roots")
	s.shedRootsLocked(past)
	assert.Equal(t, &wire.Feed{}, lastFeed(small), "the root with nobody below goes first")
	s.shedRootsLocked(past.Add(shedGap / 2))
	assert.Nil(t, lastFeed(mid), "one per shedGap")
	s.shedRootsLocked(past.Add(shedGap))
	assert.Equal(t, &wire.Feed{}, lastFeed(mid))
	s.shedRootsLocked(past.Add(2 * shedGap))
	assert.Nil(t, lastFeed(big), "the root with the most below it stays")
	assert.Equal(t, 1, s.stripeFeedsLocked(0))
}

// TestLeftParentsSubtree: a viewer whose parent went away does not ask a
// peer below that parent, whose advertisement is stale, until parentGrace
// has passed.
func TestLeftParentsSubtree(t *testing.T) {
	parent, stale, other := filterConn(1, 1), filterConn(2, 1), filterConn(3, 1)
	s := liveTestStream(0, parent, stale, other)
	s.kind, s.log = KindLive, slog.New(slog.DiscardHandler)
	s.treeAdvertLocked(parent, advert(1, 0))
	s.treeAdvertLocked(stale, below(5, parent))
	s.treeAdvertLocked(other, advert(4, 5))
	now := time.Now()
	s.tree.parent[0], s.tree.accepted[0], s.tree.fedAt[0], s.tree.fedOnce[0] = parent, true, now, true

	delete(s.conns, parent.id) // gone
	s.pickParentsLocked(now)
	assert.Same(t, other, s.tree.parent[0], "not the shallower peer below the parent that left")

	assert.True(t, s.belowLeftLocked(stale, 0, now.Add(parentGrace-time.Millisecond)))
	assert.False(t, s.belowLeftLocked(stale, 0, now.Add(parentGrace)), "its advertisement is news by now")
	assert.False(t, s.belowLeftLocked(stale, 1, now), "in the other stripes, the parent did not leave")

	// A parent with the source's bits, which every filter holds, would
	// exclude everyone: none are excluded.
	src, twin := filterConn(4, 0), filterConn(5, 1)
	src.source = true
	twin.id[1], twin.id[2] = src.id[1], src.id[2]
	s.conns[src.id], s.conns[twin.id] = src, twin
	s.treeAdvertLocked(twin, advert(1, 0))
	s.tree.parent[1], s.tree.accepted[1], s.tree.fedAt[1], s.tree.fedOnce[1] = twin, true, now, true
	delete(s.conns, twin.id)
	s.pickParentsLocked(now)
	assert.Zero(t, s.tree.left[1])
}

// TestSourceConns: a live source accepts at least sourceConns connections,
// so that a stripe root's children can reach it when the root leaves.
func TestSourceConns(t *testing.T) {
	s := liveTestStream(0)
	s.kind = KindLive
	assert.Equal(t, 4*defaultMaxPeers, s.maxConns())
	s.source = true
	assert.Equal(t, sourceConns, s.maxConns())
	s.kind = KindVOD
	assert.Equal(t, 4*defaultMaxPeers, s.maxConns(), "a seeder: viewers do not all depend on it")
}

// TestSourceKeepsRootForHome: a source keeps a stripe's root place for a
// viewer whose home is the stripe while one it is connected to lacks the
// stripe (or has just connected), or, if the asker roots another stripe
// not its home already, for any such peer, for feedWait at most; a peer
// silent for longer (pulling) does not count.
func TestSourceKeepsRootForHome(t *testing.T) {
	other, homed := treeConn(1, 1), treeConn(2, 0)
	s := treeSource(other, homed)
	now := time.Now()
	homed.opened = now // just connected: its Tree is on the way

	s.subscribeLocked(other, &wire.Subscribe{Mask: 1 | 1<<1}, now)
	assert.Equal(t, uint8(1<<1), lastFeed(other).Mask, "stripe 0 kept for the viewer whose home it is, not yet heard from")
	s.treeAdvertLocked(homed, advert(wire.NoDepth, viewerFeeds))
	s.subscribeLocked(other, &wire.Subscribe{Mask: 1 | 1<<1}, now.Add(feedWait/2))
	assert.Equal(t, uint8(1<<1), lastFeed(other).Mask, "it lacks stripe 0")
	s.subscribeLocked(other, &wire.Subscribe{Mask: 1 | 1<<1}, now.Add(feedWait))
	assert.Equal(t, uint8(1|1<<1), lastFeed(other).Mask, "it did not ask in time")
	s.treeAdvertLocked(other, advert(1, viewerFeeds)) // a leaf
	s.subscribeLocked(homed, &wire.Subscribe{Mask: 1}, now.Add(feedWait))
	assert.Equal(t, uint8(1), lastFeed(homed).Mask, "in the place of a leaf for which it is not")
	assert.Equal(t, uint8(1<<1), lastFeed(other).Mask)

	s.subscribeLocked(other, &wire.Subscribe{Mask: 1 << 1}, now) // back to stripe 1 only
	s.subscribeLocked(homed, &wire.Subscribe{}, now)
	s.treeAdvertLocked(homed, advert(2, viewerFeeds))
	s.subscribeLocked(other, &wire.Subscribe{Mask: 1 | 1<<1}, now.Add(2*feedWait))
	assert.Equal(t, uint8(1|1<<1), lastFeed(other).Mask, "nobody whose home is stripe 0 lacks it: at once")

	solo, joining, silent := treeConn(3, 1), treeConn(4, 1), treeConn(5, 2)
	s = treeSource(solo, silent)
	s.subscribeLocked(solo, &wire.Subscribe{Mask: allStripes}, now)
	assert.Equal(t, uint8(allStripes), lastFeed(solo).Mask, "nobody else to keep a place for: every stripe at once")
	assert.Equal(t, [stripes]time.Time{}, s.tree.rootWait)

	s.subscribeLocked(solo, &wire.Subscribe{}, now)
	joining.opened = now
	s.conns[joining.id] = joining
	s.subscribeLocked(solo, &wire.Subscribe{Mask: allStripes}, now)
	assert.Equal(t, uint8(1|1<<1), lastFeed(solo).Mask, "its home stripe, and one other: the first to ask roots no more while a joiner may ask")
	s.subscribeLocked(joining, &wire.Subscribe{Mask: allStripes}, now)
	assert.Equal(t, uint8(1<<2|1<<3), lastFeed(joining).Mask)
	assert.Equal(t, [stripes]time.Time{}, s.tree.rootWait, "granted: no wait left to go stale")
}
