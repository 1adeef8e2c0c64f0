package p2pstream_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"net"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/p2pstream/p2pstream"
	"github.com/p2pstream/p2pstream/internal/ts"
	"github.com/p2pstream/p2pstream/internal/wire"
)

// hostile is a peer that claims to hold every chunk and answers every
// request with a bad one: corrupted data under a copied signature, or data
// signed with another key.
type hostile struct {
	ln     net.Listener
	stream p2pstream.StreamID
	forge  bool // sign with another key instead of corrupting data
	served atomic.Int64
	key    ed25519.PrivateKey
	id     [16]byte
}

func startHostile(t *testing.T, sw *swarm, stream p2pstream.StreamID, forge bool) *hostile {
	t.Helper()
	sw.hosts++
	host := sw.net.Host("10.0.9." + strconv.Itoa(sw.hosts))
	ln, err := host.Listen(":6000")
	require.NoError(t, err)
	h := &hostile{ln: ln, stream: stream, forge: forge}
	_, h.key, _ = ed25519.GenerateKey(rand.Reader)
	_, _ = rand.Read(h.id[:])
	go h.serve()
	t.Cleanup(func() { ln.Close() })
	// Announce it so the viewers find it.
	tc := &p2pstream.TrackerClient{URL: sw.url, Transport: host}
	defer tc.Close()
	_, err = tc.Announce(context.Background(), p2pstream.Announce{Stream: stream, Peer: h.id, Addr: ln.Addr().String()})
	require.NoError(t, err)
	return h
}

func (h *hostile) serve() {
	for {
		nc, err := h.ln.Accept()
		if err != nil {
			return
		}
		go h.handle(nc)
	}
}

func (h *hostile) handle(nc net.Conn) {
	defer nc.Close()
	r := wire.NewReader(nc, wire.Limits{})
	if _, err := r.ReadMessage(); err != nil {
		return
	}
	hs := &wire.Handshake{Version: wire.Version, Stream: h.stream, Peer: h.id, ListenAddr: h.ln.Addr().String()}
	if wire.WriteMessage(nc, hs) != nil {
		return
	}
	bm := wire.NewBufferMap(0, 64)
	for i := uint64(0); i < 64; i++ {
		bm.Set(i)
	}
	if wire.WriteMessage(nc, bm) != nil {
		return
	}
	for {
		m, err := r.ReadMessage()
		if err != nil {
			return
		}
		req, ok := m.(*wire.Request)
		if !ok {
			continue
		}
		c := &wire.Chunk{Seq: req.Seq, Timestamp: time.Now().UnixMicro(), Flags: 1, Data: bytes.Repeat([]byte{0x47}, 188*10)}
		c.Sig = make([]byte, ed25519.SignatureSize)
		if h.forge {
			c.Sig = ed25519.Sign(h.key, c.Data)
		}
		h.served.Add(1)
		if wire.WriteMessage(nc, c) != nil {
			return
		}
	}
}

func TestBadPeersAreBanned(t *testing.T) {
	for _, forge := range []bool{false, true} {
		name := map[bool]string{false: "corrupt", true: "forged"}[forge]
		t.Run(name, func(t *testing.T) {
			sw := newSwarm(t)
			src := ts.Synthetic(5*time.Second, 500_000, 200*time.Millisecond)
			pub := sw.peer()
			stream, err := pub.Publish(context.Background(), bytes.NewReader(src), p2pstream.PublishOptions{ChunkDuration: 200 * time.Millisecond})
			require.NoError(t, err)
			h := startHostile(t, sw, stream.ID(), forge)

			const viewers = 5
			sinks, streams := sw.join(stream.ID(), viewers)
			bans := 0
			for i, s := range streams {
				waitDone(t, s, 30*time.Second)
				checkLive(t, src, sinks[i])
				bans += s.Stats().Bans
			}
			t.Logf("hostile peer served %d bad chunks; %d viewers banned it", h.served.Load(), bans)
			assert.Positive(t, h.served.Load(), "the hostile peer was asked")
			// A viewer bans on the first bad chunk; only the requests it had
			// already pipelined (4 at first) can be answered before that.
			assert.LessOrEqual(t, h.served.Load(), int64(4*bans), "each viewer banned it at its first bad chunk")
			assert.Positive(t, bans)
		})
	}
}
