package p2pstream

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"math"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/p2pstream/p2pstream/internal/wire"
)

// pieceTestStream is a live viewer's stream of the publisher key, with one
// connection, from the source or from a peer it asked for chunk 5.
func pieceTestStream(t *testing.T, key ed25519.PrivateKey, source bool) (*Stream, *conn) {
	t.Helper()
	var id StreamID
	copy(id[:], key.Public().(ed25519.PublicKey))
	p := &Peer{}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	t.Cleanup(p.cancel)
	s := newStream(p, StreamInfo{ID: id, Kind: KindLive, ChunkDuration: time.Second}, nil, false)
	s.st = newLiveStore(30)
	a, b := net.Pipe()
	t.Cleanup(func() { a.Close(); b.Close() })
	c := testConn(1)
	c.s, c.nc, c.source, c.late = s, a, source, make(map[uint64]struct{})
	if !source {
		c.inflight[5] = time.Now()
	}
	s.conns[c.id] = c
	return s, c
}

// signedPieces returns chunk 5 (10 KiB: pieces of 4, 4 and 2 KiB) as a
// head and pieces signed by key.
func signedPieces(t *testing.T, key ed25519.PrivateKey) (Chunk, *wire.Head, []*wire.Piece) {
	t.Helper()
	data := make([]byte, 10<<10)
	_, _ = rand.Read(data)
	ch := Chunk{Seq: 5, Timestamp: time.Now().UnixMicro(), Flags: FlagKeyframe, Data: data}
	signChunk(key, &ch)
	head := &wire.Head{Seq: 5, Timestamp: ch.Timestamp, Flags: uint8(ch.Flags), Size: uint32(len(data)), Sig: ch.Sig, Hashes: ch.hashes}
	var pieces []*wire.Piece
	for i := range wire.Pieces(len(data)) {
		pieces = append(pieces, &wire.Piece{Seq: 5, Index: uint32(i), Data: bytes.Clone(piece(data, i))})
	}
	return ch, head, pieces
}

func TestReceivePieces(t *testing.T) {
	_, key, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	_, other, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	// signedByOther re-signs a head with another key than the stream's.
	signedByOther := func(h *wire.Head, p []*wire.Piece) *wire.Head {
		ch := Chunk{Seq: h.Seq, Timestamp: h.Timestamp, Flags: ChunkFlags(h.Flags), Data: make([]byte, h.Size)}
		signChunk(other, &ch)
		h.Sig = ch.Sig
		return h
	}
	tests := []struct {
		name   string
		source bool // the connection is the source's (else: a peer asked for the chunk)
		parent bool // the connection is a tree parent pushing every stripe, unasked
		change func(h *wire.Head, p []*wire.Piece) *wire.Head
		held   bool // the chunk is stored before its head comes
		stored bool
		banned bool
	}{
		{name: "from the source, in order", source: true, stored: true},
		{name: "asked of a peer, out of order", change: func(h *wire.Head, p []*wire.Piece) *wire.Head {
			p[0], p[2] = p[2], p[0]
			return h
		}, stored: true},
		{name: "a piece changed", source: true, change: func(h *wire.Head, p []*wire.Piece) *wire.Head {
			p[1].Data[100] ^= 1
			return h
		}, banned: true},
		{name: "pushed by a tree parent", parent: true, stored: true},
		{name: "pushed by a tree parent, a piece changed", parent: true, change: func(h *wire.Head, p []*wire.Piece) *wire.Head {
			p[2].Data[0] ^= 1
			return h
		}, banned: true},
		{name: "pushed by a tree parent, signed by another key", parent: true, change: signedByOther, banned: true},
		{name: "pushed by a tree parent, held already", parent: true, held: true, stored: true},
		{name: "pushed by a tree parent, held already, signed by another key", parent: true, held: true, change: signedByOther, stored: true, banned: true},
		{name: "a piece of the wrong length", change: func(h *wire.Head, p []*wire.Piece) *wire.Head {
			p[2].Data = append(p[2].Data, 0x47)
			return h
		}, banned: true},
		{name: "a piece past the end", change: func(h *wire.Head, p []*wire.Piece) *wire.Head {
			p[2].Index = 3
			return h
		}, banned: true},
		{name: "a piece index of 2^32-1", change: func(h *wire.Head, p []*wire.Piece) *wire.Head {
			p[0].Index = math.MaxUint32
			return h
		}, banned: true},
		{name: "a head signed by another key", source: true, change: signedByOther, banned: true},
		{name: "hashes that are not the signed ones", source: true, change: func(h *wire.Head, p []*wire.Piece) *wire.Head {
			h.Hashes = bytes.Clone(h.Hashes)
			h.Hashes[0] ^= 1
			return h
		}, banned: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, c := pieceTestStream(t, key, tc.source)
			if tc.parent {
				delete(c.inflight, 5)
				c.feeds = allStripes
			}
			want, head, pieces := signedPieces(t, key)
			if tc.held {
				s.st.put(want)
			}
			if tc.change != nil {
				head = tc.change(head, pieces)
			}
			err := s.receiveHead(c, head)
			for _, p := range pieces {
				if err != nil {
					break
				}
				err = s.receivePiece(c, p)
			}
			got, stored := s.st.get(5)
			assert.Equal(t, tc.stored, stored, "stored")
			if stored {
				assert.Equal(t, want.Data, got.Data)
				assert.Equal(t, want.Sig, got.Sig)
			}
			if tc.banned {
				require.ErrorIs(t, err, ErrBadChunk)
				assert.True(t, c.closed(), "the sender is disconnected")
				assert.Equal(t, 1, s.counters.bans)
			} else {
				require.NoError(t, err)
				assert.False(t, c.closed())
			}
		})
	}
}

