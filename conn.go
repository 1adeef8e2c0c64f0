package p2pstream

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/p2pstream/p2pstream/internal/wire"
)

// ProtocolError reports a malformed or unexpected frame from a peer. It
// closes that one connection.
type ProtocolError = wire.ProtocolError

// noSeq stands for no chunk.
const noSeq = ^uint64(0)

const (
	// Control frames queued per connection: live, 256 (16 connections a
	// viewer, 1,000 viewers in the swarm lab); on demand 1024, because a
	// writer sends a whole chunk (up to MaxChunk) before the next frame,
	// and a fast download sends a Have to every peer per chunk stored.
	ctrlQueueLive = 256
	ctrlQueueVOD  = 1024
	// liveUploadSlots bounds the live uploads queued or under way at a peer
	// (the source has Fanout more). When chunks went whole, one at full
	// upload speed beat several sharing it (swarm lab, 30 viewers: 1 slot
	// 85% continuity, 2 slots 70%). In pieces, 2 slots did better for 100
	// viewers at 2 Mbit/s starting one chunk behind (100% vs 99.7%) but
	// much worse for 300 at 500 kbit/s (77% vs 93%): 1.
	liveUploadSlots = 1
	idleTimeout     = 30 * time.Second // a connection silent this long is dead
	// readBuffer is a connection's read buffer: frame headers and control
	// frames; chunk and piece payloads are read past it, straight into
	// their own buffers. 16 connections a viewer: 16 KiB, not 64.
	readBuffer = 1 << 10
	pingEvery  = 10 * time.Second
	// deadlineSlack is how stale a connection's idle deadlines may be:
	// they move on at most this often, not at every frame.
	deadlineSlack = time.Second
)

// conn is one connection to another peer for one stream. Its reader
// goroutine decodes frames and updates the stream; its writer goroutine
// sends control frames first, then chunks, from two bounded queues.
type conn struct {
	s *Stream

	// Read by every scheduling pass, for every connection: kept together,
	// so a pass touches one cache line per connection before its maps.
	// Guarded by s.mu, but dead.
	dead      atomic.Bool          // set just before done closes: cheaper to check than done
	busyUntil time.Time            // the peer rejected a request: do not ask before this
	limit     int                  // requests we keep in flight to the peer
	inflight  map[uint64]time.Time // our requests to the peer, by send time
	has       map[uint64]struct{}  // chunks the peer holds

	nc     net.Conn
	r      *wire.Reader
	id     PeerID
	addr   string            // the peer's listen address: dialled, or its claimed port at the remote IP
	host   string            // the remote IP the connection comes from
	source bool              // the peer publishes the stream (live: proved it); guarded by s.mu
	claim  bool              // the peer said in its handshake that it publishes the stream
	nonce  [16]byte          // the one our handshake carried, which a live source signs
	proof  *wire.SourceProof // we publish the stream: our proof, signed in newConn, sent by register
	dialer PeerID            // who dialled: decides which of two duplicate connections survives

	ctrl chan wire.Message // control frames; never blocks the sender
	data chan uint64       // seqs of chunks to upload
	done chan struct{}     // closed when the connection shuts down
	stop chan struct{}     // the peer cancelled the live chunk being written
	once sync.Once
	err  error // why it closed; set once before done closes

	// Used by the writer goroutine only.
	wbuf          []byte    // the control frame being sent
	chunkDeadline time.Time // while a live chunk is sent: when it must be written
	writeDeadline time.Time // the write deadline set last
	hdr           []byte    // the frame header of the chunk being sent

	// Used by the read goroutine only.
	rbuf         *[]byte   // the buffer chunkBuffer gave the frame being read
	readDeadline time.Time // the read deadline set last

	// wrote is when the writer last renewed its idle write deadline, in
	// Unix nanoseconds: it wrote then, and it may have written since
	// (within deadlineSlack, or under a live upload's deadline). Read by
	// pingIdleLocked, which pings in doubt.
	wrote atomic.Int64

	// Guarded by s.mu.
	queued       map[uint64]struct{} // uploads queued in data and still wanted
	rate         float64             // measured chunk bytes per second from the peer
	lastRecv     time.Time
	sending      int                 // chunks being written to the peer now (0 or 1)
	writing      uint64              // the live chunk being written to the peer, or noSeq
	back         uint64              // the live chunk the peer asked for last piece first (RequestBack), or noSeq
	parts        map[uint64]uint8    // live chunks the peer asked for in stripes (RequestStripes): which
	strikes      int                 // requests to the peer timed out since its last verified chunk
	late         map[uint64]struct{} // the seqs of those requests
	top          uint64              // live: newest chunk the peer advertised, if topValid
	topValid     bool
	sentManifest bool // the manifest went to the peer (once per connection)

	// Stripe trees (tree.go); guarded by s.mu.
	tree        wire.Tree // where the peer stands in the trees, if treeValid
	treeValid   bool
	freeLeft    int                   // feeds the peer may still take on, as far as we know
	noFeedUntil [stripes]time.Time    // per stripe, the peer refused or failed a feed of it: not asked before
	asked       uint8                 // stripes we asked the peer for (last Subscribe)
	feeds       uint8                 // stripes the peer pushes to us
	feed        uint8                 // stripes we push to the peer
	orphanOf    uint8                 // at a source: stripes whose root the peer was below when it left
	opened      time.Time             // when the connection was made
	feedFrom    uint64                // the first chunk still to push to the peer
	pushed      map[uint64]*pushState // what we pushed of each chunk from feedFrom
	pushWake    chan struct{}         // pieces arrived to push to the peer
	told        wire.Tree             // our advertisement as last sent to the peer (treeLocked)
	toldAt      time.Time             // when
	owedMap     bool                  // Haves held back from the peer (announceLocked): a buffer map is due
}

