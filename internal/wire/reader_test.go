package wire

import (
	"bytes"
	"errors"
	"io"
	"math"
	"runtime"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestReaderStream(t *testing.T) {
	var stream []byte
	for _, tc := range samples() {
		stream = AppendFrame(stream, tc.msg)
	}
	// The default buffer, and buffers smaller than most frames (bufio's
	// smallest is 16 bytes). HalfReader makes frames straddle reads.
	for _, size := range []int{0, 16, 1 << 10} {
		src := iotest.HalfReader(bytes.NewReader(stream))
		r := NewReader(src, Limits{})
		if size > 0 {
			r = NewReaderSize(src, size, Limits{})
		}
		for _, tc := range samples() {
			got, err := r.ReadMessage()
			require.NoError(t, err, "buffer %d: %s", size, tc.name)
			assert.Equal(t, tc.msg, got, "buffer %d: %s", size, tc.name)
		}
		for range 2 { // EOF is sticky
			m, err := r.ReadMessage()
			assert.Nil(t, m)
			assert.Equal(t, io.EOF, err)
		}
	}
}

// TestReaderChunkOwnsData: a chunk's Data must survive the next reads,
// because the engine stores it.
func TestReaderChunkOwnsData(t *testing.T) {
	first := &Chunk{Seq: 1, Data: bytes.Repeat([]byte{1}, 100)}
	var stream []byte
	stream = AppendFrame(stream, first)
	stream = AppendFrame(stream, &Chunk{Seq: 2, Data: bytes.Repeat([]byte{2}, 100)})
	stream = AppendFrame(stream, &Manifest{Data: bytes.Repeat([]byte{3}, 100)})
	stream = AppendFrame(stream, &Have{Seq: 4})
	r := NewReader(bytes.NewReader(stream), Limits{})
	got, err := r.ReadMessage()
	require.NoError(t, err)
	for range 3 {
		_, err := r.ReadMessage()
		require.NoError(t, err)
	}
	assert.Equal(t, first, got)
}

// TestReaderReusePieces: with ReusePieces, pieces are read into recycled
// buffers (each valid until the next read, and decoded right), without
// allocating their data; without it, each piece owns its data.
func TestReaderReusePieces(t *testing.T) {
	one := &Piece{Seq: 7, Index: 0, Data: bytes.Repeat([]byte{1}, MaxPieceSize)}
	two := &Piece{Seq: 7, Index: 1, Data: bytes.Repeat([]byte{2}, 100)}
	stream := AppendFrame(AppendFrame(nil, one), two)
	for _, reuse := range []bool{false, true} {
		r := NewReader(bytes.NewReader(stream), Limits{})
		r.ReusePieces = reuse
		a, err := r.ReadMessage()
		require.NoError(t, err)
		assert.Equal(t, one, a)
		b, err := r.ReadMessage()
		require.NoError(t, err)
		assert.Equal(t, two, b)
		if !reuse {
			// (With reuse it is usually overwritten, but a sync.Pool
			// promises nothing: under -race it drops a quarter of what is
			// put back.)
			assert.Equal(t, one.Data, a.(*Piece).Data, "the first piece's data after the second read")
		}
	}
	frame := AppendFrame(nil, one)
	r := NewReader(&repeatReader{frame: frame}, Limits{})
	r.ReusePieces = true
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := r.ReadMessage(); err != nil {
			panic(err)
		}
	})
	assert.LessOrEqual(t, allocs, 1.0, "only the message")
}

// TestReaderChunkBuffer: with ChunkBuffer, a chunk is read into the buffer
// it gives (Data aliases it); when it gives nil, or a buffer of the wrong
// length, the chunk gets a buffer of its own. Other frames never ask.
func TestReaderChunkBuffer(t *testing.T) {
	chunk := &Chunk{Seq: 3, Timestamp: 9, Data: bytes.Repeat([]byte{5}, 1000)}
	stream := AppendFrame(AppendFrame(nil, &Have{Seq: 1}), chunk)
	for _, tc := range []struct {
		name  string
		give  func(n int) []byte
		alias bool
	}{
		{"buffer", func(n int) []byte { return make([]byte, n, n+10) }, true},
		{"nil", func(int) []byte { return nil }, false},
		{"wrong length", func(n int) []byte { return make([]byte, n-1) }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var given []byte
			var asked []int
			r := NewReader(bytes.NewReader(stream), Limits{})
			r.ChunkBuffer = func(n int) []byte {
				asked = append(asked, n)
				given = tc.give(n)
				return given
			}
			m, err := r.ReadMessage()
			require.NoError(t, err)
			assert.Equal(t, &Have{Seq: 1}, m)
			assert.Empty(t, asked, "asked for a Have frame")
			m, err = r.ReadMessage()
			require.NoError(t, err)
			assert.Equal(t, chunk, m)
			assert.Equal(t, []int{chunkFixed + len(chunk.Data)}, asked)
			data := m.(*Chunk).Data
			inGiven := len(given) > 0 && &given[len(given)-1] == &data[len(data)-1]
			assert.Equal(t, tc.alias, inGiven, "data in the given buffer")
		})
	}
}

