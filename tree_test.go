package p2pstream

import (
	"bytes"
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/p2pstream/p2pstream/internal/wire"
)

// treeConn is a test connection to a peer whose home stripe is home.
func treeConn(n, home byte) *conn {
	c := testConn(n*stripes + home)
	c.pushed = make(map[uint64]*pushState)
	c.pushWake = make(chan struct{}, 1)
	c.parts = make(map[uint64]uint8)
	return c
}

// advert is a Tree frame with the given depth in every stripe.
func advert(depth, free uint8) *wire.Tree {
	t := &wire.Tree{Free: free}
	for i := range t.Depth {
		t.Depth[i] = depth
	}
	return t
}

// lastFeed returns the last Feed frame queued at c, or nil.
func lastFeed(c *conn) *wire.Feed {
	var f *wire.Feed
	for {
		select {
		case m := <-c.ctrl:
			if m, ok := m.(*wire.Feed); ok {
				f = m
			}
		default:
			return f
		}
	}
}

// fedViewer is a live viewer's stream whose home stripe is home, holding
// chunks 0..2, fed every stripe by up, and connected to up and others.
func fedViewer(home byte, up *conn, others ...*conn) *Stream {
	s := liveTestStream(3, append([]*conn{up}, others...)...)
	s.kind, s.log = KindLive, slog.New(slog.DiscardHandler)
	s.peer.id = PeerID{home}
	for i := range stripes {
		s.tree.parent[i], s.tree.accepted[i] = up, true
	}
	return s
}

// treeSource is a live source's stream with Fanout 1, holding chunks 0..2
// and connected to conns.
func treeSource(conns ...*conn) *Stream {
	s := liveTestStream(3, conns...)
	s.kind, s.log = KindLive, slog.New(slog.DiscardHandler)
	s.source, s.fanout = true, 1
	return s
}

// TestSubscribe: a parent takes on feeds up to its room, only of stripes
// it receives itself, and makes room for a child whose home is the stripe
// by ending a feed to a leaf for which it is not.
func TestSubscribe(t *testing.T) {
	up := treeConn(1, 0) // our parent in every stripe
	leaves := []*conn{treeConn(2, 1), treeConn(3, 1), treeConn(4, 2), treeConn(5, 3), treeConn(6, 1)}
	interior := treeConn(7, 0)
	s := fedViewer(0, up, append([]*conn{interior}, leaves...)...)
	s.treeAdvertLocked(up, advert(1, 0))
	require.Equal(t, viewerFeeds, s.feedUnits())

	s.subscribeLocked(up, &wire.Subscribe{Mask: allStripes}, time.Now())
	assert.Zero(t, lastFeed(up).Mask, "our own parent is refused")

	for _, c := range leaves {
		s.subscribeLocked(c, &wire.Subscribe{Mask: 1}, time.Now())
		assert.Equal(t, uint8(1), lastFeed(c).Mask)
	}
	assert.Equal(t, uint64(2), leaves[0].feedFrom, "pushed from the newest chunk held")
	assert.Equal(t, viewerFeeds, s.feedsLocked())
	assert.Zero(t, s.advertLocked(time.Now()).Free)

	for _, c := range leaves {
		s.treeAdvertLocked(c, advert(2, viewerFeeds-1)) // each feeds one
	}
	s.subscribeLocked(interior, &wire.Subscribe{Mask: 1}, time.Now())
	assert.Zero(t, lastFeed(interior).Mask, "no leaf to make room: a subtree is not cut for one viewer")
	s.treeAdvertLocked(leaves[3], advert(2, viewerFeeds))
	s.subscribeLocked(interior, &wire.Subscribe{Mask: 1}, time.Now())
	assert.Equal(t, uint8(1), lastFeed(interior).Mask, "a child whose home is the stripe gets in")
	evicted := 0
	for _, c := range leaves {
		if f := lastFeed(c); f != nil {
			assert.Zero(t, f.Mask)
			assert.Same(t, leaves[3], c, "the leaf made room")
			evicted++
		}
	}
	assert.Equal(t, 1, evicted, "one leaf made room")
	assert.Equal(t, viewerFeeds, s.feedsLocked())

	s.tree.parent[2], s.tree.accepted[2] = nil, false
	s.subscribeLocked(interior, &wire.Subscribe{Mask: 1 | 1<<2}, time.Now())
	assert.Equal(t, uint8(1), lastFeed(interior).Mask, "kept its feed; none of a stripe we do not receive")
	s.subscribeLocked(interior, &wire.Subscribe{}, time.Now())
	assert.Zero(t, lastFeed(interior).Mask)
	assert.Equal(t, viewerFeeds-1, s.feedsLocked(), "an ended feed frees its room")
}

