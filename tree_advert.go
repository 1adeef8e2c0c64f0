package p2pstream

import (
	"time"

	"github.com/p2pstream/p2pstream/internal/wire"
)

// Pacing the stripe trees' advertisements (wire.Tree, treeLocked): who is
// told a change at once, and who later.

// advertGap is how often at most a peer sends its changed advertisement to
// a neighbour it does not feed and that is fed every stripe: such a
// neighbour picks a parent only to climb, and can go by one a second old
// (the parent's answer to a Subscribe has the last word). While a flash
// crowd's trees form, depths, filters and room change at every tick: a
// 1,000-viewer lab run spent half its frames in its first 5 s on wire.Tree
// (181,377 of 346,037).
const advertGap = time.Second

// advertDue reports whether neighbour c is to be sent advertisement t now:
// at once a child (its depth and filters follow ours), a parent and the
// source (which weigh their children's room and filters when they make
// room or re-root a stripe's orphans), and anyone when our room came or
// went (it may pull a repair from us, or ask us for a feed); otherwise one
// fed every stripe after advertGap, one looking for a parent at once if t
// is news to it (advertNews), else after a fifth of advertGap.
func advertDue(c *conn, t *wire.Tree, now time.Time) bool {
	switch since := now.Sub(c.toldAt); {
	case c.feed != 0 || c.feeds != 0 || c.source || (c.told.Free == 0) != (t.Free == 0):
		return true
	case fedAll(c):
		return since >= advertGap
	default:
		return advertNews(c, t) || since >= advertGap/5
	}
}

// advertNews reports whether advertisement t changes, since the last one c
// was told, one of the stripes c lacks: we have it, or had it.
func advertNews(c *conn, t *wire.Tree) bool {
	for i := range stripes {
		if lacks(c, i) && (c.told.Depth[i] == wire.NoDepth) != (t.Depth[i] == wire.NoDepth) {
			return true
		}
	}
	return false
}

// lacks reports whether c's last advertisement says it is fed no stripe i
// (or it sent none).
func lacks(c *conn, i int) bool {
	return !c.treeValid || c.tree.Depth[i] == wire.NoDepth
}

// fedAll reports whether c's last advertisement says it is fed every
// stripe: it is not looking for a parent.
func fedAll(c *conn) bool {
	for i := range stripes {
		if lacks(c, i) {
			return false
		}
	}
	return true
}

// tellTreeLocked sends advertisement t to the neighbours that have not had
// it, when it is due to each (advertDue). It reports whether some wait.
func (s *Stream) tellTreeLocked(t *wire.Tree, now time.Time) (untold bool) {
	for _, c := range s.conns {
		switch {
		case c.told == *t:
		case !advertDue(c, t, now):
			untold = true
		default:
			c.told, c.toldAt = *t, now
			c.send(t)
		}
	}
	return untold
}
