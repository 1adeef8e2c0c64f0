package p2pstream

import (
	"crypto/sha256"
	"math/bits"
	"slices"
	"time"

	"github.com/p2pstream/p2pstream/internal/wire"
)

// Stripe trees: fresh live chunks are pushed down trees, one per stripe,
// besides being pulled. Piece i of every chunk belongs to stripe i mod
// stripes. A viewer subscribes to one parent per stripe (wire.Subscribe),
// and each parent pushes it the head and that stripe's pieces of every
// fresh chunk as they arrive, cut through. A chunk then reaches a viewer
// from several senders at once, each at a fraction of the bitrate, with no
// request, no busy answer and no wait for an upload slot on the way; a
// pulled chunk waits at every hop for a holder to finish its current upload
// (docs/BENCHMARKS.md, "Eighth session"). The pull scheduler stays for what
// the trees miss: joins, a parent gone or slow, churn.
//
// Trees are built greedily: each peer advertises, per stripe, its depth
// below the source, a filter of its ancestors and how many more feeds it
// takes on (wire.Tree); a viewer without a parent for a stripe asks, among
// the neighbours with room (if none has: full ones whose home is the
// stripe, which end a feed of another stripe for it) that do not descend
// from it (checked only if it feeds the stripe to anyone), one whose home
// is the stripe, then the shallowest. A loop (possible while
// advertisements are stale) makes depths count up until maxDepth, where it
// breaks; a parent that stops feeding is left. A viewer moves up to a
// shallower parent when it sees one (tree_climb.go).

const (
	// stripes is how many stripes live chunks are split into.
	stripes = 4
	// allStripes has a bit set for each stripe.
	allStripes = 1<<stripes - 1
	// maxDepth is the deepest a tree may grow: a parent this deep (or
	// deeper: a loop counting up) is not taken or kept.
	maxDepth = 16
	// viewerFeeds is how many stripe feeds a viewer takes on: 1.25 times
	// the bitrate, leaving some upload for pulls.
	viewerFeeds = 5
	// parentGrace is how long a parent that lost its own feed of a
	// stripe is kept, waiting for it to find another. When a stripe's
	// root leaves, nobody but the source has the stripe: the root's
	// children ask the source, which takes them all for a moment
	// (tree_roots.go); if their own children left them meanwhile, the
	// whole tree would come apart (swarm lab, 30% churn per minute: with
	// 1 s, 130-177 viewers left such parents and 93 of 100 missed a
	// chunk; with 2 s, 0-19 and 99.53-99.82% continuity).
	parentGrace = 2 * time.Second
	// feedWait is how long a Subscribe may go unanswered.
	feedWait = time.Second
)

// treeState is a viewer's place in the stripe trees. Guarded by Stream.mu.
type treeState struct {
	parent   [stripes]*conn     // who we asked for, or get, each stripe
	accepted [stripes]bool      // parent[i] said yes
	askedAt  [stripes]time.Time // when parent[i] was asked
	fedAt    [stripes]time.Time // last piece of stripe i from parent[i]
	fedOnce  [stripes]bool      // parent[i] pushed a piece since it said yes
	lostAt   [stripes]time.Time // when parent[i] said it lost its own feed, if it has not found one since
	// left[i] is the ancestor filter bits of the last parent of stripe i
	// that went away or stopped feeding it, at leftAt[i]: for a moment,
	// its descendants' advertisements still say they have the stripe.
	left   [stripes]uint64
	leftAt [stripes]time.Time
	told   wire.Tree // what we advertise
	toldOK bool
	untold bool // some neighbours have not been sent told yet (tellTreeLocked)
	// orphanSince is when s last began to find no parent to ask for some
	// stripe; zero while every stripe has one.
	orphanSince time.Time
	redialAt    time.Time     // when an orphan last asked the tracker for more peers
	redialGap   time.Duration // how long it waits before asking again
	// At a source: until when stripe i takes more roots than Fanout, as
	// one left (rootLeftLocked), and when it last ended an extra one's feed.
	rerootUntil [stripes]time.Time
	// At a source: since when it keeps stripe i's root place for a viewer
	// whose home is i (keepRootLocked); zero while it keeps none.
	rootWait [stripes]time.Time
	shedAt   [stripes]time.Time
	// climb[i] is a shallower peer asked to feed stripe i while parent[i]
	// still does (climbLocked). climbAt[i] is when we last tried to climb
	// in stripe i, or when climb[i] said yes; climbed[i], that parent[i]
	// was climbed to.
	climb   [stripes]*conn
	climbAt [stripes]time.Time
	climbed [stripes]bool
}

