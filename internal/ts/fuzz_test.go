package ts

import (
	"bytes"
	"io"
	"testing"
	"time"
)

// The seed corpora are in testdata/fuzz: short synthetic streams, the
// start of the sample, a PMT over several packets, a PCR going backwards,
// garbage between packets and a truncated packet.

func FuzzSegmenter(f *testing.F) {
	f.Add([]byte{SyncByte, 0x40, 0, 0x30, 0xb7})
	f.Fuzz(func(t *testing.T, data []byte) {
		s := NewSegmenter(bytes.NewReader(data), 50*time.Millisecond)
		var joined []byte
		var next time.Duration
		for {
			seg, err := s.Next()
			if err != nil {
				break
			}
			if len(seg.Data) == 0 || len(seg.Data)%PacketSize != 0 || len(seg.Data) > MaxSegmentSize {
				t.Fatalf("segment of %d bytes", len(seg.Data))
			}
			if seg.Start != next || seg.Duration < 0 {
				t.Fatalf("segment at %v for %v after one ending at %v", seg.Start, seg.Duration, next)
			}
			next = seg.Start + seg.Duration
			joined = append(joined, seg.Data...)
		}
		if !bytes.Equal(joined, packets(data)) {
			t.Fatalf("segments hold %d bytes, not the %d bytes of packets", len(joined), len(packets(data)))
		}
	})
}

func FuzzLoop(f *testing.F) {
	f.Add([]byte{SyncByte, 0x40, 0, 0x30, 0xb7})
	f.Fuzz(func(t *testing.T, data []byte) {
		one := packets(data)
		if len(one) > 64*PacketSize {
			return // a few passes of a long input say no more
		}
		out := make([]byte, 3*len(one))
		if _, err := io.ReadFull(Loop(t.Context(), data), out); err != nil && len(one) > 0 {
			t.Fatal(err)
		}
		if !bytes.Equal(out[:len(one)], one) {
			t.Fatal("the first pass differs from the input")
		}
		// Later passes differ only in timestamps and counters.
		for off := len(one); off < len(out); off += PacketSize {
			want := fieldsOf(Packet(one[off%len(one) : off%len(one)+PacketSize]))
			got := fieldsOf(Packet(out[off : off+PacketSize]))
			if !bytes.Equal(want.rest, got.rest) || want.hasPCR != got.hasPCR || want.hasPTS != got.hasPTS || want.hasDTS != got.hasDTS {
				t.Fatalf("packet at %d changed beyond its timestamps and counter", off)
			}
		}
	})
}
