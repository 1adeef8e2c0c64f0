package transport

import (
	"bytes"
	"io"
	"net"
	"os"
	"sync"
	"time"
)

// pipe is one direction of a Mem connection. A Write computes when each
// segment arrives (uplink, link bandwidth, latency, jitter, loss, downlink)
// and queues it; a Read waits on a timer until the oldest segment has
// arrived. Nothing runs in between, so a pipe needs no goroutine.
type pipe struct {
	from, to *MemHost
	path     *path

	wmu sync.Mutex // held for a whole Write, so Writes never interleave (as on TCP)

	mu            sync.Mutex // guards the fields below
	segs          []segment  // segs[head:] are queued, oldest first
	head          int
	buffered      int       // bytes queued; at most MemWindow
	roomWanted    int       // bytes a Write waits to fit in the window; 0 if none waits for room
	last          time.Time // arrival of the newest segment: none arrives before it
	wclosed       bool      // the writing end closed: Read gives io.EOF after the data
	rclosed       bool      // the reading end closed: data is dropped and Write fails
	readDeadline  time.Time
	writeDeadline time.Time
	readWake      chan struct{} // closed when a waiting Read should look again; nil if none waits
	writeWake     chan struct{} // the same for a waiting Write
	spare         *time.Timer   // a stopped timer for the next wait, or nil
}

// segment is written data and when it may be read.
type segment struct {
	data []byte
	at   time.Time
	buf  *[]byte // data's buffer, from segmentPools, or nil
}

// segmentClasses are the sizes of the pooled segment buffers, smallest
// first: a swarm in one process moves every byte of every stream through
// them. A write takes the smallest that holds it, so a buffer is at most
// four times the bytes it carries while it waits to be read.
var segmentClasses = [...]int{1 << 10, 4 << 10, segmentSize / 2, segmentSize}

// segmentPools recycle segment buffers, one pool per class.
var segmentPools [len(segmentClasses)]sync.Pool

func init() {
	for i, n := range segmentClasses {
		segmentPools[i].New = func() any { b := make([]byte, n); return &b }
	}
}

// segmentPool is the pool for n bytes (at most segmentSize): the write's
// length when a buffer is taken, the buffer's capacity when it is put back.
func segmentPool(n int) *sync.Pool {
	for i, c := range segmentClasses {
		if n <= c {
			return &segmentPools[i]
		}
	}
	panic("transport: segment larger than segmentSize")
}

// pooledMin is the smallest Write that gets a pooled buffer. Smaller ones
// (most control frames) get a buffer of their own size, which costs less
// than a pool's round trip.
const pooledMin = 256

// newSegment copies b into a segment arriving at at.
func newSegment(b []byte, at time.Time) segment {
	if len(b) < pooledMin {
		return segment{data: bytes.Clone(b), at: at}
	}
	buf := segmentPool(len(b)).Get().(*[]byte)
	return segment{data: (*buf)[:copy(*buf, b)], at: at, buf: buf}
}

// release returns a segment's buffer to its pool.
func (s *segment) release() {
	if s.buf != nil {
		segmentPool(cap(*s.buf)).Put(s.buf)
		s.buf = nil
	}
}

func newPipe(from, to *MemHost, p *path) *pipe {
	return &pipe{from: from, to: to, path: p}
}

// read reads the data that has arrived, waiting for some if there is none.
func (p *pipe) read(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for {
		if p.rclosed {
			return 0, net.ErrClosed
		}
		if len(b) == 0 {
			return 0, nil
		}
		now := time.Now()
		var until time.Time
		if p.head < len(p.segs) {
			at := p.segs[p.head].at
			if !at.After(now) {
				return p.take(b, now), nil
			}
			until = at
		} else if p.wclosed {
			if p.to.m.closed() {
				// Mem.Close closes both ends; which end it reaches
				// first must not show, so not as the peer's EOF.
				return 0, net.ErrClosed
			}
			return 0, io.EOF
		}
		if err := p.wait(&p.readWake, p.readDeadline, now, until); err != nil {
			return 0, err
		}
	}
}

// take copies into b the data that has arrived by now; p.mu is held.
func (p *pipe) take(b []byte, now time.Time) int {
	n := 0
	for n < len(b) && p.head < len(p.segs) {
		s := &p.segs[p.head]
		if s.at.After(now) {
			break
		}
		k := copy(b[n:], s.data)
		n += k
		s.data = s.data[k:]
		if len(s.data) == 0 {
			p.pop()
		}
	}
	p.buffered -= n
	p.to.received.Add(int64(n))
	if p.roomWanted > 0 && p.buffered+p.roomWanted <= MemWindow {
		wake(&p.writeWake) // not at every read: a wake costs the writer a timer reset
	}
	return n
}

