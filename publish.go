package p2pstream

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/p2pstream/p2pstream/internal/ts"
)

// PublishOptions configure Publish and PublishFile. Zero fields mean the
// documented defaults.
type PublishOptions struct {
	// Name is shown by the tracker; if empty, "live" or the file's base name.
	Name string
	// ChunkDuration is the target length of a live chunk; if zero, 1 s.
	ChunkDuration time.Duration
	// ChunkSize is the size of an on-demand chunk; if zero, 256 KiB.
	ChunkSize int
	// Key signs live chunks; its public half is the stream ID. If nil, a new
	// key is made, so each Publish is a new stream.
	Key ed25519.PrivateKey
	// Fanout is how many children the source feeds in each stripe's tree
	// (for 3 s after one that had children leaves, up to five more among
	// the viewers below it, whose feeds beyond Fanout end again one a
	// second, those with the fewest viewers below them first); with
	// Peer.Pull, how many peers each fresh live chunk is pushed to, the
	// rest fetching it from them. If zero, 1.
	Fanout int
	// ServeLimit caps what a live source sends in answer to requests, on
	// top of its Fanout pushes, as a multiple of the bytes published so far.
	// Viewers ask the source only for chunks about to miss their deadline;
	// the cap keeps a crowd of them from using the source as a server. If
	// zero, 0.5; if negative, no cap.
	ServeLimit float64
}

// Publish starts a live stream read from src, an MPEG-TS byte stream such as
// a file, a pipe from ffmpeg or os.Stdin. It paces src in real time by its
// PCR (a source that already arrives in real time is not delayed), cuts it
// into chunks of about ChunkDuration at keyframes, signs them, and offers
// them to the swarm. The stream ends after src's EOF; closing the stream
// stops reading (and closes src if it is an io.Closer, to unblock a Read).
// ctx bounds the first announce to the tracker; if the tracker cannot be
// reached, the stream is announced later.
func (p *Peer) Publish(ctx context.Context, src io.Reader, opts PublishOptions) (*Stream, error) {
	if err := p.start(); err != nil {
		return nil, err
	}
	key := opts.Key
	if key == nil {
		var err error
		if _, key, err = ed25519.GenerateKey(rand.Reader); err != nil {
			return nil, err
		}
	}
	var id StreamID
	copy(id[:], key.Public().(ed25519.PublicKey))
	info := StreamInfo{ID: id, Kind: KindLive, Name: opts.Name, ChunkDuration: opts.ChunkDuration}
	if info.Name == "" {
		info.Name = "live"
	}
	if info.ChunkDuration <= 0 {
		info.ChunkDuration = time.Second
	}
	s := newStream(p, info, nil, true)
	s.key = key
	s.fanout = opts.Fanout
	if s.fanout <= 0 {
		s.fanout = 1
	}
	s.serve = opts.ServeLimit
	if s.serve == 0 {
		s.serve = 0.5
	}
	s.st = newLiveStore(p.window(info.ChunkDuration))
	close(s.ready)
	if err := p.addStream(s); err != nil {
		return nil, err
	}
	s.registerStream(ctx)
	s.run(nil)
	s.goFunc(func() { s.publishLoop(src) })
	if c, ok := src.(io.Closer); ok {
		s.goFunc(func() {
			<-s.ctx.Done()
			c.Close()
		})
	}
	return s, nil
}

// publishLoop cuts src into signed chunks until EOF or Close.
func (s *Stream) publishLoop(src io.Reader) {
	seg := ts.NewSegmenter(ts.Pace(s.ctx, src), s.info.ChunkDuration)
	var seq uint64
	for {
		sg, err := seg.Next()
		if len(sg.Data) > 0 {
			var flags ChunkFlags
			if sg.Keyframe {
				flags |= FlagKeyframe
			}
			s.publishChunk(Chunk{Seq: seq, Flags: flags, Data: sg.Data})
			seq++
		}
		if err != nil {
			if s.ctx.Err() != nil {
				return
			}
			if !errors.Is(err, io.EOF) {
				s.log.Error("reading the source failed; ending the stream", "err", err)
			}
			s.publishChunk(Chunk{Seq: seq, Flags: FlagEnd})
			s.log.Info("source ended", "chunks", seq)
			return
		}
	}
}

// publishChunk stamps, signs and stores a fresh chunk.
func (s *Stream) publishChunk(c Chunk) {
	now := time.Now()
	c.Timestamp = now.UnixMicro()
	signChunk(s.key, &c)
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.Seq > 0 && len(c.Data) > 0 {
		// Estimate the bitrate over the window for the tracker and viewers.
		if first, ok := s.st.get(s.st.oldest); ok && first.Timestamp < c.Timestamp {
			var bytes int64
			for seq := s.st.oldest; seq < c.Seq; seq++ {
				if ch, ok := s.st.get(seq); ok {
					bytes += int64(len(ch.Data))
				}
			}
			s.info.Bitrate = bytes * 8 * 1e6 / (c.Timestamp - first.Timestamp)
		}
	}
	s.published += int64(len(c.Data))
	s.storeLocked(c, nil, now, false)
	if c.Flags&FlagEnd != 0 {
		s.markDoneLocked()
	}
}

// ctxReader stops reading when ctx ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// PublishFile publishes a file on demand. Viewers can read it as an
// io.ReadSeeker while it downloads (Stream.Reader). The file is hashed once
// into a Manifest, whose SHA-256 is the stream ID, and then read as peers
// request chunks; closing the stream closes the file. ctx bounds the hashing.
func (p *Peer) PublishFile(ctx context.Context, path string, opts PublishOptions) (*Stream, error) {
	if err := p.start(); err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("p2pstream: publish: %w", err)
	}
	name := opts.Name
	if name == "" {
		name = filepath.Base(path)
	}
	m, err := NewManifest(name, ctxReader{ctx, f}, opts.ChunkSize)
	if err == nil && m.Size == 0 {
		err = errors.New("p2pstream: publish: the file is empty")
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	s := newStream(p, m.Info(), nil, true)
	s.st = newVODStore(m, f)
	s.manifest, _ = m.MarshalBinary()
	s.closers = append(s.closers, f)
	close(s.ready)
	s.markDoneLocked()
	if err := p.addStream(s); err != nil {
		f.Close()
		return nil, err
	}
	s.registerStream(ctx)
	s.run(nil)
	return s, nil
}

// sourceMayServeLocked reports whether a live source may answer one more
// request within its ServeLimit: what it sent and has queued stays under
// Fanout + ServeLimit times the bytes published. Other peers (and
// on-demand seeders) always may, and so may a source whose input ended:
// the budget no longer grows, and the end marker, or a chunk its only
// push went to a peer that kept it, must still reach the viewers.
func (s *Stream) sourceMayServeLocked() bool {
	if !s.source || !s.st.live() || s.serve < 0 || s.published == 0 || s.ended {
		return true
	}
	owed := s.counters.up
	chunk := int64(0)
	if c, ok := s.st.get(s.st.newest); ok {
		chunk = int64(len(c.Data))
	}
	owed += int64(s.uploading) * chunk
	for _, c := range s.conns {
		owed += int64(len(c.queued)) * chunk
	}
	budget := (float64(s.fanout) + s.serve) * float64(s.published)
	return float64(owed+chunk) <= budget
}