// pushState is what a parent has pushed of one chunk to one child.
type pushState struct {
	head bool
	next [stripes]uint16 // per stripe, the next of its pieces to push
}

// treesOn reports whether s takes part in the stripe trees: a live stream
// whose peer does not pull (Peer.Pull).
func (s *Stream) treesOn() bool {
	return s.kind == KindLive && !s.peer.Pull
}

// feedUnits is how many stripe feeds s takes on in all: a source, its
// Fanout copies of the stream; a viewer, viewerFeeds.
func (s *Stream) feedUnits() int {
	if s.source {
		return s.fanout * stripes
	}
	return viewerFeeds
}

// treeStatsLocked returns how many stripes s gets from a parent that said
// yes, the deepest of them, and how many feeds s gives (Stats).
func (s *Stream) treeStatsLocked() (fed, depth, feeds int) {
	if !s.source {
		for i := range stripes {
			if d := s.fedDepthLocked(i); d != wire.NoDepth {
				fed++
				depth = max(depth, int(d))
			}
		}
	}
	return fed, depth, s.feedsLocked()
}

// feedsLocked counts the stripe feeds s gives now.
func (s *Stream) feedsLocked() int {
	n := 0
	for _, c := range s.conns {
		n += bits.OnesCount8(c.feed)
	}
	return n
}

// home is a viewer's home stripe: the one it forwards first. A full parent
// makes room for a child whose home is the stripe by ending a feed to one
// whose home is not, and for any child of its own home stripe by ending a
// feed of another (dropForeignLocked), and children look for parents whose
// home is the stripe first, so each tree grows on a quarter of the
// viewers' upload (SplitStream), and other stripes take what is left.
// Anyone can tell a peer's home from its ID.
func home(id PeerID) int { return int(id[0]) % stripes }

// depthLocked is s's depth in stripe i's tree: 0 at the source.
func (s *Stream) depthLocked(i int) uint8 {
	if s.source {
		return 0
	}
	return s.fedDepthLocked(i)
}

// fedDepthLocked is how deep s receives stripe i.
func (s *Stream) fedDepthLocked(i int) uint8 {
	c := s.tree.parent[i]
	if c == nil || !s.tree.accepted[i] || !c.treeValid || c.tree.Depth[i] >= maxDepth {
		return wire.NoDepth
	}
	return c.tree.Depth[i] + 1
}

// advertLocked is what s tells its peers of its place in the trees.
func (s *Stream) advertLocked(now time.Time) *wire.Tree {
	t := &wire.Tree{}
	for i := range t.Depth {
		t.Depth[i] = wire.NoDepth
		if i < stripes {
			t.Depth[i] = s.depthLocked(i)
			t.Above[i] = s.aboveLocked(i)
		}
	}
	free := s.feedUnits() - s.feedsLocked()
	if s.source {
		free = 0
		for i := range stripes {
			free += max(0, s.rootRoomLocked(i, s.rerootingLocked(i, now)))
		}
	}
	t.Free = uint8(max(0, min(255, free)))
	return t
}

// treeLocked runs on every tick: it leaves parents that are gone, refused,
// too deep or silent, asks new ones, and tells the peers where s stands.
func (s *Stream) treeLocked(now time.Time) {
	if !s.treesOn() || s.st == nil || s.closed {
		return
	}
	if s.source {
		s.shedRootsLocked(now)
	} else {
		s.pickParentsLocked(now)
	}
	t := s.advertLocked(now)
	if !s.tree.toldOK || *t != s.tree.told {
		s.tree.told, s.tree.toldOK, s.tree.untold = *t, true, true
	}
	if s.tree.untold {
		s.tree.untold = s.tellTreeLocked(t, now)
	}
	s.tellHeldLocked()
}

