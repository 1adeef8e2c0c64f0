package wire

import (
	"bytes"
	"encoding/hex"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// sample is one valid message, named for test output.
type sample struct {
	name string
	msg  Message
}

// samples returns at least one valid message of every frame type, with
// edge cases (empty and maximal fields). The fuzz seed corpus is made from
// the same list.
func samples() []sample {
	var stream [32]byte
	var peer [16]byte
	for i := range stream {
		stream[i] = byte(i)
	}
	for i := range peer {
		peer[i] = byte(0xF0 + i)
	}
	bm := NewBufferMap(1000, 13)
	for _, seq := range []uint64{1000, 1003, 1012} {
		bm.Set(seq)
	}
	full := NewBufferMap(1<<40, 16)
	for seq := uint64(1 << 40); seq < 1<<40+16; seq++ {
		full.Set(seq)
	}
	sig := bytes.Repeat([]byte{0x5A}, SignatureSize)
	data := bytes.Repeat([]byte{0x47, 0x00, 0x11}, 400)
	return []sample{
		{"handshake", &Handshake{Version: Version, Source: true, Stream: stream, Peer: peer, Nonce: [16]byte{1, 2, 3}, ListenAddr: "127.0.0.1:7001"}},
		{"source proof", &SourceProof{Sig: bytes.Repeat([]byte{7}, SignatureSize)}},
		{"handshake without address", &Handshake{Version: Version, Stream: stream, Peer: peer}},
		{"handshake with 255-byte address", &Handshake{Version: Version, ListenAddr: strings.Repeat("h", 255)}},
		{"buffer map", bm},
		{"buffer map of whole bytes", full},
		{"buffer map of nothing", NewBufferMap(7, 0)},
		{"have", &Have{Seq: 42}},
		{"request back", &RequestBack{Seq: 1 << 40}},
		{"request", &Request{Seq: 1<<64 - 1}},
		{"cancel", &Cancel{Seq: 0}},
		{"reject", &Reject{Seq: 1 << 33}},
		{"chunk", &Chunk{Seq: 9, Timestamp: 1_700_000_000_000_000, Flags: 1, Sig: sig, Data: data}},
		{"chunk unsigned", &Chunk{Seq: 10, Timestamp: -1, Flags: 0xFF, Data: []byte{1, 2, 3}}},
		{"chunk empty", &Chunk{Seq: 11, Flags: 2, Sig: sig}},
		{"head", &Head{Seq: 12, Timestamp: 1_700_000_000_000_000, Flags: 1, Size: 64*MaxPieceSize + 1, Sig: sig, Hashes: bytes.Repeat([]byte{0xAB}, 65*HashSize)}},
		{"head of empty chunk", &Head{Seq: 13, Flags: 2, Sig: sig}},
		{"piece", &Piece{Seq: 12, Index: 1, Data: []byte{0x47}}},
		{"full piece", &Piece{Seq: 12, Index: 0, Data: bytes.Repeat([]byte{0x47}, MaxPieceSize)}},
		{"manifest request", &ManifestRequest{}},
		{"ready", &Ready{}},
		{"tree", &Tree{Depth: [MaxStripes]uint8{0, 1, 2, 3, NoDepth, NoDepth, NoDepth, NoDepth}, Free: 5, Above: [MaxStripes]uint64{3: 0xdeadbeef}}},
		{"subscribe", &Subscribe{Mask: 0b1010}},
		{"feed", &Feed{Mask: 0b0101}},
		{"request stripes", &RequestStripes{Seq: 1 << 50, Mask: 0b0110}},
		{"manifest", &Manifest{Data: []byte(`{"name":"film.ts","size":123}`)}},
		{"manifest empty", &Manifest{}},
		{"ping", &Ping{Nonce: 0xDEADBEEF}},
		{"pong", &Pong{Nonce: 0xDEADBEEF}},
	}
}

func TestRoundTrip(t *testing.T) {
	for _, tc := range samples() {
		t.Run(tc.name, func(t *testing.T) {
			frame := AppendFrame(nil, tc.msg)

			r := NewReader(bytes.NewReader(frame), Limits{})
			got, err := r.ReadMessage()
			require.NoError(t, err)
			assert.Equal(t, tc.msg, got)
			_, err = r.ReadMessage()
			assert.Equal(t, io.EOF, err)

			parsed, err := ParseMessage(Type(frame[4]), frame[5:], Limits{})
			require.NoError(t, err)
			assert.Equal(t, tc.msg, parsed)
		})
	}
}

// TestFrameBytes pins the encoding byte by byte; docs/PROTOCOL.md shows the
// same examples.
func TestFrameBytes(t *testing.T) {
	bm := NewBufferMap(0x10, 10)
	bm.Set(0x10)
	bm.Set(0x19)
	hs := &Handshake{Version: Version, Source: true, ListenAddr: "a:1"}
	hs.Stream[0], hs.Stream[31] = 0xAA, 0xBB
	hs.Peer[0], hs.Peer[15] = 0xCC, 0xDD
	hs.Nonce[0] = 0xEE
	tests := []struct {
		name string
		msg  Message
		hex  string
	}{
		{"handshake", hs, "0000004b" + "01" + "50325053" + "08" + "01" +
			"aa" + strings.Repeat("00", 30) + "bb" + "cc" + strings.Repeat("00", 14) + "dd" +
			"ee" + strings.Repeat("00", 15) + "03" + "613a31"},
		{"buffer map", bm, "0000000f" + "02" + "0000000000000010" + "0000000a" + "8040"},
		{"have", &Have{Seq: 0x0102}, "00000009" + "03" + "0000000000000102"},
		{"request", &Request{Seq: 5}, "00000009" + "04" + "0000000000000005"},
		{"request back", &RequestBack{Seq: 5}, "00000009" + "10" + "0000000000000005"},
		{"cancel", &Cancel{Seq: 5}, "00000009" + "05" + "0000000000000005"},
		{"chunk", &Chunk{Seq: 7, Timestamp: -2, Flags: 1, Data: []byte{0x47}},
			"00000014" + "06" + "0000000000000007" + "fffffffffffffffe" + "01" + "00" + "47"},
		{"reject", &Reject{Seq: 5}, "00000009" + "07" + "0000000000000005"},
		{"manifest request", &ManifestRequest{}, "00000001" + "08"},
		{"ready", &Ready{}, "00000001" + "0e"},
		{"tree", &Tree{Depth: [MaxStripes]uint8{0, 1, 2, 3, 0xff, 0xff, 0xff, 0xff}, Free: 5, Above: [MaxStripes]uint64{1, 2: 1 << 63}}, "0000004a" + "11" + "00010203ffffffff" + "05" +
			"0000000000000001" + "0000000000000000" + "8000000000000000" + strings.Repeat("0000000000000000", 5)},
		{"subscribe", &Subscribe{Mask: 3}, "00000002" + "12" + "03"},
		{"feed", &Feed{Mask: 1}, "00000002" + "13" + "01"},
		{"request stripes", &RequestStripes{Seq: 5, Mask: 2}, "0000000a" + "14" + "0000000000000005" + "02"},
		{"manifest", &Manifest{Data: []byte("{}")}, "00000003" + "09" + "7b7d"},
		{"ping", &Ping{Nonce: 1}, "00000009" + "0a" + "0000000000000001"},
		{"pong", &Pong{Nonce: 1}, "00000009" + "0b" + "0000000000000001"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.hex, hex.EncodeToString(AppendFrame(nil, tc.msg)))
		})
	}
}

