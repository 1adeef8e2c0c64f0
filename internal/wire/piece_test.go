package wire

import (
	"bytes"
	"crypto/sha256"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPieceSize(t *testing.T) {
	tests := []struct {
		name       string
		size, want int
		pieces     int
	}{
		{"one byte", 1, MinPieceSize, 1},
		{"250 kbit/s, 1 s", 31_250, MinPieceSize, 8},
		{"500 kbit/s, 1 s", 62_500, MinPieceSize, 16},
		{"1 Mbit/s, 1 s", 125_000, MinPieceSize, 31},
		{"2 Mbit/s, 1 s", 250_000, MinPieceSize, 62},
		{"just over 64 small pieces", 64*MinPieceSize + 1, 2 * MinPieceSize, 33},
		{"4 Mbit/s, 1 s", 500_000, 8 << 10, 62},
		{"8 Mbit/s, 1 s", 1_000_000, MaxPieceSize, 62},
		{"16 Mbit/s, 1 s", 2_000_000, MaxPieceSize, 123},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, PieceSize(tt.size))
			assert.Equal(t, tt.pieces, Pieces(tt.size))
			start, end := PieceBounds(tt.size, tt.pieces-1)
			assert.Equal(t, (tt.pieces-1)*tt.want, start)
			assert.Equal(t, tt.size, end, "the last piece ends the chunk")
			assert.LessOrEqual(t, end-start, tt.want)
		})
	}
}

func TestPieceHashes(t *testing.T) {
	data := bytes.Repeat([]byte("p2pstream"), 10_000) // 90,000 bytes: 8 KiB pieces
	hashes := PieceHashes(data)
	assert.Len(t, hashes, Pieces(len(data))*HashSize)
	for i := range Pieces(len(data)) {
		start, end := PieceBounds(len(data), i)
		sum := sha256.Sum256(data[start:end])
		assert.Equal(t, sum[:], hashes[i*HashSize:(i+1)*HashSize], "piece %d", i)
	}
}

// TestMaxPieces: a Head for any chunk up to a MaxChunk fits the limit that
// MaxChunk sets, though a bigger chunk may have fewer, larger pieces.
func TestMaxPieces(t *testing.T) {
	for _, limit := range []int{1, 4096, 64 << 10, 100 << 10, 200 << 10, 256 << 10, 4 << 20} {
		most := MaxPieces(limit)
		for size := 0; size <= limit; size += max(1, limit/4096) {
			if Pieces(size) > most {
				t.Fatalf("MaxChunk %d: a chunk of %d bytes has %d pieces, more than MaxPieces %d", limit, size, Pieces(size), most)
			}
		}
	}
	l := Limits{MaxChunk: 100 << 10}
	head := &Head{Seq: 1, Size: 64 << 10, Sig: make([]byte, SignatureSize), Hashes: make([]byte, Pieces(64<<10)*HashSize)}
	var b bytes.Buffer
	require.NoError(t, WriteMessage(&b, head))
	_, err := NewReader(&b, l).ReadMessage()
	assert.NoError(t, err, "a 64 KiB chunk's head under a 100 KiB MaxChunk")
}
