package wire

import "encoding/binary"

// MaxStripes bounds the stripes a live stream is split into for pushing:
// piece i of every chunk belongs to stripe i mod the stream's stripe count.
const MaxStripes = 8

// NoDepth is a stripe depth that says the sender has no feed of the stripe.
const NoDepth = 0xFF

// Tree (type 0x11) tells a peer where the sender stands in the live
// stream's stripe trees: for each stripe, how many hops below the source it
// receives the stripe's pieces (0 at the source, [NoDepth] if it receives
// none), and how many more stripe feeds it would take on (Free). Above
// is, for each stripe, a 64-bit Bloom filter of the peers the sender
// receives the stripe through, itself included: a peer takes none of its
// own descendants for its parent, which would close a loop.
type Tree struct {
	Depth [MaxStripes]uint8
	Free  uint8
	Above [MaxStripes]uint64
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

// AppendPayload appends the depths, Free, then the filters.
func (m *Tree) AppendPayload(b []byte) []byte {
	b = append(append(b, m.Depth[:]...), m.Free)
	for _, a := range m.Above {
		b = binary.BigEndian.AppendUint64(b, a)
	}
	return b
}

// AppendPayload appends Mask.
func (m *Subscribe) AppendPayload(b []byte) []byte { return append(b, m.Mask) }

// AppendPayload appends Mask.
func (m *Feed) AppendPayload(b []byte) []byte { return append(b, m.Mask) }

const treeLen = MaxStripes + 1 + 8*MaxStripes

func parseTree(p []byte) *Tree {
	m := &Tree{Free: p[MaxStripes]}
	copy(m.Depth[:], p)
	for i := range m.Above {
		m.Above[i] = binary.BigEndian.Uint64(p[MaxStripes+1+8*i:])
	}
	return m
}

// RequestStripes (type 0x14) asks, as a [Request] does, for live chunk Seq,
// but only the pieces of the stripes in Mask: a peer in the stripe trees
// that lacks a stripe of a chunk repairs it without fetching the rest.
type RequestStripes struct {
	Seq  uint64
	Mask uint8
}

// Type returns TypeRequestStripes.
func (*RequestStripes) Type() Type { return TypeRequestStripes }

// AppendPayload appends Seq, then Mask.
func (m *RequestStripes) AppendPayload(b []byte) []byte {
	return append(binary.BigEndian.AppendUint64(b, m.Seq), m.Mask)
}
