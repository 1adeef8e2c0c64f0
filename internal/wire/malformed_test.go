package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// rawFrame builds a frame with a correct length around any payload.
func rawFrame(t Type, payload ...[]byte) []byte {
	p := bytes.Join(payload, nil)
	b := binary.BigEndian.AppendUint32(nil, uint32(1+len(p)))
	b = append(b, byte(t))
	return append(b, p...)
}

func u64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }
func u32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }
func zeros(n int) []byte  { return make([]byte, n) }

// handshakePayload returns a handshake payload with the given magic,
// version, flags, address length byte and address bytes.
func handshakePayload(magic string, version, flags, addrLen uint8, addr string) []byte {
	return bytes.Join([][]byte{[]byte(magic), {version, flags}, zeros(32 + 16 + 16), {addrLen}, []byte(addr)}, nil)
}

// chunkHead returns a chunk payload up to and including the signature length.
func chunkHead(sigLen uint8) []byte {
	return bytes.Join([][]byte{u64(1), u64(2), {0}, {sigLen}}, nil)
}

func TestMalformed(t *testing.T) {
	small := Limits{MaxChunk: 16, MaxManifest: 8, MaxBufferMapBits: 64}
	tests := []struct {
		name   string
		input  []byte
		lim    Limits
		frame  Type
		reason string
	}{
		// Frame header.
		{"zero length", u32(0), Limits{}, 0, "frame length 0"},
		{"length near 4 GiB", append(u32(0xFFFFFFFF), byte(TypeChunk)), Limits{}, 0, "frame length 4294967295 exceeds limit of 4194432"},
		{"length over MaxFrame", rawFrame(TypeHave, u64(1)), Limits{MaxFrame: 8}, 0, "frame length 9 exceeds limit of 8"},
		{"type zero", rawFrame(0), Limits{}, 0, "unknown frame type 0x00"},
		{"unknown type", rawFrame(0x15, u64(1)), Limits{}, 0x15, "unknown frame type 0x15"},
		{"request back short", rawFrame(TypeRequestBack, zeros(7)), Limits{}, TypeRequestBack, "payload of 7 bytes, want 8"},
		{"tree short", rawFrame(TypeTree, zeros(9)), Limits{}, TypeTree, "payload of 9 bytes, want 73"},
		{"subscribe long", rawFrame(TypeSubscribe, zeros(2)), Limits{}, TypeSubscribe, "payload of 2 bytes, want 1"},
		{"feed empty", rawFrame(TypeFeed, nil), Limits{}, TypeFeed, "payload of 0 bytes, want 1"},
		{"request stripes short", rawFrame(TypeRequestStripes, u64(1)), Limits{}, TypeRequestStripes, "payload of 8 bytes, want 9"},
		{"type 0xff", rawFrame(0xFF), Limits{}, 0xFF, "unknown frame type 0xff"},

		// Fixed-size frames.
		{"have short", rawFrame(TypeHave, zeros(7)), Limits{}, TypeHave, "payload of 7 bytes, want 8"},
		{"have trailing", rawFrame(TypeHave, zeros(9)), Limits{}, TypeHave, "payload of 9 bytes, want 8"},
		{"request empty", rawFrame(TypeRequest), Limits{}, TypeRequest, "payload of 0 bytes, want 8"},
		{"cancel trailing", rawFrame(TypeCancel, zeros(16)), Limits{}, TypeCancel, "payload of 16 bytes, want 8"},
		{"reject short", rawFrame(TypeReject, zeros(1)), Limits{}, TypeReject, "payload of 1 bytes, want 8"},
		{"ping short", rawFrame(TypePing, zeros(4)), Limits{}, TypePing, "payload of 4 bytes, want 8"},
		{"pong trailing", rawFrame(TypePong, zeros(12)), Limits{}, TypePong, "payload of 12 bytes, want 8"},
		{"manifest request with payload", rawFrame(TypeManifestRequest, zeros(1)), Limits{}, TypeManifestRequest, "payload of 1 bytes, want 0"},
		{"ready with payload", rawFrame(TypeReady, zeros(1)), Limits{}, TypeReady, "payload of 1 bytes, want 0"},
		{"source proof short", rawFrame(TypeSourceProof, zeros(63)), Limits{}, TypeSourceProof, "payload of 63 bytes, want 64"},

		// Handshake.
		{"handshake short", rawFrame(TypeHandshake, zeros(70)), Limits{}, TypeHandshake, "payload of 70 bytes, want at least 71"},
		{"handshake too long", rawFrame(TypeHandshake, handshakePayload(Magic, Version, 0, 255, strings.Repeat("a", 256))), Limits{}, TypeHandshake, "payload of 327 bytes exceeds limit of 326"},
		{"handshake bad magic", rawFrame(TypeHandshake, handshakePayload("HTTP", 1, 0, 0, "")), Limits{}, TypeHandshake, `bad magic "HTTP", want "P2PS"`},
		{"handshake version 0", rawFrame(TypeHandshake, handshakePayload(Magic, 0, 0, 0, "")), Limits{}, TypeHandshake, "unsupported version 0, want 8"},
		{"handshake version 1", rawFrame(TypeHandshake, handshakePayload(Magic, 1, 0, 0, "")), Limits{}, TypeHandshake, "unsupported version 1, want 8"},
		{"handshake version 7", rawFrame(TypeHandshake, handshakePayload(Magic, 7, 0, 0, "")), Limits{}, TypeHandshake, "unsupported version 7, want 8"},
		{"handshake unknown flag", rawFrame(TypeHandshake, handshakePayload(Magic, Version, 0x03, 0, "")), Limits{}, TypeHandshake, "unknown flags 0x02"},
		{"handshake address short", rawFrame(TypeHandshake, handshakePayload(Magic, Version, 0, 5, "abc")), Limits{}, TypeHandshake, "listen address length 5, but 3 bytes follow"},
		{"handshake trailing", rawFrame(TypeHandshake, handshakePayload(Magic, Version, 0, 3, "abcde")), Limits{}, TypeHandshake, "listen address length 3, but 5 bytes follow"},

		// BufferMap.
		{"buffer map short", rawFrame(TypeBufferMap, zeros(11)), Limits{}, TypeBufferMap, "payload of 11 bytes, want at least 12"},
		{"buffer map over limit", rawFrame(TypeBufferMap, u64(0), u32(65), zeros(8)), small, TypeBufferMap, "65 bits exceed limit of 64"},
		{"buffer map payload over limit", rawFrame(TypeBufferMap, u64(0), u32(64), zeros(9)), small, TypeBufferMap, "payload of 21 bytes exceeds limit of 20"},
		{"buffer map bits missing", rawFrame(TypeBufferMap, u64(0), u32(9), zeros(1)), Limits{}, TypeBufferMap, "9 bits need 2 bytes of bitmap, got 1"},
		{"buffer map trailing", rawFrame(TypeBufferMap, u64(0), u32(8), zeros(2)), Limits{}, TypeBufferMap, "8 bits need 1 bytes of bitmap, got 2"},
		{"buffer map empty trailing", rawFrame(TypeBufferMap, u64(0), u32(0), zeros(1)), Limits{}, TypeBufferMap, "0 bits need 0 bytes of bitmap, got 1"},
		{"buffer map huge n", rawFrame(TypeBufferMap, u64(0), u32(0xFFFFFFFF)), Limits{}, TypeBufferMap, "4294967295 bits exceed limit of 1048576"},
		{"buffer map padding set", rawFrame(TypeBufferMap, u64(0), u32(9), []byte{0xFF, 0x40}), Limits{}, TypeBufferMap, "padding bits after bit 9 are set"},

		// Chunk.
		{"chunk short", rawFrame(TypeChunk, zeros(17)), Limits{}, TypeChunk, "payload of 17 bytes, want at least 18"},
		{"chunk bad signature length", rawFrame(TypeChunk, chunkHead(63), zeros(63)), Limits{}, TypeChunk, "signature length 63, want 0 or 64"},
		{"chunk signature cut", rawFrame(TypeChunk, chunkHead(64), zeros(10)), Limits{}, TypeChunk, "signature length 64, but only 10 bytes follow"},
		{"chunk data over limit", rawFrame(TypeChunk, chunkHead(0), zeros(17)), small, TypeChunk, "data of 17 bytes exceeds limit of 16"},
		{"head short", rawFrame(TypeHead, zeros(84)), Limits{}, TypeHead, "payload of 84 bytes, want at least 85"},
		{"head size over limit", rawFrame(TypeHead, zeros(17), u32(17), zeros(64+32)), small, TypeHead, "chunk of 17 bytes exceeds limit of 16"},
		{"head hashes missing", rawFrame(TypeHead, zeros(17), u32(1), zeros(64)), Limits{}, TypeHead, "0 bytes of hashes for 1 bytes of data, want 32"},
		{"head hashes extra", rawFrame(TypeHead, zeros(17), u32(0), zeros(64+32)), Limits{}, TypeHead, "32 bytes of hashes for 0 bytes of data, want 0"},
		{"piece empty", rawFrame(TypePiece, zeros(12)), Limits{}, TypePiece, "payload of 12 bytes, want at least 13"},
		{"piece too big", rawFrame(TypePiece, zeros(12+MaxPieceSize+1)), Limits{}, TypePiece, "payload of 16397 bytes exceeds limit of 16396"},
		{"chunk payload over limit", rawFrame(TypeChunk, chunkHead(64), zeros(64+17)), small, TypeChunk, "payload of 99 bytes exceeds limit of 98"},

		// Manifest.
		{"manifest over limit", rawFrame(TypeManifest, zeros(9)), small, TypeManifest, "payload of 9 bytes exceeds limit of 8"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// The bytes after the frame must not be read: a bad frame is
			// reported as soon as it is known to be bad.
			r := NewReader(io.MultiReader(bytes.NewReader(tc.input), failReader{t}), tc.lim)
			m, err := r.ReadMessage()
			assert.Nil(t, m)
			var pe *ProtocolError
			require.ErrorAs(t, err, &pe)
			assert.Equal(t, tc.frame, pe.Frame)
			assert.Equal(t, tc.reason, pe.Reason)
			assert.NoError(t, pe.Unwrap())
			assert.True(t, strings.HasPrefix(err.Error(), "p2pstream: protocol error: "), err.Error())

			// The error is sticky.
			_, again := r.ReadMessage()
			assert.Same(t, err, again)

			// ParseMessage agrees when the frame header is sound.
			if len(tc.input) >= 5 && int(binary.BigEndian.Uint32(tc.input)) == len(tc.input)-4 && tc.lim.MaxFrame == 0 {
				_, perr := ParseMessage(Type(tc.input[4]), tc.input[5:], tc.lim)
				assert.Equal(t, err, perr)
			}
		})
	}
}

// failReader fails the test if the Reader reads past the frame under test.
type failReader struct{ t *testing.T }

func (f failReader) Read([]byte) (int, error) {
	f.t.Error("read past the malformed frame")
	return 0, io.EOF
}

func TestProtocolErrorString(t *testing.T) {
	tests := []struct {
		err  *ProtocolError
		want string
	}{
		{&ProtocolError{Reason: "frame length 0"}, "p2pstream: protocol error: frame length 0"},
		{&ProtocolError{Frame: TypeChunk, Reason: "unexpected frame"}, "p2pstream: protocol error: Chunk frame: unexpected frame"},
		{&ProtocolError{Frame: TypeHave, Reason: "input ended inside a frame", Err: io.ErrUnexpectedEOF},
			"p2pstream: protocol error: Have frame: input ended inside a frame: unexpected EOF"},
	}
	for _, tc := range tests {
		assert.Equal(t, tc.want, tc.err.Error())
		assert.Equal(t, tc.err.Err, errors.Unwrap(tc.err))
	}
}