// write queues b segment by segment, waiting for room in the window and
// for the sending host's uplink.
func (p *pipe) write(b []byte) (int, error) {
	p.wmu.Lock()
	defer p.wmu.Unlock()
	p.mu.Lock()
	defer p.mu.Unlock()
	total := 0
	for {
		n := min(len(b), segmentSize)
		if err := p.waitWritable(n, time.Time{}); err != nil {
			return total, err
		}
		if n == 0 {
			return total, nil
		}
		sent := time.Now()
		// Wait until the segment has left, so that the connections sharing
		// a capped uplink take turns a segment at a time. An aborted wait
		// wastes its turn, which is harmless.
		if left := p.from.departure(sent, n); left.After(sent) {
			if err := p.waitWritable(n, left); err != nil {
				return total, err
			}
			sent = left
		}
		at := p.to.arrival(p.path.arrival(sent, n), n)
		if at.Before(p.last) {
			at = p.last // TCP delivers in order
		}
		p.last = at
		if p.head == len(p.segs) {
			// A Read waiting for a queued segment needs no wake: this one
			// arrives after it. One waiting for data does.
			wake(&p.readWake)
		}
		p.push(newSegment(b[:n], at))
		p.buffered += n
		p.from.sent.Add(int64(n))
		b = b[n:]
		total += n
		if len(b) == 0 {
			return total, nil
		}
	}
}

// waitWritable waits until n more bytes fit in the window and notBefore has
// passed; p.mu is held.
func (p *pipe) waitWritable(n int, notBefore time.Time) error {
	for {
		if p.wclosed {
			return net.ErrClosed
		}
		if p.rclosed {
			return errPeerClosed
		}
		now := time.Now()
		var until time.Time
		switch {
		case p.buffered+n > MemWindow:
			p.roomWanted = n // until a Read makes room
		case notBefore.After(now):
			until = notBefore
		default:
			return nil
		}
		err := p.wait(&p.writeWake, p.writeDeadline, now, until)
		p.roomWanted = 0
		if err != nil {
			return err
		}
	}
}

// wait releases p.mu until *wakeCh is closed, until passes (if not zero) or
// the deadline passes (if not zero); it returns os.ErrDeadlineExceeded at
// once if the deadline has passed. p.mu is held again when it returns.
func (p *pipe) wait(wakeCh *chan struct{}, deadline, now, until time.Time) error {
	if !deadline.IsZero() {
		if !now.Before(deadline) {
			return os.ErrDeadlineExceeded
		}
		if until.IsZero() || deadline.Before(until) {
			until = deadline
		}
	}
	if *wakeCh == nil {
		*wakeCh = make(chan struct{})
	}
	ch := *wakeCh
	if until.IsZero() {
		p.mu.Unlock()
		<-ch
		p.mu.Lock()
		return nil
	}
	// A timer per wait costs an allocation and a channel, and a swarm in
	// one process waits once per segment: reuse one (stopped timers keep
	// no stale tick since Go 1.23).
	t := p.spare
	p.spare = nil
	if t == nil {
		t = time.NewTimer(until.Sub(now))
	} else {
		t.Reset(until.Sub(now))
	}
	p.mu.Unlock()
	select {
	case <-ch:
	case <-t.C:
	}
	t.Stop()
	p.mu.Lock()
	p.spare = t
	return nil
}

// wake wakes everyone waiting on *ch; its owner's mutex is held.
func wake(ch *chan struct{}) {
	if *ch != nil {
		close(*ch)
		*ch = nil
	}
}

// push appends s to the queue; p.mu is held.
func (p *pipe) push(s segment) {
	if p.head > 0 && len(p.segs) == cap(p.segs) {
		// Reuse the space of segments already read instead of growing.
		n := copy(p.segs, p.segs[p.head:])
		clear(p.segs[n:])
		p.segs, p.head = p.segs[:n], 0
	}
	p.segs = append(p.segs, s)
}

// pop drops the oldest segment; p.mu is held.
func (p *pipe) pop() {
	p.segs[p.head].release()
	p.segs[p.head] = segment{}
	p.head++
	if p.head == len(p.segs) {
		p.segs, p.head = p.segs[:0], 0
	}
}

// closeWrite ends the writing side: the reader gets io.EOF after the data.
func (p *pipe) closeWrite() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.wclosed = true
	wake(&p.readWake)
	wake(&p.writeWake)
}

// closeRead ends the reading side: queued data is dropped and writes fail.
func (p *pipe) closeRead() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rclosed = true
	p.segs, p.head, p.buffered = nil, 0, 0
	wake(&p.readWake)
	wake(&p.writeWake)
}

func (p *pipe) setReadDeadline(t time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.readDeadline = t
	wake(&p.readWake)
}

func (p *pipe) setWriteDeadline(t time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.writeDeadline = t
	wake(&p.writeWake)
}
