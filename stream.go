package p2pstream

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/p2pstream/p2pstream/internal/wire"
)

// Stream is one stream at one peer: published there or joined. It holds a
// window of verified chunks, exchanges them with other peers, hands them in
// order to its Sink and reports Stats. Close leaves the swarm.
type Stream struct {
	peer   *Peer
	id     StreamID
	kind   Kind // live or on demand; never changes (info may be replaced)
	log    *slog.Logger
	source bool               // this peer publishes the stream
	key    ed25519.PrivateKey // the publisher's signing key (live source only)
	fanout int                // live source: peers each fresh chunk is pushed to
	serve  float64            // live source: PublishOptions.ServeLimit
	sink   Sink
	parts  bool // live chunks go to the sink in parts: it is nil or a PartSink

	ctx      context.Context
	cancel   context.CancelFunc
	wg       sync.WaitGroup // every goroutine of the stream
	once     sync.Once      // Close
	done     chan struct{}  // closed when a live stream ends or an on-demand one is complete
	ready    chan struct{}  // closed when the store exists (on demand: the manifest arrived)
	interval time.Duration  // announce interval from the first tracker answer
	closers  []io.Closer    // closed after the goroutines end (a seeder's file, a viewer's download)
	download *download      // on demand at a viewer: where its store keeps the chunks
	wake     chan struct{}  // wakes the delivery loop
	resched  chan struct{}  // asks the tick loop for a scheduling pass (scheduleSoon)
	redial   chan struct{}  // wakes the announce loop to find more peers

	// measuredDur mirrors play.avgDur for chunkDuration, which callers
	// use without the lock (live).
	measuredDur atomic.Int64
	// pushers counts the writers pushing pieces to children now: pulled
	// uploads give way to them (yieldToPushes).
	pushers atomic.Int32

	mu         sync.Mutex // guards everything below
	cond       *sync.Cond // on mu; broadcast when chunks arrive or the stream closes
	closed     bool
	info       StreamInfo
	st         *store // nil until an on-demand stream's manifest arrives
	manifest   []byte // encoded manifest (on demand)
	conns      map[PeerID]*conn
	dialing    map[string]bool      // listen addresses being dialled
	refused    map[string]refusal   // listen addresses that refused us: not dialled again before then
	banned     map[banKey]time.Time // banned peers: until when (zero: forever)
	bannedAt   map[string]time.Time // banned listen addresses: until when
	pending    map[uint64]*conn     // chunk -> the connection it is requested from
	helpers    map[uint64]*conn     // live: a joining viewer's first chunks -> the connection asked for them from the end
	partials   map[uint64]*partial  // live: chunks arriving in pieces
	seen       map[uint64]time.Time // live: when a chunk was first advertised to us
	known      uint64               // live: highest seq advertised by any peer
	knownValid bool                 // known is set
	play       playout              // delivery position, deadlines, QoE counters
	ended      bool                 // done is closed
	failure    error                // why the stream stopped by itself (Err)
	readPos    uint64               // on demand: where the reader is; scheduled first
	readAt     time.Time            // on demand: when a reader last read (readerActive)
	counters   streamCounters
	uploading  int             // chunks being written to peers now
	nqueued    int             // uploads queued at the connections in conns (see queueLocked)
	free       []*conn         // scheduleLocked's list of peers to ask, kept to reuse
	turnedAway []*conn         // live: peers rejected as busy, to tell when there is room (readyLocked)
	wanted     []uint64        // wantedLocked's live list, kept to reuse
	expireAt   time.Time       // when a request in flight may time out first; zero if none
	published  int64           // live source: chunk bytes published so far
	pruned     uint64          // live: store's oldest seq when last pruned
	waiting    []waitingUpload // live: requests to serve when an upload slot frees
	lastPing   time.Time       // last keepalive round
	tree       treeState       // live: our place in the stripe trees
	cands      []*conn         // bestParentLocked's candidates, kept to reuse
}

type streamCounters struct {
	fromPeers, fromSource, up int64
	bans                      int
	wasted                    int64 // chunk bytes received but not needed
}

