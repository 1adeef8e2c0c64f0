package p2pstream

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestChunkSignature(t *testing.T) {
	_, key, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	var id StreamID
	copy(id[:], key.Public().(ed25519.PublicKey))
	_, other, _ := ed25519.GenerateKey(rand.Reader)

	good := Chunk{Seq: 7, Timestamp: 123456, Flags: FlagKeyframe, Data: []byte("chunk data")}
	signChunk(key, &good)
	require.NoError(t, verifyLiveChunk(id, &good))

	tests := []struct {
		name   string
		mutate func(c *Chunk)
	}{
		{"data", func(c *Chunk) { c.Data = []byte("chunk dato") }},
		{"seq", func(c *Chunk) { c.Seq++ }},
		{"timestamp", func(c *Chunk) { c.Timestamp++ }},
		{"flags", func(c *Chunk) { c.Flags = 0 }},
		{"short signature", func(c *Chunk) { c.Sig = c.Sig[:10] }},
		{"no signature", func(c *Chunk) { c.Sig = nil }},
		{"other key", func(c *Chunk) { signChunk(other, c) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := good
			c.Sig = bytes.Clone(good.Sig)
			tt.mutate(&c)
			err := verifyLiveChunk(id, &c)
			require.ErrorIs(t, err, ErrBadChunk)
		})
	}
	t.Run("other stream", func(t *testing.T) {
		var id2 StreamID
		copy(id2[:], other.Public().(ed25519.PublicKey))
		require.ErrorIs(t, verifyLiveChunk(id2, &good), ErrBadChunk)
	})
}

func TestManifest(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789abcdef"), 5000) // 80000 bytes
	m, err := NewManifest("film.ts", bytes.NewReader(data), 16<<10)
	require.NoError(t, err)
	assert.Equal(t, int64(len(data)), m.Size)
	assert.Equal(t, 5, m.Chunks()) // 4 full chunks + 14464 bytes
	assert.Equal(t, 80000-4*16384, m.chunkLen(4))

	b, err := m.MarshalBinary()
	require.NoError(t, err)
	var back Manifest
	require.NoError(t, back.UnmarshalBinary(b))
	assert.Equal(t, *m, back)
	assert.Equal(t, m.ID(), back.ID())

	for i := range uint64(5) {
		lo := int(i) * 16384
		hi := min(lo+16384, len(data))
		require.NoError(t, m.verify(Chunk{Seq: i, Data: data[lo:hi]}))
	}
	require.ErrorIs(t, m.verify(Chunk{Seq: 0, Data: data[1 : 16384+1]}), ErrBadChunk)
	require.ErrorIs(t, m.verify(Chunk{Seq: 5, Data: nil}), ErrBadChunk)
	require.ErrorIs(t, m.verify(Chunk{Seq: 4, Data: data[4*16384 : len(data)-1]}), ErrBadChunk)

	info := m.Info()
	assert.Equal(t, KindVOD, info.Kind)
	assert.Equal(t, m.ID(), info.ID)
	assert.Equal(t, 5, info.Chunks)
}

func TestManifestRejectsMalformed(t *testing.T) {
	m, err := NewManifest("x", bytes.NewReader(make([]byte, 10000)), 4096)
	require.NoError(t, err)
	good, _ := m.MarshalBinary()
	tests := []struct {
		name string
		b    []byte
		want string
	}{
		{"empty", nil, "magic"},
		{"bad magic", append([]byte("XXXX"), good[4:]...), "magic"},
		{"truncated header", good[:10], "truncated"},
		{"missing hash", good[:len(good)-1], "hash list"},
		{"extra byte", append(bytes.Clone(good), 0), "hash list"},
		{"wrong count", func() []byte {
			b := bytes.Clone(good)
			b[len(manifestMagic)+2+1+23] = 9 // chunk count low byte
			return b
		}(), "chunks for"},
		{"tiny chunk size", func() []byte {
			mm := *m
			mm.ChunkSize = 16
			b, _ := mm.MarshalBinary()
			return b
		}(), "chunk size"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out Manifest
			err := out.UnmarshalBinary(tt.b)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			assert.True(t, strings.HasPrefix(err.Error(), "p2pstream: manifest:"))
		})
	}
}

func TestParseStreamID(t *testing.T) {
	var id StreamID
	id[0], id[31] = 0xab, 0x01
	back, err := ParseStreamID(id.String())
	require.NoError(t, err)
	assert.Equal(t, id, back)
	for _, bad := range []string{"", "abc", strings.Repeat("zz", 32), id.String() + "00"} {
		_, err := ParseStreamID(bad)
		assert.Error(t, err, bad)
	}
	text, _ := id.MarshalText()
	var again StreamID
	require.NoError(t, again.UnmarshalText(text))
	assert.Equal(t, id, again)
}

func TestStatsP2PRatio(t *testing.T) {
	assert.Zero(t, Stats{}.P2PRatio())
	assert.InDelta(t, 0.75, Stats{BytesFromPeers: 300, BytesFromSource: 100}.P2PRatio(), 1e-9)
}

var errTest = errors.New("test")