// TestReaderLargeChunk reads a chunk larger than the first buffer step, so
// the payload buffer grows while it arrives.
func TestReaderLargeChunk(t *testing.T) {
	for _, size := range []int{growStep - 1, growStep, growStep + 1, 3*growStep + 5, DefaultMaxChunk} {
		data := make([]byte, size)
		for i := range data {
			data[i] = byte(i * 7)
		}
		want := &Chunk{Seq: uint64(size), Data: data}
		r := NewReader(iotest.HalfReader(bytes.NewReader(AppendFrame(nil, want))), Limits{})
		got, err := r.ReadMessage()
		require.NoError(t, err, size)
		require.Equal(t, want, got, size)
	}
}

// TestReaderTruncated cuts every sample frame at every length: the end of
// input at a frame boundary is io.EOF, anywhere else io.ErrUnexpectedEOF.
func TestReaderTruncated(t *testing.T) {
	for _, tc := range samples() {
		t.Run(tc.name, func(t *testing.T) {
			frame := AppendFrame(nil, tc.msg)
			for n := range len(frame) {
				_, err := NewReader(bytes.NewReader(frame[:n]), Limits{}).ReadMessage()
				if n == 0 {
					require.Equal(t, io.EOF, err)
					continue
				}
				require.ErrorIs(t, err, io.ErrUnexpectedEOF, "cut at %d", n)
				var pe *ProtocolError
				require.ErrorAs(t, err, &pe)
				if n > 4 {
					assert.Equal(t, tc.msg.Type(), pe.Frame)
				}
			}
		})
	}
}

// TestReaderTransportError: errors of the underlying connection are not
// protocol errors and pass through unchanged.
func TestReaderTransportError(t *testing.T) {
	boom := errors.New("boom")
	frame := AppendFrame(nil, &Have{Seq: 1})
	for _, n := range []int{0, 2, 6} {
		r := NewReader(io.MultiReader(bytes.NewReader(frame[:n]), iotest.ErrReader(boom)), Limits{})
		_, err := r.ReadMessage()
		assert.Equal(t, boom, err, "after %d bytes", n)
	}
}

// TestReaderSmallFramesAllocate: a control frame costs one allocation, the
// message itself; the payload goes through the Reader's scratch buffer.
func TestReaderSmallFramesAllocate(t *testing.T) {
	for _, m := range []Message{&Have{Seq: 1}, &Ping{Nonce: 2}, &ManifestRequest{}} {
		frame := AppendFrame(nil, m)
		src := &repeatReader{frame: frame}
		r := NewReader(src, Limits{})
		allocs := testing.AllocsPerRun(100, func() {
			if _, err := r.ReadMessage(); err != nil {
				panic(err)
			}
		})
		assert.LessOrEqual(t, allocs, 1.0, m.Type().String())
	}
}

// TestReaderHugeLengthDoesNotAllocate: a frame header that claims gigabytes
// must fail without allocating anything near that, both when a limit
// rejects it at once and when the limits allow it but the bytes never come.
func TestReaderHugeLengthDoesNotAllocate(t *testing.T) {
	tests := []struct {
		name   string
		header []byte
		lim    Limits
		want   error
	}{
		{"4 GiB, default limits", []byte{0xFF, 0xFF, 0xFF, 0xF0, byte(TypeChunk)}, Limits{}, nil},
		{"4 GiB manifest, default limits", []byte{0xFF, 0xFF, 0xFF, 0xFF, byte(TypeManifest)}, Limits{}, nil},
		{"4 GiB, largest limits", []byte{0xFF, 0xFF, 0xFF, 0xF0, byte(TypeChunk)},
			Limits{MaxFrame: math.MaxUint32, MaxChunk: math.MaxInt}, nil},
		{"2 GiB, limits allow it", []byte{0x7F, 0xFF, 0xFF, 0x00, byte(TypeChunk)},
			Limits{MaxFrame: math.MaxUint32, MaxChunk: math.MaxInt}, io.ErrUnexpectedEOF},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			input := append(tc.header, 1, 2, 3)
			var err error
			bytesPerRun := allocatedBytes(10, func() {
				_, err = NewReader(bytes.NewReader(input), tc.lim).ReadMessage()
			})
			var pe *ProtocolError
			require.ErrorAs(t, err, &pe)
			if tc.want != nil {
				require.ErrorIs(t, err, tc.want)
			}
			// At most the first growStep buffer, never the claimed size.
			assert.Less(t, bytesPerRun, uint64(growStep+64<<10), "bytes allocated per read")
		})
	}
}

// allocatedBytes returns the heap bytes f allocates per run, averaged over
// runs.
func allocatedBytes(runs int, f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range runs {
		f()
	}
	runtime.ReadMemStats(&after)
	return (after.TotalAlloc - before.TotalAlloc) / uint64(runs)
}

// repeatReader returns frame over and over, forever.
type repeatReader struct {
	frame []byte
	off   int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		k := copy(p[n:], r.frame[r.off:])
		n += k
		r.off = (r.off + k) % len(r.frame)
	}
	return n, nil
}
