package player

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestBGRXToRGBA(t *testing.T) {
	dst := make([]byte, 12)
	bgrxToRGBA(dst, []byte{1, 2, 3, 0, 10, 20, 30, 99, 100, 200, 250, 7})
	assert.Equal(t, []byte{3, 2, 1, 255, 30, 20, 10, 255, 250, 200, 100, 255}, dst)
}

func BenchmarkBGRXToRGBA720p(b *testing.B) {
	src := make([]byte, 1280*720*4)
	dst := make([]byte, len(src))
	b.SetBytes(int64(len(src)))
	for range b.N {
		bgrxToRGBA(dst, src)
	}
}