// treeAdvertLocked takes a peer's wire.Tree.
func (s *Stream) treeAdvertLocked(c *conn, m *wire.Tree) {
	for i, a := range m.Above {
		if bits.OnesCount64(a) > 2*maxDepth {
			// More ancestors than a tree may be deep: a filter made to
			// hold everyone, so that no one would take us as a parent.
			m.Depth[i] = wire.NoDepth
		}
	}
	c.tree, c.treeValid = *m, true
	c.freeLeft = int(m.Free)
}

// lacksParentLocked reports whether s has no parent for some stripe.
func (s *Stream) lacksParentLocked() bool {
	return slices.Contains(s.tree.parent[:], nil)
}

// subscribeLocked answers a child's wire.Subscribe: it keeps the feeds the
// child still wants and takes on new ones, its home stripe first, while s
// has room (or makes some: dropForeignLocked, pushDownLocked) and a feed
// of the stripe itself.
func (s *Stream) subscribeLocked(c *conn, m *wire.Subscribe, now time.Time) {
	if !s.treesOn() || s.st == nil {
		c.send(&wire.Feed{})
		return
	}
	want := m.Mask & allStripes
	grant := c.feed & want
	feeds := s.feedsLocked()
	leaf := feeds == 0
	feeds -= bits.OnesCount8(c.feed &^ grant) // what is dropped frees room for the rest
	c.feed = grant
	room := s.feedUnits() - feeds
	for k := range stripes {
		i := (home(s.peer.id) + k) % stripes
		bit := uint8(1) << i
		if want&bit == 0 || grant&bit != 0 || s.depthLocked(i) >= maxDepth-1 || s.tree.parent[i] == c || s.tree.climb[i] == c || s.mayAscendLocked(c, i) {
			continue
		}
		free := room
		if s.source {
			free = s.rootRoomLocked(i, s.orphanOfLocked(c, i, now))
			if free > 0 && s.keepRootLocked(c, i, grant, now) {
				free = 0
			}
		}
		// A source over its Fanout (extra roots not yet shed) pushes
		// none down: the asker would not get the room.
		if free <= 0 && (!s.source && s.ownsLocked(i) && s.dropForeignLocked(i, c) ||
			home(c.id) == i && (!s.source || free == 0) && s.pushDownLocked(i)) {
			free++ // a leaf of another stripe, or of this one, made room
			room++
		}
		if free <= 0 && s.source {
			s.log.Debug("tree refused", "stripe", i)
		}
		if free > 0 {
			if s.source && s.stripeFeedsLocked(i) >= s.fanout {
				c.orphanOf &^= bit
				s.log.Debug("tree extra root", "stripe", i, "peer", c)
			}
			grant |= bit
			room--
			s.tree.rootWait[i] = time.Time{}
		}
	}
	if grant&^c.feed != 0 && c.feed == 0 {
		// Never back: a peer that unsubscribes and subscribes again
		// would otherwise be pushed the newest chunk again each time.
		c.feedFrom = max(c.feedFrom, s.pushFromLocked(c))
	}
	c.feed = grant
	c.send(&wire.Feed{Mask: grant})
	notify(c.pushWake)
	if leaf && grant != 0 && !s.source {
		// No longer a leaf: our parents are told at once, as they end
		// a leaf's feed first to make room (dropForeignLocked) and feed
		// a leaf without checking it is not their ancestor.
		s.scheduleSoon()
	}
}

// stripeFeedsLocked counts the feeds of stripe i s gives now. A source
// roots each stripe's tree in Fanout children of its own: with its feeds
// counted across stripes, the children of some stripes could take them
// all, and then nobody could get the others (swarm lab, 30% churn per
// minute with the trees: the whole crowd at 0% continuity for 10-20 s in
// two runs of fifteen).
func (s *Stream) stripeFeedsLocked(i int) int {
	n := 0
	for _, c := range s.conns {
		n += int(c.feed >> i & 1)
	}
	return n
}

