package adversary

import (
	"context"
	"encoding/binary"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/p2pstream/p2pstream"
	"github.com/p2pstream/p2pstream/internal/wire"
)

// FloodKind is what one flood connection sends.
type FloodKind int

// The kinds of flood connection, used in turn.
const (
	// Silent connects and sends nothing.
	Silent FloodKind = iota
	// PartialHandshake sends the first bytes of a handshake and stops.
	PartialHandshake
	// HugeLength sends a frame header whose length is near 2^32.
	HugeLength
	// HandshakeThenGarbage completes a handshake, then sends random bytes.
	HandshakeThenGarbage
	// HalfChunk completes a handshake, then sends 200 KiB of a frame that
	// claims to be a 4 MiB chunk, and stops: memory the peer must bound.
	HalfChunk
	numFloodKinds
)

// FloodStats counts what a Flood did.
type FloodStats struct {
	Dialed  int64 // connections made
	Refused int64 // dials that failed
	Closed  int64 // connections the target closed before the flood ended
}

// Flood opens n connections to addr from the hosts dial gives it (one
// Transport per connection index, so a test can spread them over many IP
// addresses), each misbehaving in one of the FloodKinds in turn, and holds
// them open until ctx is done. It returns when every connection is closed.
func Flood(ctx context.Context, n int, dial func(i int) p2pstream.Transport, addr string, stream p2pstream.StreamID) FloodStats {
	var st struct{ dialed, refused, closed atomic.Int64 }
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			nc, err := dial(i).Dial(dctx, addr)
			cancel()
			if err != nil {
				st.refused.Add(1)
				return
			}
			st.dialed.Add(1)
			closed := make(chan struct{})
			go func() {
				defer close(closed)
				floodConn(nc, FloodKind(i%int(numFloodKinds)), stream, i)
			}()
			select {
			case <-ctx.Done():
				nc.Close()
				<-closed
			case <-closed:
				st.closed.Add(1)
				nc.Close()
			}
		}()
	}
	wg.Wait()
	return FloodStats{Dialed: st.dialed.Load(), Refused: st.refused.Load(), Closed: st.closed.Load()}
}

// floodConn sends one flood connection's bytes, then reads until the
// target closes the connection (or Flood closes it).
func floodConn(nc net.Conn, kind FloodKind, stream p2pstream.StreamID, i int) {
	var id [16]byte
	binary.BigEndian.PutUint64(id[:], uint64(i)+1)
	hs := wire.AppendFrame(nil, &wire.Handshake{Version: wire.Version, Stream: stream, Peer: id, ListenAddr: ":1"})
	var out []byte
	switch kind {
	case Silent:
	case PartialHandshake:
		out = hs[:7]
	case HugeLength:
		out = []byte{0xFF, 0xFF, 0xFF, 0xF0, byte(wire.TypeChunk)}
	case HandshakeThenGarbage:
		out = append(hs, randBytes(4096)...)
	case HalfChunk:
		out = binary.BigEndian.AppendUint32(hs, 4<<20)
		out = append(out, byte(wire.TypeChunk))
		out = append(out, make([]byte, 200<<10)...)
	}
	if len(out) > 0 {
		_ = nc.SetWriteDeadline(time.Now().Add(10 * time.Second))
		if _, err := nc.Write(out); err != nil {
			return
		}
	}
	buf := make([]byte, 512)
	for {
		if _, err := nc.Read(buf); err != nil {
			return
		}
	}
}
