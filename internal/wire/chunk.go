package wire

import (
	"encoding/binary"
	"fmt"
	"slices"
)

// SignatureSize is the length of a chunk signature (ed25519).
const SignatureSize = 64

// chunkFixed is the Chunk payload before the signature: seq, timestamp,
// flags and signature length.
const chunkFixed = 8 + 8 + 1 + 1

// Chunk (type 0x06) carries one chunk of the stream, pushed by the source or
// sent in answer to a [Request].
type Chunk struct {
	// Seq is the chunk's sequence number.
	Seq uint64
	// Timestamp is the publisher's wall clock when it cut the chunk, in Unix
	// microseconds.
	Timestamp int64
	// Flags are the chunk flags; their meaning belongs to the caller.
	Flags uint8
	// Sig is the publisher's signature: empty or SignatureSize bytes.
	Sig []byte
	// Data is the chunk's content, at most Limits.MaxChunk bytes. A chunk
	// returned by [Reader.ReadMessage] has a buffer of its own, so the
	// caller may keep Data (and Sig) after the next read.
	Data []byte
}

// Type returns TypeChunk.
func (*Chunk) Type() Type { return TypeChunk }

// AppendPayload appends seq, timestamp, flags, the length-prefixed
// signature and the data.
func (c *Chunk) AppendPayload(b []byte) []byte {
	b = slices.Grow(b, chunkFixed+len(c.Sig)+len(c.Data))
	b = binary.BigEndian.AppendUint64(b, c.Seq)
	b = binary.BigEndian.AppendUint64(b, uint64(c.Timestamp))
	b = append(b, c.Flags, uint8(len(c.Sig)))
	b = append(b, c.Sig...)
	return append(b, c.Data...)
}

func (c *Chunk) check() error {
	if len(c.Sig) != 0 && len(c.Sig) != SignatureSize {
		return fmt.Errorf("signature of %d bytes, want 0 or %d", len(c.Sig), SignatureSize)
	}
	return nil
}

// parseChunk decodes a payload whose size is within bounds.
func parseChunk(p []byte, lim Limits) (*Chunk, error) {
	c := &Chunk{
		Seq:       binary.BigEndian.Uint64(p),
		Timestamp: int64(binary.BigEndian.Uint64(p[8:])),
		Flags:     p[16],
	}
	sigLen := int(p[17])
	if sigLen != 0 && sigLen != SignatureSize {
		return nil, errorf(TypeChunk, "signature length %d, want 0 or %d", sigLen, SignatureSize)
	}
	p = p[chunkFixed:]
	if len(p) < sigLen {
		return nil, errorf(TypeChunk, "signature length %d, but only %d bytes follow", sigLen, len(p))
	}
	c.Sig, c.Data = nilIfEmpty(p[:sigLen:sigLen]), nilIfEmpty(p[sigLen:])
	if len(c.Data) > lim.MaxChunk {
		return nil, errorf(TypeChunk, "data of %d bytes exceeds limit of %d", len(c.Data), lim.MaxChunk)
	}
	return c, nil
}
