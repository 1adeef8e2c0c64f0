package wire

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"slices"
)

// A live chunk travels as a [Head] and then its pieces, so a peer can pass
// each piece on as soon as it has checked it, instead of waiting for the
// whole chunk. Small pieces pass through a relay sooner; large ones cost
// fewer frames and hashes. Every piece of a chunk but the last has
// [PieceSize] bytes: a power of two from MinPieceSize to MaxPieceSize, the
// smallest that cuts the chunk into at most targetPieces pieces.
const (
	// MinPieceSize is the smallest piece size.
	MinPieceSize = 4 << 10
	// MaxPieceSize is the largest piece size, and the most data a Piece
	// frame carries.
	MaxPieceSize = 16 << 10
	// targetPieces is how many pieces a chunk is cut into at most when
	// the piece size allows: up to 256 KiB (2 Mbit/s in 1 s chunks), pieces
	// of 4 KiB. A relay that pushes a piece to five children at 1.5 times
	// the stream's rate passes it on in a quarter of the time a 16 KiB
	// piece takes, and each level of a stripe tree adds that: swarm lab,
	// 100 viewers at 2 Mbit/s, chunks stored 1.0 s after they were cut
	// instead of 1.4 s, startup p95 0.65-0.88 s instead of 0.90-1.06 s
	// (docs/BENCHMARKS.md, "Twenty-second session"); 16 pieces (protocol
	// version 7) cut 2 Mbit/s into 16 KiB pieces.
	targetPieces = 64
)

// PieceSize returns the size of every piece but the last of a chunk of
// size bytes.
func PieceSize(size int) int {
	n := MinPieceSize
	for n < MaxPieceSize && n*targetPieces < size {
		n *= 2
	}
	return n
}

// MaxPieces returns the most pieces a chunk of up to size bytes has. It
// is not Pieces(size): a chunk just over 64 small pieces has 33 larger ones.
func MaxPieces(size int) int {
	if size > targetPieces*MinPieceSize {
		return max(Pieces(size), targetPieces)
	}
	return Pieces(size)
}

// PieceBounds returns where piece i of a chunk of size bytes starts and
// ends.
func PieceBounds(size, i int) (start, end int) {
	n := PieceSize(size)
	return i * n, min(size, (i+1)*n)
}

// HashSize is the length of a piece hash (SHA-256).
const HashSize = 32

// PieceHashes returns the SHA-256 of each piece of data (PieceSize bytes,
// the last one shorter), one after the other: the Hashes of the data's Head.
func PieceHashes(data []byte) []byte {
	b := make([]byte, 0, Pieces(len(data))*HashSize)
	size := PieceSize(len(data))
	for len(data) > 0 {
		n := min(len(data), size)
		sum := sha256.Sum256(data[:n])
		b = append(b, sum[:]...)
		data = data[n:]
	}
	return b
}

// headFixed is the Head payload before the hashes: seq, timestamp, flags,
// size and signature.
const headFixed = 8 + 8 + 1 + 4 + SignatureSize

// pieceFixed is the Piece payload before the data: seq and index.
const pieceFixed = 8 + 4

// Pieces returns how many pieces a chunk of size bytes has.
func Pieces(size int) int {
	n := PieceSize(size)
	return (size + n - 1) / n
}

// Head (type 0x0C) starts a live chunk sent in pieces: everything about the
// chunk but its data, with the SHA-256 of each piece, which the signature
// covers. The [Piece] frames that follow carry the data; other frames may
// come between them.
type Head struct {
	// Seq is the chunk's sequence number.
	Seq uint64
	// Timestamp is the publisher's wall clock when it cut the chunk, in Unix
	// microseconds.
	Timestamp int64
	// Flags are the chunk flags; their meaning belongs to the caller.
	Flags uint8
	// Size is the length of the chunk's data, at most Limits.MaxChunk.
	Size uint32
	// Sig is the publisher's signature, SignatureSize bytes.
	Sig []byte
	// Hashes holds the SHA-256 of each piece in order: Pieces(Size) times
	// HashSize bytes.
	Hashes []byte
}

