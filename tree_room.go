package p2pstream

import "github.com/p2pstream/p2pstream/internal/wire"

// Making room in the stripe trees (tree.go): which feed a full viewer ends
// for a child with a better claim on its upload, and which asker it refuses
// as a possible ancestor.

// pushDownLocked ends the feed of stripe i to a child for which i is not
// home and that feeds nobody (a leaf, as far as its wire.Tree says), if
// there is one, and reports whether it did. Ending a feed to a child with
// children of its own cuts a subtree from the stripe for one viewer: at a
// source, the root of a stripe, whose whole tree came apart (swarm lab,
// 30% churn per minute: the root found no parent outside its own subtree,
// and 92 viewers lost the stripe 2 s later); near the top of a forming
// tree, hundreds of viewers, who waited out parentGrace while the cut child
// looked for room in a full crowd (1,000 viewers: 93-367 cut at once).
func (s *Stream) pushDownLocked(i int) bool {
	bit := uint8(1) << i
	for _, c := range s.conns {
		if c.feed&bit != 0 && home(c.id) != i && isLeaf(c) {
			c.feed &^= bit
			c.send(&wire.Feed{Mask: c.feed})
			return true
		}
	}
	return false
}

// isLeaf reports whether c feeds nobody, as far as its wire.Tree says.
func isLeaf(c *conn) bool { return c.treeValid && c.freeLeft >= viewerFeeds }

// dropForeignLocked ends, for a viewer that owns stripe i (ownsLocked), a
// feed of a stripe it does not own to a child other than c for which that
// stripe is not home either, if there is one, and reports whether it did:
// of such children, one that feeds nobody, if any (a leaf, as far as its
// wire.Tree says). A viewer's upload goes to its home stripe first, as in
// SplitStream: the child finds room with its stripe's home viewers, and no
// stripe is left without room while viewers' feeds of other stripes fill
// it (swarm lab, 30% churn per minute: viewers whose 8-12 neighbours were
// all full orphaned for seconds). A stripe's root (fed by the source)
// makes room for its stripe likewise whatever its home, and if it must, by
// ending a feed of another stripe to a child whose home that is: a root
// full of other stripes' feeds would leave its stripe's whole tree without
// a place to grow (swarm lab, 1,000 viewers: one stripe fed to its root
// alone for 30 s, 41.20% continuity).
func (s *Stream) dropForeignLocked(i int, c *conn) bool {
	root := s.depthLocked(i) == 1
	var drop *conn
	var bit uint8
	best := -1
	for _, d := range s.conns {
		if d == c {
			continue
		}
		for j := range stripes {
			b := uint8(1) << j
			if j == i || d.feed&b == 0 || home(d.id) == j && !root || s.ownsLocked(j) {
				continue
			}
			rank := 0
			if home(d.id) != j {
				rank += 2
			}
			if isLeaf(d) {
				rank++
			}
			if rank > best {
				drop, bit, best = d, b, rank
			}
		}
	}
	if drop == nil {
		return false
	}
	drop.feed &^= bit
	drop.send(&wire.Feed{Mask: drop.feed})
	return true
}

// mayAscendLocked reports whether c, which feeds others (its wire.Tree
// says so; a joiner has sent none yet), may be an ancestor of s in stripe
// i: our parent's ancestor filter holds it. Feeding it would close a loop.
// The asker checked our filter too (mayDescendLocked), but in the
// advertisement it had of us, which may be a second old while the trees
// form; ours is our parent's, fresh (swarm lab, 1,000 viewers: a viewer
// cut from its parent asked one 12 levels below it, and 13 viewers and
// their subtrees waited on the loop for 2 s). A Tree does not say which
// stripes a peer feeds: one that feeds only others, held by the filter by
// chance (2 bits of 64 a level), is refused too, and asks elsewhere.
func (s *Stream) mayAscendLocked(c *conn, i int) bool {
	p := s.tree.parent[i]
	return !s.source && c.treeValid && !isLeaf(c) && p != nil && p.treeValid && !p.source && holds(p.tree.Above[i], idBits(c.id)&^s.sourceBitsLocked())
}

// ownsLocked reports whether a viewer's upload goes to stripe i first: its
// home stripe, or one it is a root of (fed by the source). It ends feeds of
// other stripes to make room for it (dropForeignLocked), but never of
// another it owns: a viewer rooting two stripes would end one's feeds for
// the other's children and back, each time cutting a whole subtree (swarm
// lab, 1,000 viewers: 0.51% continuity).
func (s *Stream) ownsLocked(i int) bool {
	return home(s.peer.id) == i || s.depthLocked(i) == 1
}