// TestSourceRootsEveryStripe: a source takes Fanout children per stripe,
// so the children of some stripes cannot take the room of the others, and
// a child whose home is the stripe takes the place of a root for which it
// is not only while that root feeds nobody.
func TestSourceRootsEveryStripe(t *testing.T) {
	c1, c2, c3, c4 := treeConn(1, 1), treeConn(2, 2), treeConn(3, 3), treeConn(4, 0)
	s := treeSource(c1, c2, c3, c4)
	require.Equal(t, stripes, s.feedUnits())
	s.treeAdvertLocked(c4, advert(2, viewerFeeds)) // fed stripe 0 elsewhere: no root place kept for it

	s.subscribeLocked(c1, &wire.Subscribe{Mask: 1 | 1<<1}, time.Now())
	assert.Equal(t, uint8(1|1<<1), lastFeed(c1).Mask)
	s.subscribeLocked(c2, &wire.Subscribe{Mask: 1 | 1<<2}, time.Now())
	assert.Equal(t, uint8(1<<2), lastFeed(c2).Mask, "stripe 0 has its child: a second one would take stripe 3's room")
	s.subscribeLocked(c3, &wire.Subscribe{Mask: 1 << 3}, time.Now())
	assert.Equal(t, uint8(1<<3), lastFeed(c3).Mask, "the last stripe still gets its root")

	c5 := treeConn(5, 0)
	s.treeAdvertLocked(c1, advert(1, viewerFeeds-1))
	s.subscribeLocked(c5, &wire.Subscribe{Mask: 1}, time.Now())
	assert.Zero(t, lastFeed(c5).Mask, "not in the place of a root that feeds others: the whole tree would come apart")

	s.treeAdvertLocked(c1, advert(1, viewerFeeds))
	s.subscribeLocked(c4, &wire.Subscribe{Mask: 1}, time.Now())
	assert.Equal(t, uint8(1), lastFeed(c4).Mask, "a child whose home is the stripe gets in")
	assert.Equal(t, uint8(1<<1), lastFeed(c1).Mask, "in the place of a leaf for which it is not")
	for i := range stripes {
		assert.Equal(t, 1, s.stripeFeedsLocked(i), "stripe %d", i)
	}
}

// TestNextPush: a child is pushed a chunk's head, then the pieces of its
// stripes in order, as far as they have arrived.
func TestNextPush(t *testing.T) {
	c := treeConn(1, 0)
	s := liveTestStream(0, c)
	s.partials = make(map[uint64]*partial)
	data := bytes.Repeat([]byte{7}, 10*wire.MinPieceSize+100) // 11 pieces of 4 KiB
	s.st.put(Chunk{Seq: 4, Data: data})
	arriving := make([]byte, 8*wire.MinPieceSize) // 8 pieces of 4 KiB
	p := &partial{head: &wire.Head{Seq: 5, Size: uint32(len(arriving))}, data: arriving, got: make([]bool, 8), grew: make(chan struct{})}
	p.got[1], p.got[2], p.got[5] = true, true, true
	s.partials[5] = p
	c.feed, c.feedFrom = 1<<1|1<<2, 4

	var got []string
	for {
		p, ok := s.nextPushLocked(c)
		if !ok {
			break
		}
		if p.head != nil {
			got = append(got, "head")
			assert.Equal(t, p.seq, p.head.Seq)
			continue
		}
		want := data
		if p.seq == 5 {
			want = arriving
		}
		require.Equal(t, len(piece(want, p.index)), len(p.data))
		got = append(got, string(rune('0'+p.seq))+"."+string(rune('a'+p.index)))
	}
	// Chunk 4: pieces 1, 2, 5, 6, 9, 10 (b c f g j k); chunk 5: 1, 2, 5 held.
	assert.Equal(t, []string{"head", "4.b", "4.c", "4.f", "4.g", "4.j", "4.k", "head", "5.b", "5.c", "5.f"}, got)
	assert.Equal(t, uint64(5), c.feedFrom, "chunk 4 is done")

	p.got[6] = true
	next, ok := s.nextPushLocked(c)
	require.True(t, ok)
	assert.Equal(t, 6, next.index, "a piece that arrived later")
	_, ok = s.nextPushLocked(c)
	assert.False(t, ok)
	assert.Equal(t, uint64(6), c.feedFrom, "chunk 5 is done")
}

