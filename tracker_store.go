package p2pstream

import (
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"slices"
	"sync"
	"time"
)

// Default limits of a tracker's store (Tracker.MaxStreams and
// Tracker.MaxStreamPeers). They bound its memory whatever announces arrive:
// about 10,000 × 10,000 entries at worst, and in practice the number of
// streams times their peers.
const (
	maxTrackerStreams        = 10_000
	maxTrackerPeersPerStream = 10_000
)

// Store errors the tracker answers with a status of their own.
var (
	// errTrackerFull means a store limit was reached (503).
	errTrackerFull = errors.New("p2pstream: tracker full")
	// errPeerElsewhere means a live entry of the announced peer ID came from
	// another host (409).
	errPeerElsewhere = errors.New("p2pstream: peer ID in use from another address")
	// errLiveStream means an announce brought on-demand info for a stream
	// known as live (409): a live stream's info is signed, so it is the
	// publisher's, and unsigned info cannot replace it.
	errLiveStream = errors.New("p2pstream: the stream is live; on-demand info for it refused")
)

// trackerStore keeps the tracker's entries: which peers carry which stream,
// their stats, and each stream's info. An entry lives TTL after its last
// announce; a stream lives while it has live entries. Implementations are
// safe for concurrent use. memoryStore keeps them in this process;
// redisStore in a Redis server that several tracker instances share.
type trackerStore interface {
	// announce records or refreshes peer p of stream id (p.LastSeen is the
	// time of the announce) and, if info is not nil, registers the stream's
	// info and marks p its source. It answers with up to max other live
	// peers of the stream, the stream's sources first. A live entry belongs
	// to the host that made it: an announce of the same peer ID from another
	// host fails with errPeerElsewhere, so that nobody can take over, or
	// hide, another peer's entry.
	announce(ctx context.Context, id StreamID, p PeerStatus, info *StreamInfo, now time.Time, max int) (announceResult, error)
	// remove deletes peer's entry in stream id, if any and if it was
	// announced from host.
	remove(ctx context.Context, id StreamID, peer PeerID, host string) error
	// streams returns every stream with live entries, in no order.
	streams(ctx context.Context, now time.Time) ([]storedStream, error)
	// stream returns one stream, or ErrStreamNotFound if it has no live entries.
	stream(ctx context.Context, id StreamID, now time.Time) (storedStream, error)
}

// announceResult is a store's answer to an announce.
type announceResult struct {
	info  *StreamInfo // nil while the stream's publisher has not registered it
	peers []PeerAddr  // a sample of the other live peers, never nil
	// registered is true when this announce gave the stream its info.
	registered bool
}

// storedStream is a copy of one stream's entries.
type storedStream struct {
	id    StreamID
	info  *StreamInfo // nil while the stream's publisher has not registered it
	peers []PeerStatus
}

// memoryStore is a trackerStore in this process's memory.
type memoryStore struct {
	ttl        time.Duration
	maxStreams int // streams kept at most
	maxPeers   int // entries kept per stream at most

	mu        sync.Mutex // guards the fields below
	byID      map[StreamID]*memoryStream
	nextSweep time.Time // when announce next removes expired entries of every stream
}

// memoryStream is one stream in a memoryStore. Its entries sit in a slice so
// that a random sample costs O(sample), not O(peers); expired entries are
// removed when a sample or a sweep comes across them.
type memoryStream struct {
	info    *StreamInfo         // owned by the store; copied on the way out
	peers   []PeerStatus        // in no particular order
	index   map[PeerID]int      // position of each peer in peers
	sources map[PeerID]struct{} // the peers that registered the stream
}

func newMemoryStore(ttl time.Duration) *memoryStore {
	return &memoryStore{
		ttl:        ttl,
		maxStreams: maxTrackerStreams,
		maxPeers:   maxTrackerPeersPerStream,
		byID:       make(map[StreamID]*memoryStream),
	}
}

func (m *memoryStore) announce(_ context.Context, id StreamID, p PeerStatus, info *StreamInfo, now time.Time, max int) (announceResult, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	// Streams nobody announces to any more are only found by a full sweep;
	// doing one per TTL keeps the cost per announce constant on average
	// without a goroutine.
	if !now.Before(m.nextSweep) {
		m.sweepLocked(now)
		m.nextSweep = now.Add(m.ttl)
	}

	s := m.byID[id]
	if s == nil {
		if len(m.byID) >= m.maxStreams {
			return announceResult{}, errTrackerFull
		}
		s = &memoryStream{index: make(map[PeerID]int), sources: make(map[PeerID]struct{})}
	}
	if i, ok := s.index[p.ID]; ok && !expired(s.peers[i], now, m.ttl) && addrHost(s.peers[i].Addr) != addrHost(p.Addr) {
		return announceResult{}, errPeerElsewhere
	}
	if info != nil && info.Kind != KindLive && s.info != nil && s.info.Kind == KindLive && s.anyLive(now, m.ttl) {
		return announceResult{}, errLiveStream
	}
	peers := s.sample(p.ID, now, max, m.ttl)
	if _, ok := s.index[p.ID]; !ok && len(s.peers) >= m.maxPeers {
		s.expire(now, m.ttl) // make room if there is any
		if len(s.peers) >= m.maxPeers {
			return announceResult{}, errTrackerFull
		}
	}
	if len(s.peers) == 0 {
		// New, or every entry expired: a stream without peers is gone, and
		// so is its info.
		s.info = nil
	}
	s.put(p)
	m.byID[id] = s

	res := announceResult{peers: peers}
	if info != nil {
		res.registered = s.info == nil
		v := *info
		s.info = &v
	}
	if s.info != nil {
		v := *s.info
		res.info = &v
	}
	return res, nil
}

