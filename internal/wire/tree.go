package wire

// MaxStripes bounds the stripes a live stream is split into for pushing:
// piece i of every chunk belongs to stripe i mod the stream's stripe count.
const MaxStripes = 8

// NoDepth is a stripe depth that says the sender has no feed of the stripe.
const NoDepth = 0xFF

// Tree (type 0x11) tells a peer where the sender stands in the live
// stream's stripe trees: for each stripe, how many hops below the source it
// receives the stripe's pieces (0 at the source, [NoDepth] if it receives
// none), and how many more stripe feeds it would take on (Free).
type Tree struct {
	Depth [MaxStripes]uint8
	Free  uint8
}

// Subscribe (type 0x12) asks the receiver to push the pieces of the
// stripes in Mask (bit s for stripe s) of every fresh live chunk, from now
// on, in place of any earlier Subscribe. A zero Mask ends every feed.
type Subscribe struct{ Mask uint8 }

// Feed (type 0x13) answers a [Subscribe]: the stripes the sender will push
// from now on.
type Feed struct{ Mask uint8 }

// Type returns TypeTree.
func (*Tree) Type() Type { return TypeTree }

// Type returns TypeSubscribe.
func (*Subscribe) Type() Type { return TypeSubscribe }

// Type returns TypeFeed.
func (*Feed) Type() Type { return TypeFeed }

// AppendPayload appends the depths, then Free.
func (m *Tree) AppendPayload(b []byte) []byte { return append(append(b, m.Depth[:]...), m.Free) }

// AppendPayload appends Mask.
func (m *Subscribe) AppendPayload(b []byte) []byte { return append(b, m.Mask) }

// AppendPayload appends Mask.
func (m *Feed) AppendPayload(b []byte) []byte { return append(b, m.Mask) }

const treeLen = MaxStripes + 1

func parseTree(p []byte) *Tree {
	m := &Tree{Free: p[MaxStripes]}
	copy(m.Depth[:], p)
	return m
}