// TestRequestStripes: a chunk that came down some of the trees is asked
// for by the stripes it lacks; one with none of them, or outside the
// trees, whole.
func TestRequestStripes(t *testing.T) {
	s := liveTestStream(0)
	s.kind = KindLive
	s.partials = map[uint64]*partial{
		5: {got: []bool{true, false, true, true, true, false}}, // pieces 1 and 5: stripe 1
		6: {got: []bool{false, false, false, false, false}},
	}
	assert.Equal(t, &wire.RequestStripes{Seq: 5, Mask: 1 << 1}, s.requestLocked(5))
	s.partials[5].got[3] = false
	assert.Equal(t, &wire.RequestStripes{Seq: 5, Mask: 1<<1 | 1<<3}, s.requestLocked(5))
	assert.Equal(t, &wire.Request{Seq: 6}, s.requestLocked(6), "every stripe missing")
	assert.Equal(t, &wire.Request{Seq: 7}, s.requestLocked(7), "nothing of it yet")
	s.peer.Pull = true
	assert.Equal(t, &wire.Request{Seq: 5}, s.requestLocked(5))
}

// TestServeStripes: a RequestStripes is served as a Request whose upload
// carries the stripes asked for; a later Request for the chunk is whole.
func TestServeStripes(t *testing.T) {
	c := treeConn(1, 0)
	s := liveTestStream(6, c)
	s.uploading = 0
	s.cond = sync.NewCond(&s.mu)
	require.NoError(t, s.handle(c, &wire.RequestStripes{Seq: 5, Mask: 0xF6}))
	out, ok := s.chunkToSend(c, <-c.data)
	require.True(t, ok)
	assert.Equal(t, uint8(0b0110), out.mask, "only stripes that exist")
	s.sent(c, 0, true)

	require.NoError(t, s.handle(c, &wire.RequestStripes{Seq: 4, Mask: 1}))
	require.NoError(t, s.handle(c, &wire.Request{Seq: 4}))
	out, ok = s.chunkToSend(c, <-c.data)
	require.True(t, ok)
	assert.Zero(t, out.mask)
}

// TestResubscribeNotPushedTwice: a child that unsubscribes and subscribes
// again is pushed from where it was, not the newest chunk again.
func TestResubscribeNotPushedTwice(t *testing.T) {
	up, c := treeConn(1, 0), treeConn(2, 0)
	s := liveTestStream(3, up, c)
	s.kind, s.log = KindLive, slog.New(slog.DiscardHandler)
	s.tree.parent[0], s.tree.accepted[0] = up, true
	s.treeAdvertLocked(up, advert(1, 0))
	s.subscribeLocked(c, &wire.Subscribe{Mask: 1}, time.Now())
	require.Equal(t, uint64(2), c.feedFrom)
	c.feedFrom = 3 // chunk 2 pushed
	s.subscribeLocked(c, &wire.Subscribe{}, time.Now())
	s.subscribeLocked(c, &wire.Subscribe{Mask: 1}, time.Now())
	assert.Equal(t, uint64(3), c.feedFrom)
}

// TestPoisonedFilter: an ancestor filter with more bits than a tree may be
// deep is taken for no feed.
func TestPoisonedFilter(t *testing.T) {
	c := treeConn(1, 1)
	s := liveTestStream(0, c)
	t1 := advert(1, 5)
	t1.Above[1] = ^uint64(0) &^ idBits(s.peer.id)
	s.treeAdvertLocked(c, t1)
	assert.Equal(t, uint8(wire.NoDepth), c.tree.Depth[1])
	assert.Equal(t, uint8(1), c.tree.Depth[0])
}

// TestYieldToPushes: a pulled upload waits while a push is under way, up
// to maxYield per 16 KiB, and not at all otherwise. No timing is asserted:
// a wait of 100 pieces' limit (20 s) either returns when the push ends or
// would hang the test.
func TestYieldToPushes(t *testing.T) {
	const long = 100 * wire.MaxPieceSize // a 20 s limit
	s := liveTestStream(0)
	start := time.Now()
	s.yieldToPushes(context.Background(), long)
	assert.Less(t, time.Since(start), maxYield*50, "no push: no wait")

	s.pushers.Add(1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.yieldToPushes(context.Background(), long)
	}()
	time.Sleep(20 * time.Millisecond) // give it time to return early, if it would
	select {
	case <-done:
		t.Fatal("returned while a push was under way")
	default:
	}
	s.pushers.Add(-1)
	<-done // returns once the push is done

	s.pushers.Add(1)
	s.yieldToPushes(context.Background(), wire.MaxPieceSize/100) // 2 ms limit: returns
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	s.yieldToPushes(ctx, long) // returns at once: cancelled
}