// newConn makes the connection to the peer that sent hs, on which our
// handshake carried nonce. addr is the address we dialled, or "" for an
// incoming connection: then the peer's claimed listen port at the IP it
// connects from, so a peer cannot make us ban or dial an address that is
// not its own. A peer that claims to publish a live stream is not taken
// for its source until it proves it (sourceProof).
func newConn(s *Stream, nc net.Conn, r *wire.Reader, hs *wire.Handshake, nonce [16]byte, dialer PeerID, addr string) *conn {
	host := hostOf(nc.RemoteAddr().String())
	if addr == "" {
		if _, port, err := net.SplitHostPort(hs.ListenAddr); err == nil {
			addr = net.JoinHostPort(host, port)
		}
	}
	// Pieces are checked and copied as they are read (receivePiece runs in
	// the reader goroutine), so one buffer serves them all.
	r.ReusePieces = true
	c := &conn{
		s:        s,
		nc:       nc,
		r:        r,
		id:       PeerID(hs.Peer),
		addr:     addr,
		host:     host,
		source:   hs.Source && s.kind != KindLive,
		claim:    hs.Source,
		nonce:    nonce,
		dialer:   dialer,
		ctrl:     make(chan wire.Message, ctrlQueueSize(s.kind)),
		data:     make(chan uint64, 2*s.peer.maxServe()), // cancelled seqs stay in the channel
		done:     make(chan struct{}),
		stop:     make(chan struct{}, 1),
		writing:  noSeq,
		back:     noSeq,
		parts:    make(map[uint64]uint8),
		has:      make(map[uint64]struct{}),
		inflight: make(map[uint64]time.Time),
		queued:   make(map[uint64]struct{}),
		late:     make(map[uint64]struct{}),
		pushed:   make(map[uint64]*pushState),
		pushWake: make(chan struct{}, 1),
		limit:    4,
		lastRecv: time.Now(),
		opened:   time.Now(),
	}
	if s.key != nil {
		// We publish this live stream: register sends the proof first.
		c.proof = &wire.SourceProof{Sig: ed25519.Sign(s.key, wire.SourceProofMessage(s.id, hs.Nonce))}
	}
	return c
}

// ctrlQueueSize returns the control queue of a connection of a stream of kind.
func ctrlQueueSize(kind Kind) int {
	if kind == KindVOD {
		return ctrlQueueVOD
	}
	return ctrlQueueLive
}

func (c *conn) String() string {
	return fmt.Sprintf("peer %s at %s", c.id.String()[:8], c.nc.RemoteAddr())
}

// LogValue formats c only when a log record is written: hot paths log at
// debug level, usually disabled.
func (c *conn) LogValue() slog.Value { return slog.StringValue(c.String()) }

// close shuts the connection down once; err says why (nil for a normal close).
func (c *conn) close(err error) {
	c.once.Do(func() {
		c.err = err
		c.dead.Store(true)
		close(c.done)
		c.nc.Close()
	})
}

// closed reports whether the connection has shut down.
func (c *conn) closed() bool { return c.dead.Load() }

