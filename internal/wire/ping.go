package wire

import "encoding/binary"

// Ping (type 0x0A) asks the receiver to answer with a [Pong] carrying the
// same Nonce. It keeps an idle connection alive and measures round trips.
type Ping struct{ Nonce uint64 }

// Pong (type 0x0B) answers a [Ping].
type Pong struct{ Nonce uint64 }

// Type returns TypePing.
func (*Ping) Type() Type { return TypePing }

// Type returns TypePong.
func (*Pong) Type() Type { return TypePong }

// AppendPayload appends Nonce.
func (m *Ping) AppendPayload(b []byte) []byte { return binary.BigEndian.AppendUint64(b, m.Nonce) }

// AppendPayload appends Nonce.
func (m *Pong) AppendPayload(b []byte) []byte { return binary.BigEndian.AppendUint64(b, m.Nonce) }