// TestRepairsSpareTheTrees: in the trees, an urgent chunk a peer holds
// whole is asked of that peer, not the source, preferring one with feeds
// to spare, and of no second peer; pulling, of the source, and of a second
// peer.
func TestRepairsSpareTheTrees(t *testing.T) {
	now := time.Now()
	tests := []struct {
		name   string
		trees  bool
		loaded bool // the second peer pushes all the feeds it takes on
		want   string
	}{
		{"pulling: the source", false, false, "source"},
		{"trees: a peer", true, false, "peer"},
		{"trees: the peer with feeds to spare", true, true, "spare"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src, peer, spare := testConn(1), testConn(2), testConn(3)
			src.source = true
			peer.treeValid, spare.treeValid = true, true
			spare.freeLeft = viewerFeeds
			if !tt.loaded {
				peer.freeLeft = viewerFeeds
			}
			names := map[*conn]string{src: "source", peer: "peer", spare: "spare"}
			free := []*conn{src, peer}
			if tt.loaded {
				free = append(free, spare)
			}
			for _, c := range free {
				c.has[10] = struct{}{}
			}
			s := &Stream{peer: &Peer{Pull: !tt.trees}, kind: KindLive, st: newLiveStore(30), info: StreamInfo{ChunkDuration: time.Second},
				pending: map[uint64]*conn{}, helpers: map[uint64]*conn{}, conns: map[PeerID]*conn{}, log: slog.New(slog.DiscardHandler)}
			// Playing since 5 s ago, chunk 10 next: due after 1 s and the
			// delay (1.5 s in the trees, 3 s pulling), so overdue: urgent.
			s.play = playout{started: true, t0: now.Add(-5 * time.Second), next: 10, lastSeq: 9, avgDur: time.Second}
			require.True(t, s.urgentLocked(10, now))
			assert.Equal(t, tt.want, names[s.pickPeerLocked(free, 10, now)])

			// Asked of a peer, with holders enough around: pulling, it is
			// asked of a second one too; in the trees, not.
			var holders []*conn
			for n := range byte(4) {
				h := testConn(10 + n)
				h.has[10] = struct{}{}
				s.conns[h.id] = h
				holders = append(holders, h)
			}
			s.pending[10] = holders[0]
			assert.Equal(t, !tt.trees, s.askHelperLocked(holders, holders[0], 10, now) != nil)
		})
	}
}

// TestFullParentTakesNoPulls: in the trees, a viewer that pushes all the
// feeds it takes on serves no pulled upload; with a feed to spare, or
// pulling, it serves one.
func TestFullParentTakesNoPulls(t *testing.T) {
	tests := []struct {
		name  string
		trees bool
		feeds int
		full  bool
	}{
		{"pulling", false, viewerFeeds, false},
		{"trees, a feed to spare", true, viewerFeeds - 1, false},
		{"trees, every feed pushed", true, viewerFeeds, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var children []*conn
			for n := range byte(tt.feeds) {
				c := treeConn(n+1, 0)
				c.feed = 1
				children = append(children, c)
			}
			asker := testConn(99)
			s := liveTestStream(3, append(children, asker)...)
			s.kind, s.log, s.peer.Pull, s.uploading = KindLive, slog.New(slog.DiscardHandler), !tt.trees, 0
			assert.Equal(t, tt.full, s.pushesFullLocked())
			s.serveLocked(asker, 2)
			if tt.full {
				require.Len(t, asker.ctrl, 1)
				assert.Equal(t, &wire.Reject{Seq: 2}, <-asker.ctrl, "rejected at once, not kept")
			} else {
				require.Len(t, asker.data, 1)
				assert.Equal(t, uint64(2), <-asker.data, "served")
			}
		})
	}
}