// send queues a control frame; the caller holds s.mu. It never blocks: a
// peer that lets ctrlQueueLive or ctrlQueueVOD control frames pile up (answers to its requests and
// pings it does not read) is too slow or hostile, and is dropped and refused
// for a while, so it cannot flood us again at once.
func (c *conn) send(m wire.Message) {
	select {
	case c.ctrl <- m:
	default:
		c.s.banForLocked(c, errors.New("p2pstream: peer too slow: control queue full"), strikeBan)
	}
}

// readLoop decodes frames until the connection fails. On demand, chunks go
// to other goroutines for verification (SHA-256), so hashing one chunk
// overlaps with reading the next (verifiers); live chunks come as heads and
// pieces, checked as they are read, and a whole chunk frame too.
func (c *conn) readLoop() {
	type received struct {
		m   *wire.Chunk
		buf *[]byte // from chunkBuffers (chunkBuffer), or nil
	}
	chunks := make(chan received, 4)
	var verifiers sync.WaitGroup
	nverifiers := c.verifiers()
	for range nverifiers {
		verifiers.Go(func() {
			for r := range chunks {
				err := c.s.receive(c, r.m)
				if r.buf != nil {
					chunkBuffers.Put(r.buf) // receive kept nothing: the store wrote the chunk to its file
				}
				if err != nil {
					c.close(err)
				}
			}
		})
	}
	c.r.ChunkBuffer = c.chunkBuffer
	defer func() {
		close(chunks)
		verifiers.Wait()
	}()
	for {
		if now := time.Now(); c.readDeadline.Sub(now) < idleTimeout-deadlineSlack {
			c.readDeadline = now.Add(idleTimeout)
			_ = c.nc.SetReadDeadline(c.readDeadline)
		}
		m, err := c.r.ReadMessage()
		if err != nil {
			c.s.fault(c, err)
			c.close(err)
			return
		}
		if ch, ok := m.(*wire.Chunk); ok && nverifiers > 0 {
			buf := c.rbuf
			c.rbuf = nil
			select {
			case chunks <- received{ch, buf}:
			case <-c.done:
				return
			}
			continue
		}
		if err := c.s.handle(c, m); err != nil {
			c.s.fault(c, err)
			c.close(err)
			return
		}
	}
}

// verifiers returns how many goroutines verify and write out the
// on-demand chunks read from c: two, where cores allow, as hashing and
// writing a chunk take longer than reading it (one pair over loopback:
// hashing and writing kept one goroutine busy 90% of the time, the reader
// 25%). None for a live stream, whose chunks come as heads and pieces: a
// goroutine per connection that waits for chunk frames that never come is
// a stack per neighbour for nothing (swarm lab, 1,000 viewers: 16,000
// connections).
func (c *conn) verifiers() int {
	if c.s.kind != KindVOD {
		return 0
	}
	return min(2, runtime.GOMAXPROCS(0))
}

// chunkBuffers recycles buffers the size of on-demand chunks: those chunk
// frames are read into (chunkBuffer; a viewer's store writes each chunk to
// its file, so the buffer is free again once the chunk is verified and
// written), and those a chunk is read into from its file, to be sent
// (writeChunk) or handed to a reader (vodReader.WriteTo). A download does
// not make the heap grow by the file's size, and a new connection or reader
// costs no fresh memory (one that does costs a page fault per 4 KiB).
var chunkBuffers sync.Pool

// getChunkBuffer returns a buffer of at least n bytes from chunkBuffers.
func getChunkBuffer(n int) *[]byte {
	b, _ := chunkBuffers.Get().(*[]byte)
	if b == nil || cap(*b) < n {
		nb := make([]byte, n)
		b = &nb
	}
	return b
}

// chunkBuffer gives the reader a recycled buffer for an on-demand chunk
// frame of n bytes (wire.Reader.ChunkBuffer), or nil: for live chunks, which
// the store keeps, and for frames longer than the stream's chunks, which
// are read the careful way (a buffer that grows as the bytes arrive). Only
// the read goroutine calls it; readLoop hands the buffer on with the chunk.
func (c *conn) chunkBuffer(n int) []byte {
	c.s.mu.Lock()
	st := c.s.st
	c.s.mu.Unlock()
	if st == nil || st.out == nil || n > st.manifest.ChunkSize+chunkFrameExtra {
		return nil
	}
	b := getChunkBuffer(n)
	c.rbuf = b
	return (*b)[:n]
}

// chunkFrameExtra bounds what a chunk frame's payload holds besides the
// data: seq, timestamp, flags and a signature.
const chunkFrameExtra = 128