func TestAppendFrameAppends(t *testing.T) {
	b := AppendFrame([]byte("xy"), &Ping{Nonce: 3})
	b = AppendFrame(b, &Pong{Nonce: 3})
	require.Equal(t, "xy", string(b[:2]))
	r := NewReader(bytes.NewReader(b[2:]), Limits{})
	for _, want := range []Message{&Ping{Nonce: 3}, &Pong{Nonce: 3}} {
		got, err := r.ReadMessage()
		require.NoError(t, err)
		assert.Equal(t, want, got)
	}
}

// countingWriter counts Write calls.
type countingWriter struct {
	bytes.Buffer
	writes int
}

func (w *countingWriter) Write(p []byte) (int, error) {
	w.writes++
	return w.Buffer.Write(p)
}

// TestAppendPieceHeader: the header and the data make the same frame as
// AppendFrame.
func TestAppendPieceHeader(t *testing.T) {
	for _, n := range []int{1, 100, MaxPieceSize} {
		p := &Piece{Seq: 1<<40 + 3, Index: 9, Data: bytes.Repeat([]byte{7}, n)}
		got := append(AppendPieceHeader([]byte{0xAA}, p.Seq, p.Index, n), p.Data...)
		assert.Equal(t, AppendFrame([]byte{0xAA}, p), got, "%d bytes", n)
	}
	assert.Panics(t, func() { AppendPieceHeader(nil, 1, 0, 0) })
	assert.Panics(t, func() { AppendPieceHeader(nil, 1, 0, MaxPieceSize+1) })
}