// TestPiecesUnasked: a peer that is not the source sends a chunk nobody asked
// it for; it is neither checked nor kept, and its pieces count as waste.
func TestPiecesUnasked(t *testing.T) {
	_, key, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	s, c := pieceTestStream(t, key, false)
	delete(c.inflight, 5)
	_, head, pieces := signedPieces(t, key)
	head.Sig = make([]byte, SignatureSize) // not even checked
	require.NoError(t, s.receiveHead(c, head))
	for _, p := range pieces {
		require.NoError(t, s.receivePiece(c, p))
	}
	assert.False(t, s.st.has(5))
	assert.Empty(t, s.partials)
	assert.Equal(t, int64(10<<10), s.counters.wasted)
	assert.Equal(t, int64(10<<10), s.Stats().BytesWasted, "reported in Stats")
	assert.False(t, c.closed())
}

// TestRelayPrefix: while a chunk arrives, what may be passed on is its head
// and the pieces received in order so far; once complete, all of it.
func TestRelayPrefix(t *testing.T) {
	_, key, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	s, c := pieceTestStream(t, key, true)
	want, head, pieces := signedPieces(t, key)
	_, ok := s.relayLocked(5)
	require.False(t, ok, "nothing to relay before the head")

	require.NoError(t, s.receiveHead(c, head))
	r, ok := s.relayLocked(5)
	require.True(t, ok)
	assert.Equal(t, 0, r.avail)
	assert.Equal(t, head.Hashes, r.head.Hashes)
	grew := r.grew

	require.NoError(t, s.receivePiece(c, pieces[1])) // out of order: not relayable yet
	r, _ = s.relayLocked(5)
	assert.Equal(t, 0, r.avail)
	require.NoError(t, s.receivePiece(c, pieces[0]))
	select {
	case <-grew:
	default:
		t.Fatal("relays were not woken when the prefix grew")
	}
	r, _ = s.relayLocked(5)
	assert.Equal(t, 2, r.avail)
	assert.Equal(t, want.Data[:2*wire.MinPieceSize], r.data[:2*wire.MinPieceSize])

	require.NoError(t, s.receivePiece(c, pieces[2]))
	r, ok = s.relayLocked(5)
	require.True(t, ok)
	assert.Equal(t, 3, r.avail)
	assert.Nil(t, r.grew, "complete: nothing more to wait for")
	assert.Equal(t, want.Data, r.data)
	assert.Equal(t, want.Sig, r.head.Sig)
}