// Piece (type 0x0D) carries piece Index of live chunk Seq, whose [Head]
// the sender has sent before: PieceSize(Head.Size) bytes, or what is left
// of the chunk for the last piece.
type Piece struct {
	Seq   uint64
	Index uint32
	Data  []byte
}

// Type returns TypeHead.
func (*Head) Type() Type { return TypeHead }

// Type returns TypePiece.
func (*Piece) Type() Type { return TypePiece }

// AppendPayload appends seq, timestamp, flags, size, signature and hashes.
func (h *Head) AppendPayload(b []byte) []byte {
	b = slices.Grow(b, headFixed+len(h.Hashes))
	b = binary.BigEndian.AppendUint64(b, h.Seq)
	b = binary.BigEndian.AppendUint64(b, uint64(h.Timestamp))
	b = append(b, h.Flags)
	b = binary.BigEndian.AppendUint32(b, h.Size)
	b = append(b, h.Sig...)
	return append(b, h.Hashes...)
}

// AppendPayload appends seq, index and data.
func (p *Piece) AppendPayload(b []byte) []byte {
	b = slices.Grow(b, pieceFixed+len(p.Data))
	b = binary.BigEndian.AppendUint64(b, p.Seq)
	b = binary.BigEndian.AppendUint32(b, p.Index)
	return append(b, p.Data...)
}

func (h *Head) check() error {
	if len(h.Sig) != SignatureSize {
		return fmt.Errorf("signature of %d bytes, want %d", len(h.Sig), SignatureSize)
	}
	if want := Pieces(int(h.Size)) * HashSize; len(h.Hashes) != want {
		return fmt.Errorf("%d bytes of hashes for %d bytes of data, want %d", len(h.Hashes), h.Size, want)
	}
	return nil
}

// AppendPieceHeader appends a Piece frame of chunk seq, piece index, up to
// its n bytes of data: the caller writes the data after it, straight from
// the chunk, instead of copying it into a frame buffer. It panics if n is
// not 1 to MaxPieceSize, as AppendFrame does for a piece it cannot encode.
func AppendPieceHeader(b []byte, seq uint64, index uint32, n int) []byte {
	if n <= 0 || n > MaxPieceSize {
		panic(fmt.Sprintf("wire: piece of %d bytes, want 1 to %d", n, MaxPieceSize))
	}
	b = binary.BigEndian.AppendUint32(b, uint32(1+pieceFixed+n))
	b = append(b, byte(TypePiece))
	b = binary.BigEndian.AppendUint64(b, seq)
	return binary.BigEndian.AppendUint32(b, index)
}

func (p *Piece) check() error {
	if len(p.Data) == 0 || len(p.Data) > MaxPieceSize {
		return fmt.Errorf("piece of %d bytes, want 1 to %d", len(p.Data), MaxPieceSize)
	}
	return nil
}

// parseHead decodes a payload whose size is within bounds.
func parseHead(p []byte, lim Limits) (*Head, error) {
	h := &Head{
		Seq:       binary.BigEndian.Uint64(p),
		Timestamp: int64(binary.BigEndian.Uint64(p[8:])),
		Flags:     p[16],
		Size:      binary.BigEndian.Uint32(p[17:]),
		Sig:       p[21:headFixed:headFixed],
		Hashes:    nilIfEmpty(p[headFixed:]),
	}
	if uint64(h.Size) > uint64(lim.MaxChunk) {
		return nil, errorf(TypeHead, "chunk of %d bytes exceeds limit of %d", h.Size, lim.MaxChunk)
	}
	if want := Pieces(int(h.Size)) * HashSize; len(h.Hashes) != want {
		return nil, errorf(TypeHead, "%d bytes of hashes for %d bytes of data, want %d", len(h.Hashes), h.Size, want)
	}
	return h, nil
}

// parsePiece decodes a payload whose size is within bounds.
func parsePiece(p []byte) (*Piece, error) {
	return &Piece{
		Seq:   binary.BigEndian.Uint64(p),
		Index: binary.BigEndian.Uint32(p[8:]),
		Data:  p[pieceFixed:],
	}, nil
}