// writeLoop sends queued frames: control frames first, chunks when no control
// frame waits. Chunk data is read from the store when it is sent, so queues
// hold seqs, not bytes.
func (c *conn) writeLoop(ctx context.Context) {
	bw := bufio.NewWriterSize(c.nc, 2<<10) // control frames (see writeLive)
	for {
		select {
		case m := <-c.ctrl:
			if c.writeFrame(bw, m, true) != nil {
				return
			}
			continue
		default:
		}
		select {
		case <-c.pushWake: // pushes go before pulled chunks
			if !c.pushNow(ctx, bw) {
				return
			}
			continue
		default:
		}
		select {
		case m := <-c.ctrl:
			if c.writeFrame(bw, m, true) != nil {
				return
			}
		case <-c.pushWake:
			if !c.pushNow(ctx, bw) {
				return
			}
		case seq := <-c.data:
			out, ok := c.s.chunkToSend(c, seq)
			if !ok {
				continue
			}
			n, err := c.writeChunk(ctx, bw, out)
			c.s.sent(c, n, err == nil)
			if err != nil {
				c.close(err)
				return
			}
		case <-c.done:
			return
		}
	}
}

// pushNow writes and flushes what there is to push (writePushes), through
// a buffer borrowed for it (pushWriters), as writeLive does: through the
// connection's small one, bw, each piece would be split at the buffer's end
// into two writes, each a segment on the link, a wake of the reader and,
// in transport.Mem, a timer (a 300-viewer lab run: 2.0 writes a piece, and
// one more for each chunk's head). It reports false, having closed the
// connection, if that failed.
func (c *conn) pushNow(ctx context.Context, bw *bufio.Writer) bool {
	big := pushWriters.Get().(*bufio.Writer)
	big.Reset(c.nc)
	err := bw.Flush()
	if err == nil {
		err = c.writePushes(ctx, big)
	}
	if err == nil {
		err = big.Flush()
	}
	big.Reset(nil)
	pushWriters.Put(big)
	if err != nil {
		c.close(errors.New("p2pstream: writing pushed pieces"))
		return false
	}
	return true
}

// writeFrame writes m to bw; with flush, it flushes bw unless more control
// frames wait. An error closes the connection.
func (c *conn) writeFrame(bw *bufio.Writer, m wire.Message, flush bool) error {
	c.wbuf = wire.AppendFrame(c.wbuf[:0], m)
	err := c.write(bw, c.wbuf, nil)
	if err == nil && flush && len(c.ctrl) == 0 {
		err = bw.Flush()
	}
	if err != nil {
		c.close(err)
	}
	return err
}

// writePiece writes piece index of live chunk seq to bw: the frame's
// header, then data from the chunk itself (no frame-sized buffer per
// connection). An error closes the connection.
func (c *conn) writePiece(bw *bufio.Writer, seq uint64, index int, data []byte) error {
	c.wbuf = wire.AppendPieceHeader(c.wbuf[:0], seq, uint32(index), len(data))
	err := c.write(bw, c.wbuf, data)
	if err != nil {
		c.close(err)
	}
	return err
}

// write writes a and b to bw, within the chunk's deadline while a live
// chunk is sent.
func (c *conn) write(bw *bufio.Writer, a, b []byte) error {
	c.setWriteDeadline()
	if _, err := bw.Write(a); err != nil {
		return err
	}
	_, err := bw.Write(b)
	return err
}

// setWriteDeadline sets the write deadline for the next write: the live
// chunk's being sent, or idleTimeout from now. An idle deadline is moved on
// only once it is deadlineSlack old: a deadline set per frame costs a timer
// update per frame.
func (c *conn) setWriteDeadline() {
	dl := c.chunkDeadline
	if dl.IsZero() {
		now := time.Now()
		if c.writeDeadline.Sub(now) >= idleTimeout-deadlineSlack {
			return // the idle deadline set last still holds
		}
		dl = now.Add(idleTimeout)
		c.wrote.Store(now.UnixNano())
	}
	if !dl.Equal(c.writeDeadline) {
		c.writeDeadline = dl
		_ = c.nc.SetWriteDeadline(dl)
	}
}

// writeQueued writes the control frames waiting now, without flushing.
func (c *conn) writeQueued(bw *bufio.Writer) error {
	for {
		select {
		case m := <-c.ctrl:
			if err := c.writeFrame(bw, m, false); err != nil {
				return err
			}
		default:
			return nil
		}
	}
}