// pushFromLocked is the first chunk a new child c is pushed: for a
// joining viewer (it holds no chunk), the newest stored, so that it has a
// chunk to start with at once; for one that changes parents, the one
// before, as the last parent may have left before pushing it all, and
// then the whole subtree below lacks it (nextPushLocked skips chunks the
// child holds).
func (s *Stream) pushFromLocked(c *conn) uint64 {
	if s.st.len() > 0 {
		if len(c.has) > 0 && s.st.newest > 0 {
			return s.st.newest - 1
		}
		return s.st.newest
	}
	from := uint64(0)
	first := true
	for seq := range s.partials {
		if first || seq < from {
			from, first = seq, false
		}
	}
	return from
}

// treeJoinWait is how long a joining viewer waits for the trees to bring
// it a chunk before it pulls one.
const treeJoinWait = 3 * time.Second

// leaveParentLocked forgets the parent of stripe i. A peer we were
// climbing to in it (climbLocked) becomes the parent, as asked, or as
// having said yes, its grace to start feeding running from then.
func (s *Stream) leaveParentLocked(i int) {
	ts := &s.tree
	ts.parent[i], ts.accepted[i], ts.climbed[i] = nil, false, false
	n := ts.climb[i]
	ts.climb[i] = nil
	if n == nil || s.goneLocked(n) {
		return
	}
	ts.parent[i], ts.askedAt[i] = n, ts.climbAt[i]
	if n.feeds&(1<<i) != 0 {
		ts.accepted[i], ts.fedAt[i], ts.fedOnce[i] = true, ts.climbAt[i], false
	}
}

// idBits is a peer's two bits in the ancestor filters (wire.Tree.Above).
func idBits(id PeerID) uint64 { return 1<<(id[1]%64) | 1<<(id[2]%64) }

// holds reports whether an ancestor filter holds bits, some (a peer with
// those bits may be an ancestor); no bits, no ancestor.
func holds(filter, bits uint64) bool { return bits != 0 && filter&bits == bits }

// aboveLocked is s's ancestor filter in stripe i: its parent's, and s.
func (s *Stream) aboveLocked(i int) uint64 {
	a := idBits(s.peer.id)
	if s.fedDepthLocked(i) != wire.NoDepth {
		a |= s.tree.parent[i].tree.Above[i]
	}
	return a
}

// feedLocked takes a wire.Feed: the answer of a parent, or of a peer we
// climb to (climbLocked).
func (s *Stream) feedLocked(c *conn, m *wire.Feed, now time.Time) {
	ts := &s.tree
	was := c.feeds
	c.feeds = m.Mask & c.asked
	for i := range stripes {
		bit := uint8(1) << i
		if ts.climb[i] == c {
			s.climbAnsweredLocked(i, c.feeds&bit != 0, was&bit == 0, now)
			continue
		}
		if ts.parent[i] != c {
			continue
		}
		if m.Mask&(1<<i) != 0 {
			if !ts.accepted[i] {
				s.log.Debug("tree feed", "reason", "granted", "stripe", i, "peer", c)
				ts.accepted[i], ts.fedAt[i], ts.fedOnce[i] = true, now, false // its grace to start feeding
			}
		} else {
			s.log.Debug("tree feed", "reason", "refused", "stripe", i, "peer", c)
			// Of this stripe only: a source grants Fanout feeds per
			// stripe, so it may refuse one and have room for others. A
			// peer we climbed to that ends the feed at once would draw
			// us off our next parent too, again and again.
			wait := 2 * time.Second
			if ts.climbed[i] && now.Sub(ts.askedAt[i]) < climbGap {
				wait = unfedPenalty
			}
			s.leaveParentLocked(i)
			c.noFeedUntil[i] = now.Add(wait)
			s.scheduleSoon() // ask another at once
		}
	}
}

// noFeedsUntil notes that c failed us as a parent: it is asked for no
// stripe before t.
func (c *conn) noFeedsUntil(t time.Time) {
	for i := range c.noFeedUntil {
		c.noFeedUntil[i] = t
	}
}

