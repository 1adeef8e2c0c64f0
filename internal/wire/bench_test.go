package wire

import (
	"bytes"
	"testing"
)

const benchChunkSize = 256 << 10

func benchChunk() *Chunk {
	return &Chunk{Seq: 1, Timestamp: 2, Flags: 1, Sig: make([]byte, SignatureSize), Data: bytes.Repeat([]byte{0x47}, benchChunkSize)}
}

// BenchmarkChunkFrame encodes and decodes a 256 KiB chunk frame. Neither
// can beat one copy of the data, so the "copy" sub-benchmark runs first as
// a baseline and the others report their time as a multiple of it (x-copy).
func BenchmarkChunkFrame(b *testing.B) {
	c := benchChunk()
	frame := AppendFrame(nil, c)

	var baseline float64 // ns per copy, from the last run of "copy"
	b.Run("copy", func(b *testing.B) {
		b.SetBytes(int64(len(frame)))
		dst := make([]byte, len(frame))
		for b.Loop() {
			copy(dst, frame)
		}
		baseline = nsPerOp(b)
	})
	reportVsCopy := func(b *testing.B) {
		if baseline > 0 { // zero when -bench skipped "copy"
			b.ReportMetric(nsPerOp(b)/baseline, "x-copy")
		}
	}

	b.Run("encode", func(b *testing.B) {
		b.SetBytes(int64(len(frame)))
		b.ReportAllocs()
		buf := make([]byte, 0, len(frame))
		for b.Loop() {
			buf = AppendFrame(buf[:0], c)
		}
		reportVsCopy(b)
	})
	b.Run("decode", func(b *testing.B) {
		b.SetBytes(int64(len(frame)))
		b.ReportAllocs()
		r := NewReader(&repeatReader{frame: frame}, Limits{})
		for b.Loop() {
			if _, err := r.ReadMessage(); err != nil {
				b.Fatal(err)
			}
		}
		reportVsCopy(b)
	})
}

func nsPerOp(b *testing.B) float64 {
	return float64(b.Elapsed().Nanoseconds()) / float64(b.N)
}
