package wire

import "fmt"

// Magic opens every Handshake payload, so a peer that speaks another
// protocol fails at the first frame.
const Magic = "P2PS"

// Version is the protocol version this package speaks. A Handshake with
// any other version is a protocol error.
const Version uint8 = 8

// FlagSource is the Handshake flag bit saying the sender publishes the
// stream. Other flag bits are reserved and must be zero.
const FlagSource uint8 = 1 << 0

// handshakeFixed is the Handshake payload without the listen address bytes:
// magic, version, flags, stream ID, peer ID, nonce, address length.
const handshakeFixed = len(Magic) + 1 + 1 + 32 + 16 + 16 + 1

// maxListenAddr is the longest listen address a one-byte length allows.
const maxListenAddr = 255

// Handshake (type 0x01) is the first frame each side sends. It names the
// stream the connection is for and who is speaking.
type Handshake struct {
	// Version is the sender's protocol version; set it to [Version].
	Version uint8
	// Source is true when the sender says it publishes the stream. A live
	// stream's source proves it with a [SourceProof] right after the
	// handshake; until then the claim is not to be trusted.
	Source bool
	// Stream is the stream ID.
	Stream [32]byte
	// Peer is the sender's peer ID.
	Peer [16]byte
	// Nonce is random, new for each connection: a publisher proves it is
	// the source by signing the other side's nonce ([SourceProof]).
	Nonce [16]byte
	// ListenAddr is where the sender accepts connections, or empty if it
	// accepts none. At most 255 bytes.
	ListenAddr string
}

// Type returns TypeHandshake.
func (*Handshake) Type() Type { return TypeHandshake }

// AppendPayload appends magic, version, flags, stream ID, peer ID, nonce
// and the length-prefixed listen address.
func (h *Handshake) AppendPayload(b []byte) []byte {
	var flags uint8
	if h.Source {
		flags |= FlagSource
	}
	b = append(b, Magic...)
	b = append(b, h.Version, flags)
	b = append(b, h.Stream[:]...)
	b = append(b, h.Peer[:]...)
	b = append(b, h.Nonce[:]...)
	b = append(b, uint8(len(h.ListenAddr)))
	return append(b, h.ListenAddr...)
}

func (h *Handshake) check() error {
	if len(h.ListenAddr) > maxListenAddr {
		return fmt.Errorf("listen address of %d bytes, longer than %d", len(h.ListenAddr), maxListenAddr)
	}
	if h.Version != Version {
		return fmt.Errorf("version %d, want %d", h.Version, Version)
	}
	return nil
}

// parseHandshake decodes a payload whose size is within bounds.
func parseHandshake(p []byte) (*Handshake, error) {
	if string(p[:4]) != Magic {
		return nil, errorf(TypeHandshake, "bad magic %q, want %q", p[:4], Magic)
	}
	h := &Handshake{Version: p[4]}
	if h.Version != Version {
		return nil, errorf(TypeHandshake, "unsupported version %d, want %d", h.Version, Version)
	}
	flags := p[5]
	if flags&^FlagSource != 0 {
		return nil, errorf(TypeHandshake, "unknown flags 0x%02x", flags&^FlagSource)
	}
	h.Source = flags&FlagSource != 0
	copy(h.Stream[:], p[6:38])
	copy(h.Peer[:], p[38:54])
	copy(h.Nonce[:], p[54:70])
	n := int(p[70])
	if rest := len(p) - handshakeFixed; rest != n {
		return nil, errorf(TypeHandshake, "listen address length %d, but %d bytes follow", n, rest)
	}
	h.ListenAddr = string(p[handshakeFixed:])
	return h, nil
}

// SourceProof (type 0x0F) proves that the sender publishes the live stream
// it claimed to in its [Handshake]: Sig is the stream key's ed25519
// signature of [SourceProofMessage] over the receiver's handshake nonce.
// The stream ID is the public key, so any peer can check it.
type SourceProof struct {
	Sig []byte // SignatureSize bytes
}

// Type returns TypeSourceProof.
func (*SourceProof) Type() Type { return TypeSourceProof }

// AppendPayload appends Sig.
func (m *SourceProof) AppendPayload(b []byte) []byte { return append(b, m.Sig...) }

func (m *SourceProof) check() error {
	if len(m.Sig) != SignatureSize {
		return fmt.Errorf("signature of %d bytes, want %d", len(m.Sig), SignatureSize)
	}
	return nil
}

// SourceProofMessage returns the bytes a [SourceProof] signs: a fixed
// label, the stream ID and the nonce of the peer the proof is for.
func SourceProofMessage(stream [32]byte, nonce [16]byte) []byte {
	b := make([]byte, 0, len(sourceProofLabel)+len(stream)+len(nonce))
	b = append(b, sourceProofLabel...)
	b = append(b, stream[:]...)
	return append(b, nonce[:]...)
}

const sourceProofLabel = "p2pstream source proof v4\x00"
