package p2pstream

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"fmt"
	"log/slog"
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

// TestJoinPushes: a parent pushes a joining viewer from the newest chunk
// it holds whole, or, if the viewer says where it starts
// (wire.Subscribe.From), from there, at most maxPushBehind chunks back.
func TestJoinPushes(t *testing.T) {
	data := bytes.Repeat([]byte{7}, 8*wire.MinPieceSize) // stripe 1: pieces 1 and 5
	tests := []struct {
		name string
		sub  wire.Subscribe
		want []string // chunk.piece, in the order pushed
	}{
		{"no start yet", wire.Subscribe{Mask: 1 << 1}, []string{"3.1", "3.5"}},
		{"two stripes", wire.Subscribe{Mask: 1<<0 | 1<<1}, []string{"3.0", "3.1", "3.4", "3.5"}},
		{"from its start", wire.Subscribe{Mask: 1 << 1, From: 2, HasFrom: true}, []string{"2.1", "2.5", "3.1", "3.5"}},
		{"from too far back", wire.Subscribe{Mask: 1 << 1, From: 0, HasFrom: true}, []string{"1.1", "1.5", "2.1", "2.5", "3.1", "3.5"}},
		{"from ahead", wire.Subscribe{Mask: 1 << 1, From: 1 << 60, HasFrom: true}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			up, c := treeConn(1, 0), treeConn(2, 0)
			s := liveTestStream(0, up, c)
			s.kind, s.log = KindLive, slog.New(slog.DiscardHandler)
			for seq := range uint64(4) {
				s.st.put(Chunk{Seq: seq, Data: data})
			}
			for i := range stripes {
				s.tree.parent[i], s.tree.accepted[i] = up, true
			}
			s.treeAdvertLocked(up, advert(1, 5))
			s.subscribeLocked(c, &tt.sub, time.Now())
			require.Equal(t, tt.sub.Mask, lastFeed(c).Mask)
			var got []string
			for {
				p, ok := s.nextPushLocked(c)
				if !ok {
					break
				}
				if p.head == nil {
					got = append(got, fmt.Sprintf("%d.%d", p.seq, p.index))
				}
			}
			assert.Equal(t, tt.want, got)
		})
	}
}

// TestJoinFrom: a joining viewer asks new parents to push from its first
// chunk, or before it chose one from the oldest it has begun; once it
// holds a chunk whole, the parent chooses.
func TestJoinFrom(t *testing.T) {
	s := liveTestStream(0)
	s.partials = make(map[uint64]*partial)
	_, ok := s.joinFromLocked()
	assert.False(t, ok, "nothing begun")
	s.partials[7], s.partials[5] = &partial{}, &partial{}
	from, ok := s.joinFromLocked()
	assert.True(t, ok)
	assert.Equal(t, uint64(5), from, "the oldest begun")
	s.play.started, s.play.next = true, 6
	from, _ = s.joinFromLocked()
	assert.Equal(t, uint64(6), from, "its first chunk")
	s.st.put(Chunk{Seq: 6, Data: []byte{1}})
	_, ok = s.joinFromLocked()
	assert.False(t, ok, "holds a chunk whole")
}
