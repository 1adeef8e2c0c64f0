package p2pstream

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Join joins the stream id: it asks the tracker for the stream and its
// peers, connects to them, fetches and verifies chunks, serves them on to
// other peers and hands them in order to sink (which may be nil). A live
// viewer starts at a keyframe chunk three chunks behind the newest (further
// back if most of its neighbours do not hold that one yet; a chunk it
// fetched up to three below that will do, as the edge moves on), asking two
// peers for it (one sends it from the back) when half of four or more
// neighbours hold it. It hands that chunk to sink once it is that far
// behind and, in a flash crowd (its neighbours did not yet hold the start
// point when it was chosen, or the stream is in its first dozen chunks),
// once the chunk after it has reached half its neighbours; the play clock starts there, and each later chunk is due
// Peer.Delay after its place on that clock (more after a chunk was skipped:
// see Peer.Delay). A PartSink, or a nil sink, gets live chunks in parts as
// their pieces arrive: the play clock starts at the first chunk's first
// part, and each part is due when the player reaches it. For an on-demand stream Join
// waits until the manifest has arrived from a peer; read the file with
// Stream.Reader. ctx bounds only the joining.
func (p *Peer) Join(ctx context.Context, id StreamID, sink Sink) (*Stream, error) {
	if err := p.start(); err != nil {
		return nil, err
	}
	p.mu.Lock()
	a := Announce{Stream: id, Peer: p.id, Addr: p.ln.Addr().String()}
	p.mu.Unlock()
	resp, err := p.tracker.Announce(ctx, a)
	if err != nil {
		return nil, fmt.Errorf("p2pstream: join %s: %w", id.Short(), err)
	}
	if resp.Info == nil || resp.Info.ID != id {
		return nil, fmt.Errorf("p2pstream: join %s: %w", id.Short(), ErrStreamNotFound)
	}
	s := newStream(p, *resp.Info, sink, false)
	switch resp.Info.Kind {
	case KindLive:
		s.st = newLiveStore(p.window(s.chunkDuration()))
		close(s.ready)
	case KindVOD:
		// The store is made when the manifest arrives; its file now, so
		// that a directory we cannot write to fails the join.
		f, err := createDownload(p.DownloadDir, id)
		if err != nil {
			return nil, fmt.Errorf("p2pstream: join %s: download file: %w", id.Short(), err)
		}
		s.download = f
		s.closers = append(s.closers, f)
	default:
		return nil, fmt.Errorf("p2pstream: join %s: unknown stream kind %q", id.Short(), resp.Info.Kind)
	}
	s.interval = resp.Interval
	if err := p.addStream(s); err != nil {
		s.closeFiles() // nothing was started
		return nil, err
	}
	s.run(resp.Peers)
	select {
	case <-s.ready:
		return s, nil
	case <-ctx.Done():
		s.Close()
		return nil, fmt.Errorf("p2pstream: join %s: waiting for the manifest from a peer: %w", id.Short(), ctx.Err())
	}
}

// start listens and starts accepting peers, once.
func (p *Peer) start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.startLocked()
}

// Defaults for live streams.
const (
	pullWindow = 20 * time.Second // with Peer.Pull
	minWindow  = 8                // chunks
	// treesWindow is the default window in the stripe trees, where
	// viewers play 2.5-5 s behind the live edge: each peer holds a window
	// of chunks in its heap, and a heap that grows costs a page fault per
	// 4 KiB. Swarm lab, 1,000 viewers at 500 kbit/s in one process on two
	// cores, 30 s: 5-75% continuity with 20 s (the heap still growing, the
	// faults a fifth of the CPU), 98.7-98.9% with 8 s (docs/BENCHMARKS.md,
	// "Fifteenth session").
	treesWindow = 8 * time.Second
)