// TestFullPushersNotAsked: a viewer asks no pull of a neighbour whose Tree
// advert says it pushes all the feeds it takes on, as it would reject it;
// the source, one with a feed to spare, and a peer outside the trees are
// asked.
func TestFullPushersNotAsked(t *testing.T) {
	tests := []struct {
		name   string
		valid  bool // the peer sent a Tree advert
		source bool
		free   int
		want   bool
	}{
		{"every feed pushed", true, false, 0, false},
		{"a feed to spare", true, false, 1, true},
		{"the source, full", true, true, 0, true},
		{"no advert", false, false, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := testConn(1)
			c.treeValid, c.source, c.freeLeft = tt.valid, tt.source, tt.free
			s := liveTestStream(3, c)
			assert.Equal(t, tt.want, s.mayAskLocked(c, time.Now()))
		})
	}
}

// TestPlaysAtOnce: in the trees, a viewer's first chunk goes to the sink at
// once when every stripe has a parent that said yes, or, for a part sink,
// one that was asked.
func TestPlaysAtOnce(t *testing.T) {
	tests := []struct {
		name              string
		trees, parts      bool
		parents, accepted int // stripes with a parent, of them accepted
		want              bool
	}{
		{"pulling", false, true, 0, 0, false},
		{"all stripes fed", true, false, stripes, stripes, true},
		{"whole chunks, a parent yet to answer", true, false, stripes, stripes - 1, false},
		{"parts, a parent yet to answer", true, true, stripes, stripes - 1, true},
		{"parts, a stripe without a parent", true, true, stripes - 1, stripes - 1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &Stream{peer: &Peer{Pull: !tt.trees}, kind: KindLive, parts: tt.parts}
			for i := range tt.parents {
				s.tree.parent[i] = testConn(byte(i + 1))
				s.tree.accepted[i] = i < tt.accepted
			}
			assert.Equal(t, tt.want, s.playsAtOnceLocked())
		})
	}
}

// TestNewParentPushesTheChunkBefore: a parent pushes a joining viewer from
// its newest chunk, and a viewer that changes parents from the one before
// (the last parent may have left before pushing it all), skipping chunks
// the child holds whole.
func TestNewParentPushesTheChunkBefore(t *testing.T) {
	up, joining, moving := treeConn(1, 0), treeConn(2, 0), treeConn(3, 0)
	s := liveTestStream(4, up, joining, moving)
	s.kind, s.log = KindLive, slog.New(slog.DiscardHandler)
	s.tree.parent[0], s.tree.accepted[0] = up, true
	s.treeAdvertLocked(up, advert(1, 5))
	pushed := func(c *conn) []uint64 {
		var seqs []uint64
		for {
			p, ok := s.nextPushLocked(c)
			if !ok {
				return seqs
			}
			if p.head == nil {
				seqs = append(seqs, p.seq)
			}
		}
	}

	s.subscribeLocked(joining, &wire.Subscribe{Mask: 1}, time.Now())
	assert.Equal(t, []uint64{3}, pushed(joining), "the newest, to start with")

	moving.has[0], moving.has[1], moving.has[3] = struct{}{}, struct{}{}, struct{}{}
	s.subscribeLocked(moving, &wire.Subscribe{Mask: 1}, time.Now())
	assert.Equal(t, []uint64{2}, pushed(moving), "the one before; not chunk 3, held")
	assert.Equal(t, uint64(4), moving.feedFrom)
	assert.Empty(t, moving.pushed, "nothing left to push")
}

// TestTreeStats: Stats counts the stripes a viewer gets from a parent that
// said yes, the deepest, and the feeds it gives.
func TestTreeStats(t *testing.T) {
	up, deep, child := treeConn(1, 0), treeConn(2, 1), treeConn(3, 2)
	s := liveTestStream(0, up, deep, child)
	s.kind, s.log = KindLive, slog.New(slog.DiscardHandler)
	s.treeAdvertLocked(up, advert(0, 0))
	s.treeAdvertLocked(deep, advert(3, 5))
	s.tree.parent[0], s.tree.accepted[0] = up, true
	s.tree.parent[1], s.tree.accepted[1] = deep, true
	s.tree.parent[2] = deep // asked, no answer yet
	child.feed = 1<<0 | 1<<1
	st := s.Stats()
	assert.Equal(t, 2, st.TreeStripes)
	assert.Equal(t, 4, st.TreeDepth, "stripe 1, below a parent at depth 3")
	assert.Equal(t, 2, st.TreeFeeds)

	s.peer.Pull = true
	assert.Zero(t, s.Stats().TreeFeeds, "outside the trees")
}
