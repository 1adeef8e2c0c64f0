package wire

import "fmt"

// Type is a frame's type byte.
type Type uint8

// Frame types. Zero is not a frame type; a [ProtocolError] uses it when the
// type is not known yet.
const (
	TypeHandshake       Type = 0x01
	TypeBufferMap       Type = 0x02
	TypeHave            Type = 0x03
	TypeRequest         Type = 0x04
	TypeCancel          Type = 0x05
	TypeChunk           Type = 0x06
	TypeReject          Type = 0x07
	TypeManifestRequest Type = 0x08
	TypeManifest        Type = 0x09
	TypePing            Type = 0x0A
	TypePong            Type = 0x0B
	TypeHead            Type = 0x0C
	TypePiece           Type = 0x0D
	TypeReady           Type = 0x0E
	TypeSourceProof     Type = 0x0F
	TypeRequestBack     Type = 0x10
	TypeTree            Type = 0x11
	TypeSubscribe       Type = 0x12
	TypeFeed            Type = 0x13
	TypeRequestStripes  Type = 0x14
)

var typeNames = [...]string{
	TypeHandshake:       "Handshake",
	TypeBufferMap:       "BufferMap",
	TypeHave:            "Have",
	TypeRequest:         "Request",
	TypeCancel:          "Cancel",
	TypeChunk:           "Chunk",
	TypeReject:          "Reject",
	TypeManifestRequest: "ManifestRequest",
	TypeManifest:        "Manifest",
	TypePing:            "Ping",
	TypePong:            "Pong",
	TypeHead:            "Head",
	TypePiece:           "Piece",
	TypeReady:           "Ready",
	TypeSourceProof:     "SourceProof",
	TypeRequestBack:     "RequestBack",
	TypeTree:            "Tree",
	TypeSubscribe:       "Subscribe",
	TypeFeed:            "Feed",
	TypeRequestStripes:  "RequestStripes",
}

// String returns the frame type's name, such as "Chunk", or "Type(0x0c)" for
// a byte that is not a frame type.
func (t Type) String() string {
	if int(t) < len(typeNames) && typeNames[t] != "" {
		return typeNames[t]
	}
	return fmt.Sprintf("Type(0x%02x)", uint8(t))
}
