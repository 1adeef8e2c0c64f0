package p2pstream

import (
	"crypto/ed25519"
	"encoding/binary"
	"time"
)

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
	// Sig is the stream key's ed25519 signature of the announce's
	// SignedInfo bytes: required with the Info of a live stream, so that
	// only its publisher can describe it and be listed as its source.
	Sig []byte `json:"sig,omitempty"`
	// SigTime is when Sig was made, Unix seconds; the tracker refuses a
	// signature older or newer than a few minutes, so a captured announce
	// cannot be replayed later.
	SigTime int64 `json:"sig_time,omitempty"`
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

// SignedInfo returns the bytes Sig signs: a fixed label, the stream ID, the
// peer ID, SigTime (8 bytes, big-endian two's complement), then Info's kind
// and name (each a 2-byte big-endian length and the bytes) and chunk
// duration (8 bytes, nanoseconds). Info's bitrate, an estimate, is not
// signed. Nil without Info.
func (a Announce) SignedInfo() []byte {
	if a.Info == nil {
		return nil
	}
	b := append([]byte(announceLabel), a.Stream[:]...)
	b = append(b, a.Peer[:]...)
	b = binary.BigEndian.AppendUint64(b, uint64(a.SigTime))
	for _, s := range []string{string(a.Info.Kind), a.Info.Name} {
		b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
		b = append(b, s...)
	}
	return binary.BigEndian.AppendUint64(b, uint64(a.Info.ChunkDuration))
}

const announceLabel = "p2pstream announce v1\x00"

// SignInfo sets Sig: the publisher of a live stream signs its announces
// with the stream key, whose public key is the stream ID.
func (a *Announce) SignInfo(key ed25519.PrivateKey) {
	a.SigTime = time.Now().Unix()
	a.Sig = ed25519.Sign(key, a.SignedInfo())
}

// maxSigAge bounds how far SigTime may be from the tracker's clock.
const maxSigAge = 5 * time.Minute

// infoSigned reports whether Sig is the stream key's signature of the
// announce's info (the stream ID is the key), made within maxSigAge of now.
func (a Announce) infoSigned(now time.Time) bool {
	t := time.Unix(a.SigTime, 0)
	return a.Info != nil && len(a.Sig) == ed25519.SignatureSize &&
		t.After(now.Add(-maxSigAge)) && t.Before(now.Add(maxSigAge)) &&
		ed25519.Verify(ed25519.PublicKey(a.Stream[:]), a.SignedInfo(), a.Sig)
}
