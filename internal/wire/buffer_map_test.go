package wire

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestBufferMapSetHas(t *testing.T) {
	tests := []struct {
		name       string
		base       uint64
		n          uint32
		set        []uint64
		bits       []byte
		has, hasnt []uint64
	}{
		{"empty", 5, 0, []uint64{5}, nil, nil, []uint64{4, 5, 6}},
		{"first and last", 100, 10, []uint64{100, 109}, []byte{0x80, 0x40}, []uint64{100, 109}, []uint64{99, 101, 108, 110}},
		{"outside ignored", 100, 3, []uint64{99, 103, 1 << 63}, []byte{0}, nil, []uint64{99, 100, 103}},
		{"every bit of a byte", 0, 8, []uint64{0, 1, 2, 3, 4, 5, 6, 7}, []byte{0xFF}, []uint64{0, 7}, []uint64{8}},
		{"base near the top", math.MaxUint64 - 2, 5, []uint64{math.MaxUint64, 0}, []byte{0x20}, []uint64{math.MaxUint64}, []uint64{0, 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := NewBufferMap(tc.base, tc.n)
			for _, seq := range tc.set {
				m.Set(seq)
			}
			assert.Equal(t, tc.bits, m.Bits)
			for _, seq := range tc.has {
				assert.True(t, m.Has(seq), "Has(%d)", seq)
			}
			for _, seq := range tc.hasnt {
				assert.False(t, m.Has(seq), "Has(%d)", seq)
			}
		})
	}
}

// TestBufferMapShortBits: a hand-built map with too few Bits must not make
// Set or Has index out of range.
func TestBufferMapShortBits(t *testing.T) {
	m := &BufferMap{Base: 0, N: 16, Bits: []byte{0}}
	m.Set(12)
	assert.False(t, m.Has(12))
}
