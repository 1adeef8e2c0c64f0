package p2pstream_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"io"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/p2pstream/p2pstream"
	"github.com/p2pstream/p2pstream/internal/ts"
	"github.com/p2pstream/p2pstream/internal/wire"
	"github.com/p2pstream/p2pstream/transport"
)

// FuzzManifest decodes arbitrary bytes as a manifest. Whatever decodes must
// encode back to exactly the same bytes (its ID is their hash, so the
// encoding must be canonical) and describe itself without panicking.
func FuzzManifest(f *testing.F) {
	for _, size := range []int{0, 1, 4 << 10, 10<<10 + 1} {
		m, err := p2pstream.NewManifest("seed.ts", bytes.NewReader(make([]byte, size)), 4<<10)
		require.NoError(f, err)
		m.Duration = time.Second
		b, err := m.MarshalBinary()
		require.NoError(f, err)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var m p2pstream.Manifest
		if err := m.UnmarshalBinary(data); err != nil {
			return
		}
		b, err := m.MarshalBinary()
		require.NoError(t, err)
		require.Equal(t, data, b, "re-encoding differs")
		require.Equal(t, p2pstream.StreamID(sha256.Sum256(data)), m.ID())
		info := m.Info()
		require.Equal(t, m.Chunks(), info.Chunks)
		var again p2pstream.Manifest
		require.NoError(t, again.UnmarshalBinary(b))
		require.Equal(t, m, again)
	})
}

// FuzzPeerSession connects to real peers over transport.Mem, completes a
// valid handshake and then sends arbitrary bytes: the publisher of a live
// stream (even first byte) or a viewer of it (odd first byte), to which the
// fuzzer proves to be the source (it holds the stream key, as a second
// publisher would), so chunk frames reach verification. The
// peer must not crash, and must close the connection (or wait for more) in
// bounded time; the viewer must deliver only the source's bytes.
func FuzzPeerSession(f *testing.F) {
	net := transport.NewMem()
	tracker := &p2pstream.Tracker{Interval: 500 * time.Millisecond, TTL: 3 * time.Second}
	tln, err := net.Host("10.0.0.1").Listen(":7070")
	require.NoError(f, err)
	go tracker.Serve(tln)
	url := "http://10.0.0.1:7070"
	pub := &p2pstream.Peer{Tracker: url, Transport: net.Host("10.0.0.2")}
	viewer := &p2pstream.Peer{Tracker: url, Transport: net.Host("10.0.0.3")}
	f.Cleanup(func() {
		viewer.Close()
		pub.Close()
		tracker.Close()
		net.Close()
	})
	// Two seconds of stream, then a source that stays open, so the stream
	// is live for the whole fuzzing run. Closing the stream closes pr.
	src := ts.Synthetic(2*time.Second, 100_000, 250*time.Millisecond)
	pr, pw := io.Pipe()
	go func() { _, _ = pw.Write(src) }()
	_, key, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(f, err)
	stream, err := pub.Publish(context.Background(), pr, p2pstream.PublishOptions{ChunkDuration: 250 * time.Millisecond, Key: key})
	require.NoError(f, err)
	sink := &collector{}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	_, err = viewer.Join(ctx, stream.ID(), sink)
	cancel()
	require.NoError(f, err)

	for _, seed := range fuzzSessionSeeds() {
		f.Add(byte(0), seed)
		f.Add(byte(1), seed)
	}
	var hosts atomic.Int64
	f.Fuzz(func(t *testing.T, target byte, data []byte) {
		to := pub
		if target%2 == 1 {
			to = viewer
		}
		// A fresh host each time, so bans and per-IP limits of earlier
		// inputs do not stop this one.
		h := hosts.Add(1)
		host := net.Host(fmt.Sprintf("10.%d.%d.%d", 8+h>>16&0x7f, h>>8&0xff, h&0xff))
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		nc, err := host.Dial(ctx, to.Addr().String())
		require.NoError(t, err)
		defer nc.Close()
		var id [16]byte
		copy(id[:], fmt.Sprint(h))
		hs := &wire.Handshake{Version: wire.Version, Source: to == viewer, Stream: stream.ID(), Peer: id, ListenAddr: ":1"}
		require.NoError(t, wire.WriteMessage(nc, hs))
		_ = nc.SetDeadline(time.Now().Add(5 * time.Second))
		if hs.Source {
			m, err := wire.NewReader(nc, wire.Limits{}).ReadMessage()
			theirs, ok := m.(*wire.Handshake)
			if err != nil || !ok {
				return // refused: this host's limits, say
			}
			_ = wire.WriteMessage(nc, &wire.SourceProof{Sig: ed25519.Sign(key, wire.SourceProofMessage(stream.ID(), theirs.Nonce))})
		}
		_, _ = nc.Write(data)
		if cw, ok := nc.(interface{ CloseWrite() error }); ok {
			_ = cw.CloseWrite()
		}
		// The peer answers, then closes the connection: at our end of input,
		// or at a frame it rejects. Either way it has read everything.
		_, _ = io.Copy(io.Discard, nc)
		checkSourceBytesQuiet(t, src, sink)
	})
}

// checkSourceBytesQuiet is checkSourceBytes for a sink that may be empty.
func checkSourceBytesQuiet(t *testing.T, src []byte, c *collector) {
	t.Helper()
	if len(c.snapshot()) > 0 {
		checkSourceBytes(t, src, c)
	}
}

// fuzzSessionSeeds are frame sequences a hostile peer might send after its
// handshake.
func fuzzSessionSeeds() [][]byte {
	frames := func(ms ...wire.Message) []byte {
		var b []byte
		for _, m := range ms {
			b = wire.AppendFrame(b, m)
		}
		return b
	}
	bm := wire.NewBufferMap(0, 16)
	for i := uint64(0); i < 16; i++ {
		bm.Set(i)
	}
	return [][]byte{
		nil,
		frames(bm, &wire.Request{Seq: 0}, &wire.Request{Seq: 1}, &wire.Cancel{Seq: 1}),
		frames(bm, &wire.RequestBack{Seq: 0}, &wire.Request{Seq: 0}, &wire.RequestBack{Seq: 1 << 62}, &wire.Cancel{Seq: 0}),
		frames(&wire.Have{Seq: 3}, &wire.Have{Seq: 1 << 62}, &wire.Ping{Nonce: 7}),
		frames(&wire.Chunk{Seq: 2, Timestamp: 1, Flags: 1, Data: []byte("not video"), Sig: make([]byte, 64)}),
		frames(&wire.Head{Seq: 2, Timestamp: 1, Flags: 1, Size: wire.MinPieceSize + 9, Sig: make([]byte, 64), Hashes: make([]byte, 2*wire.HashSize)},
			&wire.Piece{Seq: 2, Index: 1, Data: []byte("not video")}, &wire.Piece{Seq: 2, Index: 7, Data: []byte{0x47}}),
		frames(&wire.Reject{Seq: 4}, &wire.ManifestRequest{}, &wire.Manifest{Data: []byte("P2PM\x01")}),
		frames(&wire.Handshake{Version: wire.Version}),
		{0xFF, 0xFF, 0xFF, 0xF0, byte(wire.TypeChunk)},
	}
}
