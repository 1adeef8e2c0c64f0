package p2pstream

import "time"

// Announce is what a peer posts to the tracker's /announce endpoint,
// periodically, for each stream it carries. See docs/TRACKER-API.md.
type Announce struct {
	Stream StreamID `json:"stream"`
	Peer   PeerID   `json:"peer"`
	// Addr is where the peer accepts peer connections ("host:port"). The
	// tracker keeps only the port and takes the host from the connection the
	// announce arrived on, so nobody can aim a swarm at a third party.
	Addr string `json:"addr"`
	// Info is sent by the stream's publisher only.
	Info *StreamInfo `json:"info,omitempty"`
	// Stats is the peer's view of the stream.
	Stats Stats `json:"stats"`
	// Event is "" for a periodic announce, "stopped" when the peer leaves.
	Event string `json:"event,omitempty"`
}

// AnnounceResponse is the tracker's answer to an Announce.
type AnnounceResponse struct {
	// Interval is how long to wait before the next announce (JSON: nanoseconds).
	Interval time.Duration `json:"interval"`
	// Info describes the stream, if the tracker knows it.
	Info *StreamInfo `json:"info,omitempty"`
	// Peers is a random sample of other peers carrying the stream.
	Peers []PeerAddr `json:"peers"`
}

// PeerAddr is one peer in a tracker answer.
type PeerAddr struct {
	ID   PeerID `json:"id"`
	Addr string `json:"addr"`
	// Source is true for the stream's publisher.
	Source bool `json:"source,omitempty"`
}
