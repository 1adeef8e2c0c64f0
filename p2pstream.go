// Package p2pstream streams video peer to peer, live and on demand.
//
// A [Tracker] knows which peers carry which stream. A broadcaster's [Peer]
// publishes a stream cut into signed chunks; viewers' peers fetch chunks from
// many peers at once, verify every chunk, serve them on to others, and hand
// them in order to a [Sink]: a file, an HTTP endpoint a media player opens, or
// the built-in player window (package player).
//
// Live streams are identified by the broadcaster's ed25519 public key; every
// chunk carries a signature over (stream ID, seq, timestamp, flags, length,
// and the SHA-256 of each piece, 4-16 KiB). On-demand streams are identified by the SHA-256 of their
// [Manifest], which lists the SHA-256 of every chunk. A peer that sends a
// chunk that fails verification is disconnected and banned.
package p2pstream

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"time"
)

// Transport carries peer connections and tracker requests. transport.TCP and
// transport.Mem implement it.
type Transport interface {
	// Dial connects to addr ("host:port").
	Dial(ctx context.Context, addr string) (net.Conn, error)
	// Listen listens on addr ("host:port"; port 0 picks a free port).
	Listen(addr string) (net.Listener, error)
}

// Sentinel errors. Compare with errors.Is.
var (
	// ErrClosed is returned by methods of a closed Peer, Stream or Sink.
	ErrClosed = errors.New("p2pstream: closed")
	// ErrTrackerClosed is returned by Tracker.Serve after Shutdown or Close.
	ErrTrackerClosed = errors.New("p2pstream: tracker closed")
	// ErrStreamNotFound means the tracker does not know the stream.
	ErrStreamNotFound = errors.New("p2pstream: stream not found")
	// ErrBadChunk means a chunk failed verification (signature or hash).
	ErrBadChunk = errors.New("p2pstream: chunk failed verification")
	// ErrNotVOD is returned by operations that need an on-demand stream.
	ErrNotVOD = errors.New("p2pstream: not an on-demand stream")
)

// IDSize is the length of a StreamID in bytes.
const IDSize = 32

// StreamID names a stream. For a live stream it is the broadcaster's ed25519
// public key; for an on-demand stream it is the SHA-256 of its manifest.
// It prints and parses as 64 hex digits.
type StreamID [IDSize]byte

// String returns the ID as 64 lowercase hex digits.
func (id StreamID) String() string { return hex.EncodeToString(id[:]) }

// Short returns the first 8 hex digits, for logs and status lines.
func (id StreamID) Short() string { return id.String()[:8] }

// MarshalText encodes the ID as hex.
func (id StreamID) MarshalText() ([]byte, error) { return []byte(id.String()), nil }

// UnmarshalText decodes 64 hex digits.
func (id *StreamID) UnmarshalText(b []byte) error {
	v, err := ParseStreamID(string(b))
	if err != nil {
		return err
	}
	*id = v
	return nil
}

// ParseStreamID parses 64 hex digits.
func ParseStreamID(s string) (StreamID, error) {
	var id StreamID
	if len(s) != 2*IDSize {
		return id, fmt.Errorf("p2pstream: stream ID %q: want %d hex digits, got %d", s, 2*IDSize, len(s))
	}
	if _, err := hex.Decode(id[:], []byte(s)); err != nil {
		return id, fmt.Errorf("p2pstream: stream ID %q: %w", s, err)
	}
	return id, nil
}

// PeerID names one peer process for the lifetime of its Peer. It is random.
type PeerID [16]byte

// String returns the ID as 32 lowercase hex digits.
func (id PeerID) String() string { return hex.EncodeToString(id[:]) }

// MarshalText encodes the ID as hex.
func (id PeerID) MarshalText() ([]byte, error) { return []byte(id.String()), nil }

// UnmarshalText decodes 32 hex digits.
func (id *PeerID) UnmarshalText(b []byte) error {
	if len(b) != 2*len(id) {
		return fmt.Errorf("p2pstream: peer ID %q: want %d hex digits", b, 2*len(id))
	}
	_, err := hex.Decode(id[:], b)
	return err
}

// Kind says whether a stream is live or on demand.
type Kind string

// Stream kinds.
const (
	KindLive Kind = "live"
	KindVOD  Kind = "vod"
)

