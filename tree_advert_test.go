package p2pstream

import (
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/p2pstream/p2pstream/internal/wire"
)

// TestAdvertDue: a changed advertisement goes to a child, a parent and
// the source at once, to a neighbour looking for a parent at once if it is
// news to it and else after a fifth of advertGap, and to a neighbour fed
// every stripe at once if our room came or went, else after advertGap.
func TestAdvertDue(t *testing.T) {
	now := time.Now()
	told := advert(3, 2) // what the neighbour was told last
	lacking := advert(4, 1)
	lacking.Depth[1] = wire.NoDepth // looking for a parent of stripe 1
	tests := []struct {
		name   string
		feed   uint8      // stripes we push to the neighbour
		feeds  uint8      // stripes it pushes to us
		source bool       // it is the source
		tree   *wire.Tree // its advertisement; nil: none yet
		since  time.Duration
		next   func(*wire.Tree) // the change to our advertisement
		due    bool
	}{
		{name: "child", feed: 1, tree: advert(4, 1), next: func(t *wire.Tree) { t.Above[0] = 9 }, due: true},
		{name: "fed neighbour, depth changed", tree: advert(4, 1), next: func(t *wire.Tree) { t.Depth[0] = 2 }},
		{name: "fed neighbour, room gone", tree: advert(4, 1), next: func(t *wire.Tree) { t.Free = 0 }, due: true},
		{name: "fed neighbour, less room", tree: advert(4, 1), next: func(t *wire.Tree) { t.Free = 1 }},
		{name: "parent, filter changed", feeds: 1, tree: advert(2, 0), next: func(t *wire.Tree) { t.Above[0] = 9 }, due: true},
		{name: "source, filter changed", source: true, tree: advert(0, 0), next: func(t *wire.Tree) { t.Above[0] = 9 }, due: true},
		{name: "fed neighbour, a second later", tree: advert(4, 1), since: advertGap, next: func(t *wire.Tree) { t.Depth[0] = 2 }, due: true},
		{name: "looking, room gone", tree: lacking, next: func(t *wire.Tree) { t.Free = 0 }, due: true},
		{name: "looking, its stripe lost", tree: lacking, next: func(t *wire.Tree) { t.Depth[1] = wire.NoDepth }, due: true},
		{name: "looking, another stripe lost", tree: lacking, next: func(t *wire.Tree) { t.Depth[0] = wire.NoDepth }},
		{name: "looking, depth changed", tree: lacking, next: func(t *wire.Tree) { t.Depth[1] = 2 }},
		{name: "looking, a fifth of a second later", tree: lacking, since: advertGap / 5, next: func(t *wire.Tree) { t.Depth[1] = 2 }, due: true},
		{name: "no advertisement from it yet, a stripe lost", next: func(t *wire.Tree) { t.Depth[0] = wire.NoDepth }, due: true},
		{name: "no advertisement from it yet, depth changed", next: func(t *wire.Tree) { t.Depth[0] = 2 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := treeConn(1, 0)
			c.feed, c.feeds, c.source = tt.feed, tt.feeds, tt.source
			if tt.tree != nil {
				c.tree, c.treeValid = *tt.tree, true
			}
			c.told, c.toldAt = *told, now.Add(-tt.since)
			next := *told
			tt.next(&next)
			assert.Equal(t, tt.due, advertDue(c, &next, now))

			s := liveTestStream(0, c)
			assert.Equal(t, !tt.due, s.tellTreeLocked(&next, now), "some wait")
			if tt.due {
				assert.Equal(t, next, c.told)
				assert.Len(t, c.ctrl, 1)
			} else {
				assert.Equal(t, *told, c.told)
				assert.Empty(t, c.ctrl)
			}
		})
	}
}

// TestFullPusherHaves: a viewer pushing all its feeds serves no pull, so
// its Haves go only to its parents and to neighbours looking for a parent;
// the others get a buffer map once it has a feed to spare again.
func TestFullPusherHaves(t *testing.T) {
	parent, child, fed, looking := treeConn(1, 0), treeConn(2, 0), treeConn(3, 1), treeConn(4, 2)
	s := liveTestStream(3, parent, child, fed, looking)
	s.kind, s.log = KindLive, slog.New(slog.DiscardHandler)
	s.tree.parent[0], s.tree.accepted[0] = parent, true
	parent.feeds = 1
	for _, c := range []*conn{child, fed} {
		c.tree, c.treeValid = *advert(3, 0), true
	}
	child.feed = 0b1111
	fed.feed = 0b0001 // five feeds: full
	require.True(t, s.pushesFullLocked())

	s.announceLocked(2, nil)
	haves := func(c *conn) (n int, maps int) {
		for len(c.ctrl) > 0 {
			switch (<-c.ctrl).(type) {
			case *wire.Have:
				n++
			case *wire.BufferMap:
				maps++
			}
		}
		return n, maps
	}
	for _, tt := range []struct {
		c     *conn
		haves int
	}{{parent, 1}, {child, 0}, {fed, 0}, {looking, 1}} {
		n, _ := haves(tt.c)
		assert.Equal(t, tt.haves, n, "Haves to %v", tt.c)
	}

	s.tellHeldLocked() // still full: nothing
	assert.Empty(t, child.ctrl)
	fed.feed = 0 // a feed to spare again
	s.tellHeldLocked()
	for _, c := range []*conn{child, fed} {
		_, maps := haves(c)
		assert.Equal(t, 1, maps, "buffer map to %v", c)
		assert.False(t, c.owedMap)
	}
	s.tellHeldLocked() // owed once
	assert.Empty(t, child.ctrl)
}
