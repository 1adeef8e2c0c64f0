package wire

import (
	"encoding/binary"
	"fmt"
)

// bufferMapFixed is the BufferMap payload before the bitmap: base and n.
const bufferMapFixed = 8 + 4

// BufferMap (type 0x02) says which chunks of a range the sender holds. A
// peer sends one after the handshake and then a [Have] for each new chunk.
type BufferMap struct {
	// Base is the sequence number of the first chunk covered.
	Base uint64
	// N is the number of chunks covered: Base to Base+N-1.
	N uint32
	// Bits holds ceil(N/8) bytes. Bit i, counted from the most significant
	// bit of each byte, is set if the sender holds chunk Base+i. Bits past N
	// in the last byte are zero.
	Bits []byte
}

// NewBufferMap returns an empty buffer map covering chunks base to
// base+n-1.
func NewBufferMap(base uint64, n uint32) *BufferMap {
	return &BufferMap{Base: base, N: n, Bits: nilIfEmpty(make([]byte, bitmapLen(n)))}
}

// Set marks chunk seq as held. A seq outside the map is ignored.
func (m *BufferMap) Set(seq uint64) {
	if i, ok := m.index(seq); ok {
		m.Bits[i/8] |= 0x80 >> (i % 8)
	}
}

// Has reports whether the map marks chunk seq as held.
func (m *BufferMap) Has(seq uint64) bool {
	i, ok := m.index(seq)
	return ok && m.Bits[i/8]&(0x80>>(i%8)) != 0
}

// index returns the bit number of seq, if the map covers it.
func (m *BufferMap) index(seq uint64) (uint64, bool) {
	i := seq - m.Base // wraps to a huge value when seq < Base
	return i, seq >= m.Base && i < uint64(m.N) && i/8 < uint64(len(m.Bits))
}

// Type returns TypeBufferMap.
func (*BufferMap) Type() Type { return TypeBufferMap }

// AppendPayload appends base, n and the bitmap.
func (m *BufferMap) AppendPayload(b []byte) []byte {
	b = binary.BigEndian.AppendUint64(b, m.Base)
	b = binary.BigEndian.AppendUint32(b, m.N)
	return append(b, m.Bits...)
}

func (m *BufferMap) check() error {
	if want := bitmapLen(m.N); uint64(len(m.Bits)) != want {
		return fmt.Errorf("%d bits need %d bytes of bitmap, have %d", m.N, want, len(m.Bits))
	}
	if padBits(m.N, m.Bits) != 0 {
		return fmt.Errorf("bits past %d are set", m.N)
	}
	return nil
}

// bitmapLen is the number of bytes that hold n bits.
func bitmapLen(n uint32) uint64 { return (uint64(n) + 7) / 8 }

// padBits returns the bits of the last byte of bits that lie past bit n.
// bits must be bitmapLen(n) bytes long.
func padBits(n uint32, bits []byte) byte {
	if n%8 == 0 {
		return 0
	}
	return bits[len(bits)-1] & (0xFF >> (n % 8))
}

// parseBufferMap decodes a payload whose size is within bounds.
func parseBufferMap(p []byte, lim Limits) (*BufferMap, error) {
	m := &BufferMap{
		Base: binary.BigEndian.Uint64(p),
		N:    binary.BigEndian.Uint32(p[8:]),
		Bits: nilIfEmpty(p[bufferMapFixed:]),
	}
	if m.N > lim.MaxBufferMapBits {
		return nil, errorf(TypeBufferMap, "%d bits exceed limit of %d", m.N, lim.MaxBufferMapBits)
	}
	if want := bitmapLen(m.N); uint64(len(m.Bits)) != want {
		return nil, errorf(TypeBufferMap, "%d bits need %d bytes of bitmap, got %d", m.N, want, len(m.Bits))
	}
	if padBits(m.N, m.Bits) != 0 {
		return nil, errorf(TypeBufferMap, "padding bits after bit %d are set", m.N)
	}
	return m, nil
}
