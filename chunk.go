package p2pstream

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"fmt"

	"github.com/p2pstream/p2pstream/internal/wire"
)

// ChunkFlags describe a chunk.
type ChunkFlags uint8

// Chunk flags.
const (
	// FlagKeyframe marks a live chunk that begins at a video keyframe (with the
	// PAT and PMT before it), so a viewer can start decoding there.
	FlagKeyframe ChunkFlags = 1 << 0
	// FlagEnd marks the last chunk of a live stream. Its data may be empty.
	FlagEnd ChunkFlags = 1 << 1
)

// SignatureSize is the length of a live chunk's ed25519 signature.
const SignatureSize = ed25519.SignatureSize

// Chunk is one piece of a stream. Live chunks are about ChunkDuration of
// MPEG-TS cut at packet boundaries; on-demand chunks are ChunkSize bytes of
// the file. Data is never modified once a chunk exists: sinks may keep it but
// must not change it.
type Chunk struct {
	// Seq is the chunk's sequence number (on demand: its index in the file).
	Seq uint64
	// Timestamp is the publisher's wall clock when the live chunk was cut, in
	// Unix microseconds. Zero for on-demand chunks.
	Timestamp int64
	// Flags describe the chunk.
	Flags ChunkFlags
	// Data is the chunk's payload.
	Data []byte
	// Sig is the publisher's ed25519 signature of a live chunk.
	Sig []byte

	hashes []byte // live: the SHA-256 of each piece, set once the chunk is signed or verified
	pulled int    // live, in the stripe trees: pieces that did not come down them (diagnosis)
}

// Keyframe reports whether the chunk begins at a keyframe.
func (c Chunk) Keyframe() bool { return c.Flags&FlagKeyframe != 0 }

// signedBytes returns what a live chunk's signature covers: a domain tag, the
// stream ID, seq, timestamp, flags, the data's length and the SHA-256 of its
// piece hashes (wire.PieceHashes). Binding the stream ID stops a chunk of one
// stream being replayed into another; covering each piece's hash lets a peer
// check, and pass on, every piece as it arrives.
func signedBytes(id StreamID, seq uint64, ts int64, flags ChunkFlags, size int, hashes []byte) []byte {
	const tag = "p2pstream chunk v2\x00"
	b := make([]byte, 0, len(tag)+IDSize+8+8+1+4+sha256.Size)
	b = append(b, tag...)
	b = append(b, id[:]...)
	b = binary.BigEndian.AppendUint64(b, seq)
	b = binary.BigEndian.AppendUint64(b, uint64(ts))
	b = append(b, byte(flags))
	b = binary.BigEndian.AppendUint32(b, uint32(size))
	sum := sha256.Sum256(hashes)
	return append(b, sum[:]...)
}

// signChunk sets c.Sig and c.hashes. The stream ID is the key's public half.
func signChunk(key ed25519.PrivateKey, c *Chunk) {
	var id StreamID
	copy(id[:], key.Public().(ed25519.PublicKey))
	c.hashes = wire.PieceHashes(c.Data)
	c.Sig = ed25519.Sign(key, signedBytes(id, c.Seq, c.Timestamp, c.Flags, len(c.Data), c.hashes))
}

// verifyLiveChunk checks a live chunk's signature against the stream ID, which
// is the publisher's public key, and sets c.hashes.
func verifyLiveChunk(id StreamID, c *Chunk) error {
	hashes := wire.PieceHashes(c.Data)
	if err := verifyHead(id, c.Seq, c.Timestamp, c.Flags, len(c.Data), hashes, c.Sig); err != nil {
		return err
	}
	c.hashes = hashes
	return nil
}

// verifyHead checks the signature of a live chunk's head.
func verifyHead(id StreamID, seq uint64, ts int64, flags ChunkFlags, size int, hashes, sig []byte) error {
	if len(sig) != SignatureSize {
		return fmt.Errorf("%w: chunk %d: signature is %d bytes, want %d", ErrBadChunk, seq, len(sig), SignatureSize)
	}
	if !ed25519.Verify(ed25519.PublicKey(id[:]), signedBytes(id, seq, ts, flags, size, hashes), sig) {
		return fmt.Errorf("%w: chunk %d: bad signature", ErrBadChunk, seq)
	}
	return nil
}