func newStream(p *Peer, info StreamInfo, sink Sink, source bool) *Stream {
	ctx, cancel := context.WithCancel(p.ctx)
	s := &Stream{
		peer:     p,
		id:       info.ID,
		kind:     info.Kind,
		log:      p.logger().With("stream", info.ID.Short()),
		source:   source,
		sink:     sink,
		parts:    isPartSink(sink),
		ctx:      ctx,
		cancel:   cancel,
		done:     make(chan struct{}),
		ready:    make(chan struct{}),
		wake:     make(chan struct{}, 1),
		resched:  make(chan struct{}, 1),
		redial:   make(chan struct{}, 1),
		info:     info,
		conns:    make(map[PeerID]*conn),
		dialing:  make(map[string]bool),
		refused:  make(map[string]refusal),
		banned:   make(map[banKey]time.Time),
		bannedAt: make(map[string]time.Time),
		pending:  make(map[uint64]*conn),
		helpers:  make(map[uint64]*conn),
		partials: make(map[uint64]*partial),
		seen:     make(map[uint64]time.Time),
	}
	s.cond = sync.NewCond(&s.mu)
	s.play.joined = time.Now()
	return s
}

// go runs f as one of the stream's goroutines.
func (s *Stream) goFunc(f func()) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		f()
	}()
}

// run starts the stream's long-lived goroutines.
func (s *Stream) run(peers []PeerAddr) {
	s.goFunc(s.announceLoop)
	s.goFunc(s.tickLoop)
	s.goFunc(s.deliverLoop)
	s.connectPeers(peers)
}

// ID returns the stream's ID.
func (s *Stream) ID() StreamID { return s.id }

// Info returns what is known about the stream.
func (s *Stream) Info() StreamInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.info
}

// Done is closed when a live stream has ended (its last chunk was delivered)
// or an on-demand stream is complete at this peer, or when it failed (Err).
func (s *Stream) Done() <-chan struct{} { return s.done }

// Err returns why the stream stopped by itself, or nil: an on-demand
// viewer's download file could not be written (a full disk) or read back.
// Its readers then return this error, and it fetches nothing more.
func (s *Stream) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.failure
}

// failLocked stops the stream for err (Err): no more requests, readers
// and Done woken.
func (s *Stream) failLocked(err error) {
	if s.failure != nil {
		return
	}
	s.failure = err
	s.log.Error("stream stopped", "err", err)
	s.cond.Broadcast()
	s.markDoneLocked()
}

// Close leaves the swarm: it tells the tracker, closes every connection and
// the sink, and waits for the stream's goroutines. It is idempotent.
func (s *Stream) Close() error {
	s.once.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.cond.Broadcast()
		s.cancel()
		for _, c := range s.conns {
			c.close(errStreamClosed)
		}
		s.mu.Unlock()
		// Closing the sink first unblocks a WriteChunk stuck on a slow reader.
		if s.sink != nil {
			if err := s.sink.Close(); err != nil {
				s.log.Warn("closing sink", "err", err)
			}
		}
		s.wg.Wait() // the announce loop says "stopped" on its way out
		s.closeFiles()
		s.peer.removeStream(s)
	})
	return nil
}

// closeFiles closes what s.closers holds (a seeder's file, a viewer's
// download), once no goroutine of the stream uses it.
func (s *Stream) closeFiles() {
	for _, c := range s.closers {
		if err := c.Close(); err != nil {
			s.log.Warn("closing", "err", err)
		}
	}
}

// scheduleSoon asks for a scheduling pass. Events that may free a peer or
// make a chunk wanted (haves, rejects, chunks stored, peers gone) come in
// bursts; one pass after a burst does what a pass after each event would,
// and under load the passes thin out instead of piling up.
func (s *Stream) scheduleSoon() { notify(s.resched) }

// wakeDelivery nudges the delivery loop.
func (s *Stream) wakeDelivery() { notify(s.wake) }

// notify signals ch, a channel of one, without blocking: a signal already
// pending is as good as a second.
func notify(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// markDoneLocked closes done once.
func (s *Stream) markDoneLocked() {
	if !s.ended {
		s.ended = true
		close(s.done)
	}
}

// tickLoop expires slow requests, applies deadlines, prunes old state and
// pings idle connections; between ticks it runs the scheduling passes that
// events ask for (scheduleSoon).
func (s *Stream) tickLoop() {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-s.resched:
			s.mu.Lock()
			s.treeLocked(time.Now())
			s.scheduleLocked(time.Now())
			s.mu.Unlock()
		case now := <-t.C:
			s.mu.Lock()
			s.pruneLocked()
			s.pingIdleLocked(now)
			s.uploadFreedLocked() // slots freed by connections that closed
			s.treeLocked(now)
			s.scheduleLocked(now)
			s.mu.Unlock()
			s.wakeDelivery()
		}
	}
}

