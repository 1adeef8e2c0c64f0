package p2pstream

import (
	"bytes"
	"slices"
	"time"
)

// StreamStatus is the tracker's view of one stream: its info and the health
// of its swarm, aggregated from the stats its peers announce. GET /streams
// and GET /streams/{id} answer with it (see docs/TRACKER-API.md).
type StreamStatus struct {
	// Info describes the stream. Until its publisher has announced, only
	// Info.ID is set (Kind is empty).
	Info StreamInfo `json:"info"`
	// Peers counts live entries, the source included.
	Peers int `json:"peers"`
	// Viewers counts live entries other than the source.
	Viewers int `json:"viewers"`
	// Continuity is the mean of the viewers' continuity (chunks on time /
	// chunks due), or 0 when there are no viewers.
	Continuity float64 `json:"continuity"`
	// P2PRatio is the share of the bytes viewers received that came from
	// peers other than the source, between 0 and 1.
	P2PRatio float64 `json:"p2p_ratio"`
	// SourceUpload is the bytes the source says it has sent to peers.
	SourceUpload int64 `json:"source_upload"`
	// Received is the bytes viewers say they have received, from the source
	// and from other peers.
	Received int64 `json:"received"`
	// LagP50 and LagMax are the median and the largest of the viewers' lag
	// behind the live edge (JSON: nanoseconds).
	LagP50 time.Duration `json:"lag_p50"`
	LagMax time.Duration `json:"lag_max"`
	// Bans is the total of the peers' bans of misbehaving peers.
	Bans int `json:"bans"`
	// PeerList lists the live entries, sources first. Only GET /streams/{id}
	// fills it in.
	PeerList []PeerStatus `json:"peer_list,omitempty"`
}

// Registered reports whether the stream's publisher has told the tracker
// what the stream is. A stream can have peers before that: viewers that
// announced to a restarted tracker before the publisher did.
func (s StreamStatus) Registered() bool { return s.Info.Kind != "" }

// SourceSaving is the share of the bytes viewers received that the source
// did not have to send, between 0 and 1: 0 without peer-to-peer delivery,
// close to 1 when viewers feed each other.
func (s StreamStatus) SourceSaving() float64 {
	if s.Received <= 0 {
		return 0
	}
	return clamp01(1 - float64(s.SourceUpload)/float64(s.Received))
}

// PeerStatus is one peer's entry at the tracker.
type PeerStatus struct {
	ID PeerID `json:"id"`
	// Addr is where the peer accepts peer connections: the address its
	// announce came from, with the port it announced.
	Addr string `json:"addr"`
	// Source is true for the stream's publisher.
	Source bool `json:"source"`
	// Stats is the peer's last announced view of the stream.
	Stats Stats `json:"stats"`
	// LastSeen is the time of the peer's last announce.
	LastSeen time.Time `json:"last_seen"`
}

// newStreamStatus aggregates the entries of s. Peers announce their own
// stats, so every number is clamped to a sane range: one lying peer can skew
// the aggregates only as far as an honest peer could.
func newStreamStatus(s storedStream, withPeers bool) StreamStatus {
	st := StreamStatus{Info: StreamInfo{ID: s.id}, Peers: len(s.peers)}
	if s.info != nil {
		st.Info = *s.info
	}
	var fromPeers int64
	lags := make([]time.Duration, 0, len(s.peers))
	for _, p := range s.peers {
		st.Bans += max(0, p.Stats.Bans)
		if p.Source {
			st.SourceUpload += max(0, p.Stats.BytesUp)
			continue
		}
		st.Viewers++
		st.Continuity += clamp01(p.Stats.Continuity)
		fromPeers += max(0, p.Stats.BytesFromPeers)
		st.Received += max(0, p.Stats.BytesFromPeers) + max(0, p.Stats.BytesFromSource)
		lags = append(lags, max(0, p.Stats.Lag))
	}
	if st.Viewers > 0 {
		st.Continuity /= float64(st.Viewers)
	}
	if st.Received > 0 {
		st.P2PRatio = float64(fromPeers) / float64(st.Received)
	}
	if len(lags) > 0 {
		slices.Sort(lags)
		st.LagP50 = lags[(len(lags)-1)/2]
		st.LagMax = lags[len(lags)-1]
	}
	if withPeers {
		st.PeerList = slices.Clone(s.peers)
		slices.SortFunc(st.PeerList, comparePeers)
	}
	return st
}

// comparePeers orders sources first, then by peer ID, so that lists are stable.
func comparePeers(a, b PeerStatus) int {
	if a.Source != b.Source {
		if a.Source {
			return -1
		}
		return 1
	}
	return bytes.Compare(a.ID[:], b.ID[:])
}

// compareStreams orders registered streams first, then by name, then by ID.
func compareStreams(a, b StreamStatus) int {
	if a.Registered() != b.Registered() {
		if a.Registered() {
			return -1
		}
		return 1
	}
	if a.Info.Name != b.Info.Name {
		if a.Info.Name < b.Info.Name {
			return -1
		}
		return 1
	}
	return bytes.Compare(a.Info.ID[:], b.Info.ID[:])
}

// clamp01 limits v to [0, 1]; NaN becomes 0.
func clamp01(v float64) float64 {
	if !(v > 0) {
		return 0
	}
	return min(v, 1)
}