// outgoing is a chunk on its way to a peer. At a seeder its data is still in
// the published file: Data is nil and file, off and n say where it lies; the
// writer reads it into a buffer it reuses, instead of allocating (and the
// garbage collector freeing) a buffer per chunk. (sendfile(2) was measured
// too: slower over loopback, 550-590 MB/s against 790-875.)
type outgoing struct {
	Chunk
	n    int         // bytes of data
	file io.ReaderAt // on demand: the file the chunk is read from
	off  int64
	live bool  // a live chunk: sent as a head and pieces, which may still be arriving
	back bool  // live: asked for last piece first (wire.RequestBack)
	mask uint8 // live: only the pieces of these stripes (wire.RequestStripes); 0: all
}

// writeChunk writes a chunk: a live one as a head and pieces (writeLive);
// an on-demand one as a chunk frame (header, then data) straight to the
// connection, after flushing queued control frames, so the data is not copied
// through the buffer. With an upload limit it goes in pieces, each allowed by
// the limiter.
func (c *conn) writeChunk(ctx context.Context, bw *bufio.Writer, out outgoing) (int, error) {
	if err := bw.Flush(); err != nil {
		return 0, err
	}
	if out.live {
		return c.writeLive(ctx, bw, out.Seq, out.back, out.mask)
	}
	c.setWriteDeadline()
	c.hdr = chunkHeader(c.hdr[:0], out.Chunk, out.n)
	lim := c.s.peer.limiter
	data := out.Data
	if out.file != nil {
		buf := getChunkBuffer(out.n)
		defer chunkBuffers.Put(buf)
		data = (*buf)[:out.n]
		if _, err := out.file.ReadAt(data, out.off); err != nil {
			return 0, fmt.Errorf("p2pstream: reading chunk %d of the on-demand file: %w", out.Seq, err)
		}
	}
	if lim == nil {
		bufs := net.Buffers{c.hdr, data}
		_, err := bufs.WriteTo(rawConn(c.nc))
		return len(data), err
	}
	if _, err := c.nc.Write(c.hdr); err != nil {
		return 0, err
	}
	for b := data; len(b) > 0; {
		n := min(len(b), uploadBurst)
		if err := lim.WaitN(ctx, n); err != nil {
			return 0, err
		}
		c.setWriteDeadline()
		if _, err := c.nc.Write(b[:n]); err != nil {
			return 0, err
		}
		b = b[n:]
	}
	return len(data), nil
}

// pushWriters are the write buffers of pushes under way (pushNow), each
// large enough for the largest piece and the frames before it.
var pushWriters = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, wire.MaxPieceSize+2<<10) }}

// pieceWriters are the large write buffers of live uploads under way.
var pieceWriters = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 32<<10) }}

// writeLive sends live chunk seq as a head and pieces (writePieces). It must
// be written within liveUploadTimeout: a peer that asks for chunks and does
// not read them (a slow loris) would otherwise hold this peer's few live
// upload slots, and the requester has given up on the chunk by then anyway.
func (c *conn) writeLive(ctx context.Context, bw *bufio.Writer, seq uint64, back bool, mask uint8) (int, error) {
	c.s.mu.Lock()
	c.writing = seq
	c.s.mu.Unlock()
	select {
	case <-c.stop: // a cancel of an earlier chunk
	default:
	}
	c.chunkDeadline = time.Now().Add(c.s.liveUploadTimeout())
	// A connection keeps a small buffer for control frames; the few
	// uploading a chunk borrow a large one, so that pieces go out in
	// large writes.
	big := pieceWriters.Get().(*bufio.Writer)
	big.Reset(c.nc)
	n, err := c.writePieces(ctx, big, seq, c.chunkDeadline, back, mask)
	if err == nil {
		err = big.Flush()
	}
	big.Reset(nil)
	pieceWriters.Put(big)
	c.chunkDeadline = time.Time{}
	c.s.mu.Lock()
	c.writing = noSeq
	c.s.mu.Unlock()
	return n, err
}

// chunkHeader appends a Chunk frame up to its n bytes of data: the frame
// without data, with its length grown by n. Sending the data from the store
// directly saves copying every chunk into a frame buffer.
func chunkHeader(b []byte, c Chunk, n int) []byte {
	start := len(b)
	b = wire.AppendFrame(b, &wire.Chunk{Seq: c.Seq, Timestamp: c.Timestamp, Flags: uint8(c.Flags), Sig: c.Sig})
	binary.BigEndian.PutUint32(b[start:], binary.BigEndian.Uint32(b[start:])+uint32(n))
	return b
}