// feedsUsLocked reports whether c feeds us stripe i: as our parent, or as
// the shallower peer we climb to (climbLocked).
func (s *Stream) feedsUsLocked(c *conn, i int) bool {
	return c.feeds&(1<<i) != 0 && (s.tree.parent[i] == c || s.tree.climb[i] == c)
}

// fedLocked notes piece index of a chunk from c, checked, for the silence
// check, and reports whether it came down the trees: c feeds us its
// stripe. The first new one (fresh: we lacked it) from a peer we climb to
// makes it our parent. An old one is no sign that a peer feeds us (anyone
// can send one back), nor is a piece from a peer we feed the stripe: we
// would take our own child as a parent, a loop.
func (s *Stream) fedLocked(c *conn, index int, fresh bool, now time.Time) bool {
	i := index % stripes
	if !s.feedsUsLocked(c, i) {
		return false
	}
	if s.tree.climb[i] == c {
		if !fresh || c.feed&(1<<i) != 0 {
			return true
		}
		s.climbedLocked(i, now)
	}
	s.tree.fedAt[i], s.tree.fedOnce[i] = now, true
	return true
}

// emptyStripesLocked notes a live chunk of n pieces stored: for the
// silence check, the parents of the stripes of which it has no piece (a
// low bitrate's short chunks) fed us all there was.
func (s *Stream) emptyStripesLocked(n int, now time.Time) {
	for i := n; i < stripes; i++ {
		if s.tree.accepted[i] {
			s.tree.fedAt[i], s.tree.fedOnce[i] = now, true
		}
		if c := s.tree.climb[i]; c != nil && c.feeds&(1<<i) != 0 {
			s.tree.climbAt[i] = now // nor can the peer we climb to push any
		}
	}
}

// fedDuplicate notes a piece from c that was not needed (the chunk came
// whole, or the piece, from elsewhere first): if c feeds us its stripe and
// the piece matches the chunk's hash, c is feeding us, not silent. Only a
// checked piece counts, so a parent cannot pass for one with junk.
func (s *Stream) fedDuplicate(c *conn, m *wire.Piece, now time.Time) {
	i := int(m.Index % stripes)
	var hashes []byte // never modified once set: read unlocked
	s.mu.Lock()
	if s.feedsUsLocked(c, i) {
		if p := s.partials[m.Seq]; p != nil {
			hashes = p.head.Hashes
		} else if s.st != nil && s.st.live() {
			if ch, ok := s.st.get(m.Seq); ok {
				hashes = ch.hashes
			}
		}
	}
	s.mu.Unlock()
	if uint64(m.Index) >= uint64(len(hashes)/sha256.Size) || !pieceMatches(hashes, int(m.Index), m.Data) {
		return
	}
	s.mu.Lock()
	s.fedLocked(c, i, false, now)
	s.mu.Unlock()
}

// playsAtOnceLocked reports whether a viewer's first live chunk goes to
// the sink as soon as it is held, without holdFirstLocked's wait: in the
// trees chunks come in the order they are cut and at about the same age,
// once every stripe has a parent that said yes; or, for a part sink, that
// was asked (its first piece came down a tree, and Peer.Delay covers the
// rest): the answers take a round trip or more, and a refusal another
// (docs/BENCHMARKS.md, "Twelfth session").
func (s *Stream) playsAtOnceLocked() bool {
	return s.allFedLocked() || s.parts && s.treesOn() && !s.lacksParentLocked()
}

// allFedLocked reports whether every stripe has a parent that said yes.
func (s *Stream) allFedLocked() bool {
	if !s.treesOn() {
		return false
	}
	for i := range stripes {
		if !s.tree.accepted[i] {
			return false
		}
	}
	return true
}

// treeGrace is how long, in chunk durations, a chunk is left to the trees
// after it was first heard of, before it is pulled.
const treeGrace = 3

// comingLocked reports whether live chunk seq may still come down the
// trees: it was first heard of less than treeGrace chunk durations ago,
// and it is not urgent.
func (s *Stream) comingLocked(seq uint64, now time.Time) bool {
	seen, ok := s.seen[seq]
	return ok && !s.urgentLocked(seq, now) && now.Sub(seen) < time.Duration(treeGrace*float64(s.chunkDuration()))
}
