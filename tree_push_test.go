package p2pstream

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/p2pstream/p2pstream/internal/wire"
)

// TestPushesCountedAsTheyGo: a pushing writer counts each piece's bytes as
// it goes, not when it runs out of pieces: a source's writer that always
// has more to push would never count its upload (the lab read 0.32x for a
// source pushing 3.4x).
func TestPushesCountedAsTheyGo(t *testing.T) {
	p := &Peer{}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	t.Cleanup(p.cancel)
	s := newStream(p, StreamInfo{Kind: KindLive, ChunkDuration: time.Second}, nil, false)
	s.st = newLiveStore(30)
	data := bytes.Repeat([]byte{1}, 8*wire.MinPieceSize) // stripe 0: pieces 0 and 4
	_, key, err := ed25519.GenerateKey(nil)
	require.NoError(t, err)
	for seq := range uint64(3) {
		ch := Chunk{Seq: seq, Data: data}
		signChunk(key, &ch)
		s.st.put(ch)
	}
	a, b := net.Pipe()
	t.Cleanup(func() { a.Close(); b.Close() })
	c := treeConn(1, 0)
	c.s, c.nc = s, a
	c.feed = 1
	s.conns[c.id] = c

	done := make(chan error, 1)
	go func() { done <- c.writePushes(context.Background(), bufio.NewWriter(a)) }()
	r := wire.NewReader(b, wire.Limits{})
	read := func(pieces int) {
		t.Helper()
		for n := 0; n < pieces; {
			m, err := r.ReadMessage()
			require.NoError(t, err)
			if _, ok := m.(*wire.Piece); ok {
				n++
			}
		}
	}
	read(2)
	s.mu.Lock()
	up := s.counters.up
	s.mu.Unlock()
	assert.GreaterOrEqual(t, up, int64(wire.MinPieceSize), "the first piece counted while the writer pushes on")
	read(4)
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		b.Close() // ends the writer
		t.Fatal("the writer pushed more than the six pieces there are")
	}
	assert.Equal(t, int64(6*wire.MinPieceSize), s.counters.up)
}
