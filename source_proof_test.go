package p2pstream

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"net"
	"testing"
	"time"

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
	t.Run("on an on-demand stream", func(t *testing.T) {
		s, c := pieceTestStream(t, key, false)
		s.kind = KindVOD
		c.claim, c.nonce = true, ours
		err := s.handle(c, &wire.SourceProof{Sig: ed25519.Sign(key, wire.SourceProofMessage(s.id, ours))})
		var pe *ProtocolError
		require.ErrorAs(t, err, &pe)
	})
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
	assert.Equal(t, int64(10<<10), s.counters.wasted)
}

// TestNewConnSourceClaim: newConn takes a live stream's source claim on
// trust no longer, an on-demand one still (there is no key to prove it
// with), and at a publisher it signs the peer's nonce for register to send.
func TestNewConnSourceClaim(t *testing.T) {
	pubKey, key, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	var id StreamID
	copy(id[:], pubKey)
	tests := []struct {
		name      string
		kind      Kind
		claim     bool
		publisher bool
		source    bool // taken for the source at once
	}{
		{"live, claims", KindLive, true, false, false},
		{"live, no claim", KindLive, false, false, false},
		{"on demand, claims", KindVOD, true, false, true},
		{"live, at the publisher", KindLive, false, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &Peer{}
			p.ctx, p.cancel = context.WithCancel(context.Background())
			t.Cleanup(p.cancel)
			s := newStream(p, StreamInfo{ID: id, Kind: tt.kind, ChunkDuration: time.Second}, nil, tt.publisher)
			if tt.publisher {
				s.key = key
			}
			a, b := net.Pipe()
			t.Cleanup(func() { a.Close(); b.Close() })
			hs := &wire.Handshake{Version: wire.Version, Source: tt.claim, Stream: id, Nonce: [16]byte{4, 5, 6}}
			c := newConn(s, a, wire.NewReader(a, wire.Limits{}), hs, [16]byte{1}, PeerID{}, "")
			assert.Equal(t, tt.source, c.source)
			assert.Equal(t, tt.claim, c.claim)
			if !tt.publisher {
				assert.Nil(t, c.proof)
				return
			}
			require.NotNil(t, c.proof)
			assert.True(t, ed25519.Verify(pubKey, wire.SourceProofMessage(id, hs.Nonce), c.proof.Sig), "signs the peer's nonce")
		})
	}
}