// window returns how many live chunks a stream keeps.
func (p *Peer) window(chunk time.Duration) int {
	w := p.Window
	if w <= 0 {
		w = treesWindow
		if p.Pull {
			w = pullWindow
		}
	}
	return max(minWindow, int(w/chunk))
}

// delay returns the playout delay of a live stream.
func (p *Peer) delay(chunk time.Duration) time.Duration {
	if p.Delay > 0 {
		return p.Delay
	}
	if p.Pull {
		// Pulled chunks take longer to spread, and some wait for a busy
		// sender: allow at least 2 s.
		return max(3*chunk, 2*time.Second)
	}
	// The trees bring chunks in the order they are cut, each at about the
	// same age (swarm lab, 100 viewers: 1.5 s gave 100%, 1 s 99.4%). At
	// least 1.5 s for hiccups of the network and of the machine, which do
	// not shrink with the chunks.
	return max(3*chunk/2, 1500*time.Millisecond)
}

// announceLoop tells the tracker about the stream every interval, and dials
// new peers from its answers. It keeps trying while the tracker is down,
// while the stream goes on with the peers it has.
func (s *Stream) announceLoop() {
	interval := s.interval
	if interval <= 0 {
		interval = 5 * time.Second
	}
	wait := interval
	failures := 0
	for {
		t := time.NewTimer(wait)
		select {
		case <-s.ctx.Done():
			t.Stop()
			s.announceStopped()
			return
		case <-s.redial:
			t.Stop()
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(s.ctx, 10*time.Second)
		resp, err := s.peer.tracker.Announce(ctx, s.announcement(""))
		cancel()
		if err != nil {
			if s.ctx.Err() != nil {
				continue
			}
			failures++
			if refused(err) {
				if failures%12 == 1 { // about once a minute
					s.log.Error("the tracker refuses this peer's announces; streaming on with known peers", "err", err)
				}
			} else if failures == 1 {
				s.log.Warn("tracker unreachable; streaming on with known peers", "err", err)
			}
			wait = min(time.Second<<min(failures, 4), interval)
			continue
		}
		if failures > 0 {
			s.log.Info("tracker reachable again")
			failures = 0
		}
		if resp.Interval > 0 {
			interval = resp.Interval
		}
		wait = interval
		s.mu.Lock()
		if resp.Info != nil && !s.source && resp.Info.ID == s.id && resp.Info.Kind == s.info.Kind {
			s.info.Bitrate = resp.Info.Bitrate
			if s.info.Name == "" {
				s.info.Name = resp.Info.Name
			}
		}
		s.mu.Unlock()
		s.connectPeers(resp.Peers)
		// Do not redial more than once a second.
		select {
		case <-s.ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

// registerStream announces a newly published stream, so viewers can join as soon
// as Publish returns. A tracker that cannot be reached is retried by the
// announce loop.
func (s *Stream) registerStream(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	resp, err := s.peer.tracker.Announce(ctx, s.announcement(""))
	if err != nil {
		if refused(err) {
			s.log.Error("the tracker refused to register the stream; will keep trying", "err", err)
		} else {
			s.log.Warn("tracker unreachable; will keep trying", "err", err)
		}
		s.interval = time.Second
		return
	}
	s.interval = resp.Interval
}

// announcement is this peer's announce for the stream.
func (s *Stream) announcement(event string) Announce {
	a := Announce{Stream: s.id, Peer: s.peer.id, Addr: s.peer.ln.Addr().String(), Stats: s.Stats(), Event: event}
	if s.source {
		info := s.Info()
		a.Info = &info
		if s.key != nil {
			a.SignInfo(s.key)
		}
	}
	return a
}

// announceStopped tells the tracker the peer left, best effort.
func (s *Stream) announceStopped() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_, _ = s.peer.tracker.Announce(ctx, s.announcement("stopped"))
}

// refused reports whether err is the tracker refusing a request.
func refused(err error) bool {
	var te *TrackerError
	return errors.As(err, &te) && te.Refused()
}