// pruneLocked forgets advertisements of live chunks that left the window,
// and those too far ahead of it to be true: a peer may advertise any seq
// before our first chunk tells us where the stream is, and s.seen, bounded,
// would otherwise stay full of them.
func (s *Stream) pruneLocked() {
	if s.st == nil || !s.st.live() || s.st.oldest == s.pruned {
		return // nothing left the window since the last pruning
	}
	oldest := s.st.oldest
	s.pruned = oldest
	s.dropPartialsLocked(oldest)
	ahead := s.st.newest + maxAheadWindows*s.st.window
	for seq := range s.seen {
		if seq < oldest || seq > ahead {
			delete(s.seen, seq)
		}
	}
	for _, c := range s.conns {
		for seq := range c.has {
			if seq < oldest {
				delete(c.has, seq)
			}
		}
	}
}

// Stats returns a snapshot of the stream's statistics.
func (s *Stream) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	now, delay := time.Now(), s.playDelayLocked()
	p := &s.play
	lagNow := now
	if !p.liveEnd.IsZero() {
		lagNow = p.liveEnd // no live edge after the end: the lag is what it was then
	}
	st := Stats{
		Source:          s.source,
		ChunksDue:       p.due,
		ChunksOnTime:    p.onTime,
		ChunksSkipped:   p.skipped,
		Continuity:      1,
		Lag:             p.lagAt(lagNow, delay, s.chunkDuration()),
		Delivered:       p.next,
		BytesFromPeers:  s.counters.fromPeers,
		BytesFromSource: s.counters.fromSource,
		BytesWasted:     s.counters.wasted,
		BytesUp:         s.counters.up,
		Peers:           len(s.conns),
		Bans:            s.counters.bans,
	}
	if !p.first.IsZero() {
		st.StartupDelay = p.first.Sub(p.joined)
	}
	if p.due > 0 {
		st.Continuity = float64(p.onTime) / float64(p.due)
	}
	if s.treesOn() {
		st.TreeStripes, st.TreeDepth, st.TreeFeeds = s.treeStatsLocked()
	}
	if s.st != nil {
		st.Buffered = s.bufferedLocked(now, delay)
		if !s.st.live() {
			st.Have, st.Chunks = s.st.len(), s.st.manifest.Chunks()
		}
	}
	return st
}

// bufferedLocked estimates how much stream lies ready ahead of the sink and,
// for a live stream, ahead of the player: the verified chunks held from the
// next one for the sink on (those held back at the start among them), and
// what was handed to the sink but is not due to be played yet.
func (s *Stream) bufferedLocked(now time.Time, delay time.Duration) time.Duration {
	n := 0
	next := s.play.next
	if s.play.partOff > 0 {
		next++ // begun in parts: counted by aheadAt
	}
	for seq := next; s.st.has(seq) && n < 10000; seq++ {
		n++
	}
	if s.st.live() {
		return time.Duration(n)*s.chunkDuration() + s.play.aheadAt(now, delay, s.chunkDuration())
	}
	if s.info.Bitrate > 0 {
		return time.Duration(int64(n) * int64(s.st.manifest.ChunkSize) * 8 * int64(time.Second) / s.info.Bitrate)
	}
	return 0
}

func (s *Stream) chunkDuration() time.Duration {
	d := time.Second
	if s.info.ChunkDuration > 0 {
		d = s.info.ChunkDuration
	}
	// A publisher whose source has keyframes further apart than its
	// target cuts longer chunks (up to twice the target: ts.Segmenter).
	// Timeouts and delays sized for the target then expire before such
	// chunks can arrive (swarm lab, 500 ms chunks from a source with a
	// keyframe every second: 30% continuity), so once the viewer plays,
	// the chunks' measured duration counts where it is a quarter longer.
	if m := time.Duration(s.measuredDur.Load()); 4*m > 5*d {
		return m
	}
	return d
}

// errStreamClosed is the close reason of connections of a closed stream.
var errStreamClosed = fmt.Errorf("stream closing: %w", ErrClosed)

func isQuietClose(err error) bool {
	return err == nil || errors.Is(err, ErrClosed)
}

// pingIdleLocked keeps quiet connections alive: the peer's idle timeout
// closes a connection that has been silent for idleTimeout. Only those we
// may have written nothing to for half of pingEvery are pinged, so none is
// silent for much more than pingEvery: frames flow both ways on most (a
// swarm lab of 600 viewers spent a tenth of its frames on pings).
func (s *Stream) pingIdleLocked(now time.Time) {
	if now.Sub(s.lastPing) < pingEvery {
		return
	}
	s.lastPing = now
	for _, c := range s.conns {
		if now.Sub(time.Unix(0, c.wrote.Load())) >= pingEvery/2 {
			c.send(&wire.Ping{Nonce: uint64(now.UnixNano())})
		}
	}
}