func (m *memoryStore) remove(_ context.Context, id StreamID, peer PeerID, host string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.byID[id]
	if s == nil {
		return nil
	}
	if i, ok := s.index[peer]; ok && addrHost(s.peers[i].Addr) == host {
		s.removeAt(i)
	}
	if len(s.peers) == 0 {
		delete(m.byID, id)
	}
	return nil
}

func (m *memoryStore) streams(_ context.Context, now time.Time) ([]storedStream, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sweepLocked(now)
	out := make([]storedStream, 0, len(m.byID))
	for id, s := range m.byID {
		out = append(out, s.copy(id))
	}
	return out, nil
}

func (m *memoryStore) stream(_ context.Context, id StreamID, now time.Time) (storedStream, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.byID[id]
	if s != nil {
		s.expire(now, m.ttl)
	}
	if s == nil || len(s.peers) == 0 {
		delete(m.byID, id)
		return storedStream{}, ErrStreamNotFound
	}
	return s.copy(id), nil
}

// sweepLocked removes every expired entry and every stream left empty.
func (m *memoryStore) sweepLocked(now time.Time) {
	for id, s := range m.byID {
		s.expire(now, m.ttl)
		if len(s.peers) == 0 {
			delete(m.byID, id)
		}
	}
}

// sample returns the live sources of s other than self, then random other
// live peers, up to max in all. It removes the expired entries it meets.
func (s *memoryStream) sample(self PeerID, now time.Time, max int, ttl time.Duration) []PeerAddr {
	out := make([]PeerAddr, 0, min(max, len(s.peers)))
	for id := range s.sources {
		i := s.index[id]
		switch p := s.peers[i]; {
		case expired(p, now, ttl):
			s.removeAt(i)
		case id != self && len(out) < max:
			out = append(out, PeerAddr{ID: id, Addr: p.Addr, Source: true})
		}
	}
	// A partial Fisher-Yates shuffle: peers[:i] are the ones drawn so far,
	// every draw takes one of the rest with equal probability.
	for i := 0; i < len(s.peers) && len(out) < max; {
		s.swap(i, i+rand.IntN(len(s.peers)-i))
		switch p := s.peers[i]; {
		case expired(p, now, ttl):
			s.removeAt(i) // moves an undrawn entry into i
		case p.ID == self || p.Source:
			i++
		default:
			out = append(out, PeerAddr{ID: p.ID, Addr: p.Addr})
			i++
		}
	}
	return out
}

// anyLive reports whether s has an entry that has not expired.
func (s *memoryStream) anyLive(now time.Time, ttl time.Duration) bool {
	for _, p := range s.peers {
		if !expired(p, now, ttl) {
			return true
		}
	}
	return false
}

// expire removes the expired entries of s.
func (s *memoryStream) expire(now time.Time, ttl time.Duration) {
	// Backwards, so that removeAt only moves entries already looked at.
	for i := len(s.peers) - 1; i >= 0; i-- {
		if expired(s.peers[i], now, ttl) {
			s.removeAt(i)
		}
	}
}

// put adds or replaces p's entry.
func (s *memoryStream) put(p PeerStatus) {
	if i, ok := s.index[p.ID]; ok {
		s.peers[i] = p
	} else {
		s.index[p.ID] = len(s.peers)
		s.peers = append(s.peers, p)
	}
	if p.Source {
		s.sources[p.ID] = struct{}{}
	} else {
		delete(s.sources, p.ID)
	}
}

// removeAt removes the entry at i, moving the last entry into its place.
func (s *memoryStream) removeAt(i int) {
	id := s.peers[i].ID
	last := len(s.peers) - 1
	s.swap(i, last)
	s.peers[last] = PeerStatus{}
	s.peers = s.peers[:last]
	delete(s.index, id)
	delete(s.sources, id)
}

// swap swaps the entries at i and j.
func (s *memoryStream) swap(i, j int) {
	s.peers[i], s.peers[j] = s.peers[j], s.peers[i]
	s.index[s.peers[i].ID] = i
	s.index[s.peers[j].ID] = j
}

// copy returns a copy of s that the caller may keep.
func (s *memoryStream) copy(id StreamID) storedStream {
	out := storedStream{id: id, peers: slices.Clone(s.peers)}
	if s.info != nil {
		v := *s.info
		out.info = &v
	}
	return out
}

// expired reports whether p's entry has outlived the TTL.
func expired(p PeerStatus, now time.Time, ttl time.Duration) bool {
	return now.Sub(p.LastSeen) >= ttl
}

// addrHost returns the host of a "host:port" address, or addr if it has no port.
func addrHost(addr string) string {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	return host
}
