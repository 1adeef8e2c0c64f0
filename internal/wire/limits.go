package wire

import "math"

// Default limits; see [Limits].
const (
	DefaultMaxChunk         = 4 << 20 // bytes of chunk data
	DefaultMaxManifest      = 1 << 20 // bytes of manifest
	DefaultMaxBufferMapBits = 1 << 20 // chunks covered by one buffer map
)

// frameSlack is what a default MaxFrame allows beyond the largest payload
// body: the type byte and the fixed fields before chunk data (83 bytes).
const frameSlack = 128

// maxBody caps MaxChunk and MaxManifest, so that sizes computed from them
// cannot overflow an int even on 32-bit platforms. No sane chunk is near it.
const maxBody = math.MaxInt32 - frameSlack

// Limits bound what a [Reader] accepts from a peer. Every length read from
// the wire is checked against them before any memory is allocated for it.
// The zero value means the defaults.
type Limits struct {
	// MaxFrame bounds L, the length field of a frame (type byte + payload).
	// If zero, 128 bytes more than the largest of MaxChunk, MaxManifest and
	// MaxBufferMapBits/8: 4 MiB + 128 with the other defaults.
	MaxFrame uint32
	// MaxChunk bounds the data of one Chunk frame. If zero, 4 MiB.
	MaxChunk int
	// MaxManifest bounds the payload of one Manifest frame. If zero, 1 MiB.
	MaxManifest int
	// MaxBufferMapBits bounds the number of chunks one BufferMap frame
	// covers. If zero, 1<<20.
	MaxBufferMapBits uint32
}

// withDefaults returns l with every zero (or negative) field set to its
// default.
func (l Limits) withDefaults() Limits {
	if l.MaxChunk <= 0 {
		l.MaxChunk = DefaultMaxChunk
	}
	l.MaxChunk = min(l.MaxChunk, maxBody)
	if l.MaxManifest <= 0 {
		l.MaxManifest = DefaultMaxManifest
	}
	l.MaxManifest = min(l.MaxManifest, maxBody)
	if l.MaxBufferMapBits == 0 {
		l.MaxBufferMapBits = DefaultMaxBufferMapBits
	}
	if l.MaxFrame == 0 {
		body := max(uint64(l.MaxChunk), uint64(l.MaxManifest), bitmapLen(l.MaxBufferMapBits))
		l.MaxFrame = uint32(min(body+frameSlack, math.MaxUint32))
	}
	return l
}

// payloadBounds returns the smallest and largest payload a frame of type t
// may have under l, which has its defaults set. ok is false for an unknown
// type. The bounds are exact for fixed-size frames, so a wrong length fails
// before the payload is read.
func payloadBounds(t Type, l Limits) (lo, hi int, ok bool) {
	lo, hi, ok = typeBounds(t, l)
	return lo, int(min(uint64(hi), uint64(l.MaxFrame)-1)), ok
}

// typeBounds returns the bounds of payloadBounds before MaxFrame applies.
func typeBounds(t Type, l Limits) (lo, hi int, ok bool) {
	switch t {
	case TypeHandshake:
		return handshakeFixed, handshakeFixed + maxListenAddr, true
	case TypeBufferMap:
		return bufferMapFixed, bufferMapFixed + int(bitmapLen(l.MaxBufferMapBits)), true
	case TypeHave, TypeRequest, TypeRequestBack, TypeCancel, TypeReject, TypePing, TypePong:
		return 8, 8, true
	case TypeChunk:
		return chunkFixed, chunkFixed + SignatureSize + l.MaxChunk, true
	case TypeHead:
		return headFixed, headFixed + MaxPieces(l.MaxChunk)*HashSize, true
	case TypePiece:
		return pieceFixed + 1, pieceFixed + MaxPieceSize, true
	case TypeSourceProof:
		return SignatureSize, SignatureSize, true
	case TypeManifestRequest, TypeReady:
		return 0, 0, true
	case TypeTree:
		return treeLen, treeLen, true
	case TypeSubscribe, TypeFeed:
		return 1, 1, true
	case TypeRequestStripes:
		return 9, 9, true
	case TypeManifest:
		return 0, l.MaxManifest, true
	}
	return 0, 0, false
}