func TestWriteMessage(t *testing.T) {
	for _, tc := range samples() {
		t.Run(tc.name, func(t *testing.T) {
			var w countingWriter
			require.NoError(t, WriteMessage(&w, tc.msg))
			assert.Equal(t, 1, w.writes, "one Write per frame")
			assert.Equal(t, AppendFrame(nil, tc.msg), w.Bytes())
		})
	}
}

// TestUnencodable: messages the layout cannot express are refused by
// WriteMessage with an error and by AppendFrame with a panic.
func TestUnencodable(t *testing.T) {
	tests := []struct {
		name string
		msg  Message
		want string
	}{
		{"long address", &Handshake{Version: Version, ListenAddr: strings.Repeat("a", 256)}, "listen address of 256 bytes"},
		{"version unset", &Handshake{}, "version 0, want 8"},
		{"short signature", &Chunk{Sig: make([]byte, 63)}, "signature of 63 bytes"},
		{"source proof unsigned", &SourceProof{}, "signature of 0 bytes, want 64"},
		{"head unsigned", &Head{Size: 1, Hashes: make([]byte, HashSize)}, "signature of 0 bytes, want 64"},
		{"head hashes missing", &Head{Size: 1, Sig: make([]byte, 64)}, "0 bytes of hashes for 1 bytes of data, want 32"},
		{"piece empty", &Piece{}, "piece of 0 bytes"},
		{"piece too big", &Piece{Data: make([]byte, MaxPieceSize+1)}, "piece of 16385 bytes"},
		{"bitmap too short", &BufferMap{N: 9, Bits: []byte{0}}, "9 bits need 2 bytes"},
		{"bitmap too long", &BufferMap{N: 8, Bits: []byte{0, 0}}, "8 bits need 1 bytes"},
		{"padding set", &BufferMap{N: 9, Bits: []byte{0, 0x40}}, "bits past 9 are set"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var w countingWriter
			err := WriteMessage(&w, tc.msg)
			require.ErrorContains(t, err, tc.want)
			assert.Zero(t, w.writes)
			assert.PanicsWithError(t, err.Error(), func() { AppendFrame(nil, tc.msg) })
		})
	}
}

func TestTypeString(t *testing.T) {
	assert.Equal(t, "Handshake", TypeHandshake.String())
	assert.Equal(t, "ManifestRequest", TypeManifestRequest.String())
	assert.Equal(t, "Pong", TypePong.String())
	assert.Equal(t, "Type(0x00)", Type(0).String())
	assert.Equal(t, "Type(0x15)", Type(0x15).String())
	assert.Equal(t, "Type(0xff)", Type(0xFF).String())
	for _, tc := range samples() {
		assert.NotContains(t, tc.msg.Type().String(), "Type(", tc.name)
	}
}

func TestLimitsDefaults(t *testing.T) {
	assert.Equal(t, Limits{MaxFrame: 4<<20 + 128, MaxChunk: 4 << 20, MaxManifest: 1 << 20, MaxBufferMapBits: 1 << 20},
		Limits{}.withDefaults())
	// MaxFrame fits the largest payload the other limits allow.
	assert.Equal(t, uint32(1<<20+128), Limits{MaxChunk: 1000}.withDefaults().MaxFrame)
	assert.Equal(t, uint32(1<<22+128), Limits{MaxChunk: 1000, MaxBufferMapBits: 1 << 25}.withDefaults().MaxFrame)
	assert.Equal(t, uint32(77), Limits{MaxFrame: 77}.withDefaults().MaxFrame)
	// Absurd limits are capped so sizes cannot overflow.
	assert.Equal(t, uint32(1<<31-1), Limits{MaxChunk: 1 << 62}.withDefaults().MaxFrame)
}
