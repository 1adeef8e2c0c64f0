package transport

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

const (
	window      = 256 << 10 // bytes in flight per direction before Write blocks
	segmentSize = 64 << 10  // a Write is cut into segments of at most this size
)

var errBrokenPipe = errors.New("transport: broken pipe")

// pipe is one direction of a Mem connection: segments written at one end
// become readable at the other at their delivery time. No goroutines: a
// blocked Read or Write waits on a channel and a timer.
type pipe struct {
	link Link
	up   *rate.Limiter // the sending host's upload cap, or nil
	rng  *rand.Rand

	mu       sync.Mutex // guards everything below
	segs     []segment
	buffered int       // bytes in segs
	bwFree   time.Time // when the link's bandwidth is next free
	lastAt   time.Time // delivery time of the newest segment (order is kept)
	wclosed  bool      // the writer closed: EOF after the data
	rclosed  bool      // the reader closed: writes fail
	readable chan struct{}
	writable chan struct{}
	rdl, wdl time.Time // read and write deadlines
}

type segment struct {
	data []byte
	at   time.Time
}

func newPipe(l Link, up *rate.Limiter, seed uint64) *pipe {
	return &pipe{link: l, up: up, rng: rand.New(rand.NewPCG(seed, 7)),
		readable: make(chan struct{}, 1), writable: make(chan struct{}, 1)}
}

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// wait blocks until ch fires, d passes (if d > 0), or the deadline passes.
func wait(ch chan struct{}, d time.Duration, deadline time.Time) error {
	var timer <-chan time.Time
	if !deadline.IsZero() {
		until := time.Until(deadline)
		if until <= 0 {
			return os.ErrDeadlineExceeded
		}
		if d <= 0 || until < d {
			d = until
		}
	}
	if d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		timer = t.C
	}
	select {
	case <-ch:
	case <-timer:
	}
	if !deadline.IsZero() && !time.Now().Before(deadline) {
		return os.ErrDeadlineExceeded
	}
	return nil
}

func (p *pipe) write(b []byte) (int, error) {
	total := 0
	for len(b) > 0 {
		n := min(len(b), segmentSize)
		p.mu.Lock()
		for {
			if p.rclosed || p.wclosed {
				p.mu.Unlock()
				return total, errBrokenPipe
			}
			if p.buffered+n <= window || p.buffered == 0 {
				break
			}
			dl := p.wdl
			p.mu.Unlock()
			if err := wait(p.writable, 0, dl); err != nil {
				return total, err
			}
			p.mu.Lock()
		}
		dl := p.wdl
		p.mu.Unlock()
		if p.up != nil {
			ctx := context.Background()
			if !dl.IsZero() {
				var cancel context.CancelFunc
				ctx, cancel = context.WithDeadline(ctx, dl)
				defer cancel()
			}
			if err := p.up.WaitN(ctx, n); err != nil {
				return total, os.ErrDeadlineExceeded
			}
		}
		p.mu.Lock()
		if p.rclosed || p.wclosed {
			p.mu.Unlock()
			return total, errBrokenPipe
		}
		now := time.Now()
		at := now
		if p.link.Bandwidth > 0 {
			p.bwFree = later(p.bwFree, now).Add(time.Duration(float64(n) / float64(p.link.Bandwidth) * float64(time.Second)))
			at = p.bwFree
		}
		at = at.Add(p.link.Latency)
		if p.link.Jitter > 0 {
			at = at.Add(time.Duration(p.rng.Int64N(int64(p.link.Jitter))))
		}
		if p.link.Loss > 0 && p.rng.Float64() < p.link.Loss {
			at = at.Add(max(200*time.Millisecond, 2*p.link.Latency))
		}
		at = later(at, p.lastAt)
		p.lastAt = at
		p.segs = append(p.segs, segment{data: append([]byte(nil), b[:n]...), at: at})
		p.buffered += n
		p.mu.Unlock()
		signal(p.readable)
		b = b[n:]
		total += n
	}
	return total, nil
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func (p *pipe) read(b []byte) (int, error) {
	for {
		p.mu.Lock()
		if p.rclosed {
			p.mu.Unlock()
			return 0, net.ErrClosed
		}
		var d time.Duration
		if len(p.segs) > 0 {
			s := &p.segs[0]
			d = time.Until(s.at)
			if d <= 0 {
				n := copy(b, s.data)
				s.data = s.data[n:]
				if len(s.data) == 0 {
					p.segs[0] = segment{}
					p.segs = p.segs[1:]
				}
				p.buffered -= n
				more := len(p.segs) > 0
				p.mu.Unlock()
				signal(p.writable)
				if more {
					signal(p.readable)
				}
				return n, nil
			}
		} else if p.wclosed {
			p.mu.Unlock()
			return 0, io.EOF
		}
		dl := p.rdl
		p.mu.Unlock()
		if err := wait(p.readable, d, dl); err != nil {
			return 0, err
		}
	}
}

func (p *pipe) closeWrite() {
	p.mu.Lock()
	p.wclosed = true
	p.mu.Unlock()
	signal(p.readable)
	signal(p.writable)
}

func (p *pipe) closeRead() {
	p.mu.Lock()
	p.rclosed = true
	p.segs, p.buffered = nil, 0
	p.mu.Unlock()
	signal(p.readable)
	signal(p.writable)
}

// memConn is one end of a Mem connection.
type memConn struct {
	m             *Mem
	local, remote memAddr
	r, w          *pipe
	once          sync.Once
}

func (c *memConn) Read(b []byte) (int, error) {
	n, err := c.r.read(b)
	if err != nil && !errors.Is(err, io.EOF) {
		err = &net.OpError{Op: "read", Net: "mem", Source: c.local, Addr: c.remote, Err: err}
	}
	return n, err
}

func (c *memConn) Write(b []byte) (int, error) {
	n, err := c.w.write(b)
	if err != nil {
		err = &net.OpError{Op: "write", Net: "mem", Source: c.local, Addr: c.remote, Err: err}
	}
	return n, err
}

// Close ends both directions: the peer reads EOF after the data in flight.
func (c *memConn) Close() error {
	c.once.Do(func() {
		c.w.closeWrite()
		c.r.closeRead()
		c.m.mu.Lock()
		delete(c.m.conns, c)
		c.m.mu.Unlock()
	})
	return nil
}

func (c *memConn) LocalAddr() net.Addr  { return c.local }
func (c *memConn) RemoteAddr() net.Addr { return c.remote }

func (c *memConn) SetDeadline(t time.Time) error {
	c.SetReadDeadline(t)
	return c.SetWriteDeadline(t)
}

func (c *memConn) SetReadDeadline(t time.Time) error {
	c.r.mu.Lock()
	c.r.rdl = t
	c.r.mu.Unlock()
	signal(c.r.readable)
	return nil
}

func (c *memConn) SetWriteDeadline(t time.Time) error {
	c.w.mu.Lock()
	c.w.wdl = t
	c.w.mu.Unlock()
	signal(c.w.writable)
	return nil
}
