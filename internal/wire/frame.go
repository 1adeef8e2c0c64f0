package wire

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math"
)

// Message is one frame's content. Every frame type has a pointer type that
// implements it: *Handshake, *BufferMap, *Have, and so on.
type Message interface {
	// Type returns the frame type byte.
	Type() Type
	// AppendPayload appends the frame's payload (everything after the type
	// byte) to b and returns the extended slice.
	AppendPayload(b []byte) []byte
}

// AppendFrame appends m as one complete frame (length, type, payload) to b
// and returns the extended slice.
//
// It panics if m cannot be encoded (a ListenAddr longer than 255 bytes, a
// Chunk.Sig neither empty nor 64 bytes, a BufferMap whose Bits do not match
// N), because that is a bug in the caller, not bad input from a peer. Use
// [WriteMessage] to get an error instead.
func AppendFrame(b []byte, m Message) []byte {
	if err := check(m); err != nil {
		panic(err)
	}
	return appendFrame(b, m)
}

// appendFrame encodes m, which check has accepted.
func appendFrame(b []byte, m Message) []byte {
	start := len(b)
	b = append(b, 0, 0, 0, 0, byte(m.Type()))
	b = m.AppendPayload(b)
	n := len(b) - start - 4
	if uint64(n) > math.MaxUint32 {
		panic(fmt.Sprintf("wire: %v frame of %d bytes does not fit a uint32 length", m.Type(), n))
	}
	binary.BigEndian.PutUint32(b[start:], uint32(n))
	return b
}

// WriteMessage writes m to w as one frame, in a single Write call, so
// several goroutines writing whole frames to one net.Conn never interleave
// bytes of different frames. It returns an error, without writing, if m
// cannot be encoded.
func WriteMessage(w io.Writer, m Message) error {
	if err := check(m); err != nil {
		return err
	}
	_, err := w.Write(appendFrame(nil, m))
	return err
}

// check reports why m cannot be encoded, or nil. It catches the values the
// frame layout cannot express; a peer would reject anything else that is
// wrong (such as oversized data) against its own limits.
func check(m Message) error {
	var err error
	switch m := m.(type) {
	case *Handshake:
		err = m.check()
	case *BufferMap:
		err = m.check()
	case *Chunk:
		err = m.check()
	case *Head:
		err = m.check()
	case *Piece:
		err = m.check()
	case *SourceProof:
		err = m.check()
	}
	if err != nil {
		return fmt.Errorf("wire: cannot encode %v: %w", m.Type(), err)
	}
	return nil
}

// ParseMessage decodes the payload of a frame of type t. It checks the
// payload's size against lim (zero fields meaning the defaults) and every
// field, and reports malformed input as a *ProtocolError.
//
// The byte slices of the result (Chunk.Sig, Chunk.Data, BufferMap.Bits,
// Manifest.Data) alias payload; the caller must not modify payload while
// it uses them. Empty slices decode as nil.
func ParseMessage(t Type, payload []byte, lim Limits) (Message, error) {
	lim = lim.withDefaults()
	lo, hi, ok := payloadBounds(t, lim)
	if !ok {
		return nil, errorf(t, "unknown frame type 0x%02x", uint8(t))
	}
	if err := checkPayloadSize(t, len(payload), lo, hi); err != nil {
		return nil, err
	}
	switch t {
	case TypeHandshake:
		return parseHandshake(payload)
	case TypeBufferMap:
		return parseBufferMap(payload, lim)
	case TypeHave:
		return &Have{Seq: binary.BigEndian.Uint64(payload)}, nil
	case TypeRequest:
		return &Request{Seq: binary.BigEndian.Uint64(payload)}, nil
	case TypeRequestBack:
		return &RequestBack{Seq: binary.BigEndian.Uint64(payload)}, nil
	case TypeCancel:
		return &Cancel{Seq: binary.BigEndian.Uint64(payload)}, nil
	case TypeReject:
		return &Reject{Seq: binary.BigEndian.Uint64(payload)}, nil
	case TypeChunk:
		return parseChunk(payload, lim)
	case TypeHead:
		return parseHead(payload, lim)
	case TypePiece:
		return parsePiece(payload)
	case TypeManifestRequest:
		return &ManifestRequest{}, nil
	case TypeReady:
		return &Ready{}, nil
	case TypeTree:
		return parseTree(payload), nil
	case TypeSubscribe:
		return &Subscribe{Mask: payload[0]}, nil
	case TypeFeed:
		return &Feed{Mask: payload[0]}, nil
	case TypeRequestStripes:
		return &RequestStripes{Seq: binary.BigEndian.Uint64(payload), Mask: payload[8]}, nil
	case TypeSourceProof:
		return &SourceProof{Sig: bytes.Clone(payload)}, nil
	case TypeManifest:
		return &Manifest{Data: nilIfEmpty(payload)}, nil
	case TypePing:
		return &Ping{Nonce: binary.BigEndian.Uint64(payload)}, nil
	case TypePong:
		return &Pong{Nonce: binary.BigEndian.Uint64(payload)}, nil
	}
	return nil, errorf(t, "unknown frame type 0x%02x", uint8(t)) // unreachable: payloadBounds knows the same types
}

// checkPayloadSize checks a payload length n against the bounds of its type.
func checkPayloadSize(t Type, n, lo, hi int) error {
	switch {
	case lo == hi && n != lo:
		return errorf(t, "payload of %d bytes, want %d", n, lo)
	case n < lo:
		return errorf(t, "payload of %d bytes, want at least %d", n, lo)
	case n > hi:
		return errorf(t, "payload of %d bytes exceeds limit of %d", n, hi)
	}
	return nil
}

// nilIfEmpty makes decoding canonical: an empty field is always nil.
func nilIfEmpty(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}
