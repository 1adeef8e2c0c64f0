package wire

import "fmt"

// Magic opens every Handshake payload, so a peer that speaks another
// protocol fails at the first frame.
const Magic = "P2PS"

// Version is the protocol version this package speaks. A Handshake with
// any other version is a protocol error.
const Version uint8 = 3

// FlagSource is the Handshake flag bit saying the sender publishes the
// stream. Other flag bits are reserved and must be zero.
const FlagSource uint8 = 1 << 0

// handshakeFixed is the Handshake payload without the listen address bytes:
// magic, version, flags, stream ID, peer ID, address length.
const handshakeFixed = len(Magic) + 1 + 1 + 32 + 16 + 1

// maxListenAddr is the longest listen address a one-byte length allows.
const maxListenAddr = 255

// Handshake (type 0x01) is the first frame each side sends. It names the
// stream the connection is for and who is speaking.
type Handshake struct {
	// Version is the sender's protocol version; set it to [Version].
	Version uint8
	// Source is true when the sender publishes the stream.
	Source bool
	// Stream is the stream ID.
	Stream [32]byte
	// Peer is the sender's peer ID.
	Peer [16]byte
	// ListenAddr is where the sender accepts connections, or empty if it
	// accepts none. At most 255 bytes.
	ListenAddr string
}

// Type returns TypeHandshake.
func (*Handshake) Type() Type { return TypeHandshake }

// AppendPayload appends magic, version, flags, stream ID, peer ID and the
// length-prefixed listen address.
func (h *Handshake) AppendPayload(b []byte) []byte {
	var flags uint8
	if h.Source {
		flags |= FlagSource
	}
	b = append(b, Magic...)
	b = append(b, h.Version, flags)
	b = append(b, h.Stream[:]...)
	b = append(b, h.Peer[:]...)
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
	n := int(p[54])
	if rest := len(p) - handshakeFixed; rest != n {
		return nil, errorf(TypeHandshake, "listen address length %d, but %d bytes follow", n, rest)
	}
	h.ListenAddr = string(p[handshakeFixed:])
	return h, nil
}
