package adversary

import (
	"github.com/p2pstream/p2pstream/internal/wire"
)

// gotReal keeps a real chunk the honest peer sent; a Replayer pushes it
// straight back, and an older one: duplicates.
func (s *session) gotReal(c *wire.Chunk) error {
	s.p.keep(c)
	if s.p.cfg.Kind != Replayer {
		return nil
	}
	if !s.told {
		s.told = true
		if err := s.advertise(); err != nil {
			return err
		}
	}
	if err := s.write(c); err != nil {
		return err
	}
	if old := s.p.older(c.Seq); old != nil {
		if err := s.write(old); err != nil {
			return err
		}
	}
	s.badFrame()
	return nil
}

// pushPieces sends chunk c the way a tree parent pushes one: its head
// (with the hashes of c's data, and c's signature) and its pieces; with
// pollute, one byte of each piece is changed.
func (s *session) pushPieces(c *wire.Chunk, pollute bool) error {
	head := &wire.Head{Seq: c.Seq, Timestamp: c.Timestamp, Flags: c.Flags, Size: uint32(len(c.Data)), Sig: c.Sig, Hashes: wire.PieceHashes(c.Data)}
	if err := s.write(head); err != nil {
		return err
	}
	for i := range wire.Pieces(len(c.Data)) {
		start, end := wire.PieceBounds(len(c.Data), i)
		piece := c.Data[start:end]
		if pollute {
			piece = append([]byte(nil), piece...)
			piece[len(piece)/2] ^= 0x01
		}
		if err := s.write(&wire.Piece{Seq: c.Seq, Index: uint32(i), Data: piece}); err != nil {
			return err
		}
	}
	return nil
}

// assembler rebuilds the chunks an honest peer sends as heads and pieces.
// It trusts them: the adversary only replays or corrupts them.
type assembler map[uint64]*assembly

type assembly struct {
	head *wire.Head
	data []byte
	got  map[uint32]bool
}

// add takes a Head or a Piece and returns the chunk it completes, or nil.
func (a *assembler) add(m wire.Message) *wire.Chunk {
	if *a == nil {
		*a = make(assembler)
	}
	switch m := m.(type) {
	case *wire.Head:
		if len(*a) >= 32 {
			clear(*a) // bounded: the adversary keeps few chunks anyway
		}
		(*a)[m.Seq] = &assembly{head: m, data: make([]byte, m.Size), got: make(map[uint32]bool)}
		if m.Size == 0 {
			return a.done(m.Seq)
		}
	case *wire.Piece:
		x := (*a)[m.Seq]
		if x == nil || int64(m.Index) >= int64(wire.Pieces(len(x.data))) {
			return nil
		}
		start, end := wire.PieceBounds(len(x.data), int(m.Index))
		if len(m.Data) != end-start {
			return nil
		}
		copy(x.data[start:end], m.Data)
		x.got[m.Index] = true
		if len(x.got) == wire.Pieces(len(x.data)) {
			return a.done(m.Seq)
		}
	}
	return nil
}

func (a *assembler) done(seq uint64) *wire.Chunk {
	x := (*a)[seq]
	delete(*a, seq)
	return &wire.Chunk{Seq: seq, Timestamp: x.head.Timestamp, Flags: x.head.Flags, Sig: x.head.Sig, Data: x.data}
}