// StreamInfo describes a stream. The publisher sends it to the tracker, which
// hands it to viewers.
type StreamInfo struct {
	ID   StreamID `json:"id"`
	Kind Kind     `json:"kind"`
	Name string   `json:"name"`
	// ChunkDuration is the nominal length of a live chunk (JSON: nanoseconds).
	ChunkDuration time.Duration `json:"chunk_duration,omitempty"`
	// Bitrate is the publisher's estimate of the stream's rate in bits per second.
	Bitrate int64 `json:"bitrate,omitempty"`
	// Size is the length of an on-demand file in bytes.
	Size int64 `json:"size,omitempty"`
	// ChunkSize is the length of every on-demand chunk but the last.
	ChunkSize int `json:"chunk_size,omitempty"`
	// Chunks is the number of chunks of an on-demand stream.
	Chunks int `json:"chunks,omitempty"`
}

// Stats is a snapshot of one stream's quality of experience at one peer.
type Stats struct {
	// Source is true at the peer that publishes the stream.
	Source bool `json:"source,omitempty"`
	// StartupDelay is the time from Join to the first chunk handed to the
	// sink (to a PartSink: its first part).
	StartupDelay time.Duration `json:"startup_delay"`
	// ChunksDue counts chunks whose playback deadline has come.
	ChunksDue int64 `json:"chunks_due"`
	// ChunksOnTime counts due chunks handed to the sink by their deadline
	// (to a PartSink: each part by the time the player reaches it).
	ChunksOnTime int64 `json:"chunks_on_time"`
	// ChunksSkipped counts live chunks skipped because they missed their deadline.
	ChunksSkipped int64 `json:"chunks_skipped"`
	// Continuity is ChunksOnTime / ChunksDue, or 1 when nothing is due yet.
	Continuity float64 `json:"continuity"`
	// Lag is how far behind the live edge a live viewer plays: the player
	// behind the sink is taken to play each chunk at its playback deadline,
	// so Lag is the start behind the newest chunk plus Peer.Delay (and what
	// skipped chunks added to it), or more while the player waits, at the
	// end of what it was handed, for a chunk past its deadline. After the
	// stream's last chunk it stays what it was then. It compares the
	// publisher's clock with this machine's.
	Lag time.Duration `json:"lag"`
	// Buffered is how much verified stream lies ahead of the player: held
	// and not yet handed to the sink (as chunks are at the start), or, live,
	// handed to the sink before its playback deadline.
	Buffered time.Duration `json:"buffered"`
	// Delivered is the next sequence number the sink will get (or, for a
	// PartSink, is getting).
	Delivered uint64 `json:"delivered"`
	// BytesFromPeers counts chunk bytes received from peers other than the source.
	BytesFromPeers int64 `json:"bytes_from_peers"`
	// BytesFromSource counts chunk bytes received from the source.
	BytesFromSource int64 `json:"bytes_from_source"`
	// BytesUp counts chunk bytes sent to other peers.
	BytesUp int64 `json:"bytes_up"`
	// BytesWasted counts chunk bytes received that were not needed: a
	// chunk or piece already held, or one no longer wanted.
	BytesWasted int64 `json:"bytes_wasted,omitempty"`
	// Peers is the number of connected peers.
	Peers int `json:"peers"`
	// Bans counts peers banned for sending bad chunks or malformed frames,
	// and peers refused for a while for leaving requests unanswered or not
	// reading our messages (a full control queue).
	Bans int `json:"bans"`
	// TreeStripes is how many of a live stream's stripes the peer gets
	// down the stripe trees (unless Peer.Pull) from a parent that said yes, 0 to
	// 4; TreeDepth the deepest of them below the publisher (1: a child of
	// the publisher; 0 if none); TreeFeeds how many stripe feeds it pushes
	// to its children.
	TreeStripes int `json:"tree_stripes,omitempty"`
	TreeDepth   int `json:"tree_depth,omitempty"`
	TreeFeeds   int `json:"tree_feeds,omitempty"`
	// Have and Chunks count held and total chunks of an on-demand stream.
	Have   int `json:"have,omitempty"`
	Chunks int `json:"chunks,omitempty"`
}

// P2PRatio is the share of received chunk bytes that came from peers other
// than the source, between 0 and 1.
func (s Stats) P2PRatio() float64 {
	total := s.BytesFromPeers + s.BytesFromSource
	if total == 0 {
		return 0
	}
	return float64(s.BytesFromPeers) / float64(total)
}

// positiveOr returns v if it is positive, else def: a setting left zero
// (or made negative) means its default.
func positiveOr[T int | int64 | time.Duration](v, def T) T {
	if v > 0 {
		return v
	}
	return def
}
