package p2pstream

import (
	"crypto/ed25519"
	"crypto/rand"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/p2pstream/p2pstream/internal/wire"
)

// TestSourceProof: a peer that claims to publish a live stream is taken for
// its source only once it signs our handshake nonce with the stream key.
func TestSourceProof(t *testing.T) {
	_, key, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	_, other, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	ours := [16]byte{1, 2, 3}
	tests := []struct {
		name   string
		claim  bool
		signer ed25519.PrivateKey
		nonce  [16]byte // signed
		twice  bool
		want   bool // taken for the source
	}{
		{"valid", true, key, ours, false, true},
		{"another peer's nonce (a replayed proof)", true, key, [16]byte{9}, false, false},
		{"another key", true, other, ours, false, false},
		{"without a claim", false, key, ours, false, false},
		{"twice", true, key, ours, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, c := pieceTestStream(t, key, false)
			c.claim, c.nonce = tt.claim, ours
			proof := &wire.SourceProof{Sig: ed25519.Sign(tt.signer, wire.SourceProofMessage(s.id, tt.nonce))}
			err := s.handle(c, proof)
			if tt.twice {
				require.NoError(t, err)
				err = s.handle(c, proof)
			}
			if tt.want {
				require.NoError(t, err)
				assert.True(t, c.source)
				return
			}
			var pe *ProtocolError
			require.ErrorAs(t, err, &pe, "a protocol error closes the connection and bans the peer")
			assert.Equal(t, wire.TypeSourceProof, pe.Frame)
			assert.Equal(t, tt.twice, c.source, "only the first, valid, proof counts")
		})
	}
}

// TestUnprovedSourceClaim: until it proves its claim, a peer that says it
// publishes the stream is an ordinary peer: what it pushes unasked is not
// taken.
func TestUnprovedSourceClaim(t *testing.T) {
	_, key, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	s, c := pieceTestStream(t, key, false)
	c.claim = true
	delete(c.inflight, 5)
	_, head, pieces := signedPieces(t, key)
	require.NoError(t, s.receiveHead(c, head))
	for _, p := range pieces {
		require.NoError(t, s.receivePiece(c, p))
	}
	assert.False(t, s.st.has(5), "a push from an unproved source is not kept")
	assert.Equal(t, int64(40<<10), s.counters.wasted)
}
