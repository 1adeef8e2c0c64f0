package transport

import (
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"sync"
	"time"
)

// ErrRefused is the error (wrapped in a *net.OpError) of a Mem dial to an
// address nobody listens on, like ECONNREFUSED on a real network.
var ErrRefused = errors.New("transport: connection refused")

// errPeerClosed is the error of a write to a connection whose other end has
// closed, like EPIPE on a real network.
var errPeerClosed = errors.New("transport: connection closed by peer")

// MemWindow is how many bytes a Mem connection holds in flight per direction
// (written but not yet read). A Write blocks while the window is full, which
// gives TCP-like back-pressure to a slow reader or a slow link.
const MemWindow = 256 << 10

// segmentSize is the unit in which a Write travels: the bandwidth of lines,
// the turn-taking on a shared upload, and loss all work per segment.
const segmentSize = 16 << 10

// Link shapes the traffic from one Mem host to another. The zero Link is a
// perfect network: no delay, unlimited bandwidth, no loss.
type Link struct {
	// Latency is the one-way delay. Dial takes one round trip.
	Latency time.Duration
	// Jitter adds a random delay of up to this much to each segment;
	// order is kept, so a delayed segment holds back those after it.
	Jitter time.Duration
	// Bandwidth is the capacity in bytes per second in each direction,
	// shared by all connections between the two hosts. If zero, unlimited.
	Bandwidth int64
	// Loss is the probability that a segment (16 KiB or less) is lost and
	// retransmitted: it arrives max(200 ms, 2*Latency) later than it would
	// have, and holds back those after it, as on TCP.
	Loss float64
}

// sanitized returns l with negative values as zero and Loss at most 1.
func (l Link) sanitized() Link {
	l.Latency = max(l.Latency, 0)
	l.Jitter = max(l.Jitter, 0)
	l.Bandwidth = max(l.Bandwidth, 0)
	l.Loss = min(max(l.Loss, 0), 1)
	return l
}

// Mem is an in-process network. Its hosts have IP addresses (any string the
// caller picks, such as "10.0.0.7"); each is a Transport. Connections are
// reliable ordered byte streams with a window of [MemWindow] bytes per
// direction, shaped by the [Link] between their hosts and by the hosts'
// upload and download caps.
//
// Mem starts no goroutines: a Write computes when its bytes arrive, and a
// Read waits on a timer until they have. Thousands of connections cost only
// their buffered bytes.
//
// Mem itself is a Transport acting as host 127.0.0.1. It is safe for
// concurrent use. Create one with [NewMem].
type Mem struct {
	done      chan struct{} // closed by Close
	closeOnce sync.Once

	mu        sync.Mutex // guards the fields below
	hosts     map[string]*MemHost
	listeners map[string]*memListener // by address "ip:port"
	conns     map[*memConn]struct{}   // open connections, for Close
	paths     map[[2]string]*path     // by (from, to) host IP
	def       Link                    // the Link of paths with none of their own
	seed      uint64                  // seeds each new path's random numbers
}

// NewMem returns a network with no hosts and perfect links.
func NewMem() *Mem {
	return &Mem{
		done:      make(chan struct{}),
		hosts:     make(map[string]*MemHost),
		listeners: make(map[string]*memListener),
		conns:     make(map[*memConn]struct{}),
		paths:     make(map[[2]string]*path),
	}
}

// Host returns the host with that IP address, creating it on first use.
func (m *Mem) Host(ip string) *MemHost {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.hostLocked(ip)
}

func (m *Mem) hostLocked(ip string) *MemHost {
	h, ok := m.hosts[ip]
	if !ok {
		h = &MemHost{m: m, ip: ip, nextPort: firstEphemeralPort}
		m.hosts[ip] = h
	}
	return h
}

// SetDefaultLink shapes the traffic between every two hosts that have no
// link of their own from SetLink, including connections already open.
func (m *Mem) SetDefaultLink(l Link) {
	l = l.sanitized()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.def = l
	for _, p := range m.paths {
		p.setLink(l, false)
	}
}

// SetLink shapes the traffic between hosts a and b, in both directions,
// including connections already open. It overrides the default link.
func (m *Mem) SetLink(a, b string, l Link) {
	l = l.sanitized()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.pathLocked(a, b).setLink(l, true)
	m.pathLocked(b, a).setLink(l, true)
}

// pathLocked returns the path from host a to host b, creating it with the
// default link on first use.
func (m *Mem) pathLocked(a, b string) *path {
	key := [2]string{a, b}
	p, ok := m.paths[key]
	if !ok {
		m.seed++
		p = &path{link: m.def, rng: rand.New(rand.NewPCG(m.seed, 0x9e3779b97f4a7c15))}
		m.paths[key] = p
	}
	return p
}

// Dial connects from host 127.0.0.1 to addr.
func (m *Mem) Dial(ctx context.Context, addr string) (net.Conn, error) {
	return m.Host("127.0.0.1").Dial(ctx, addr)
}

// Listen listens on addr of host 127.0.0.1.
func (m *Mem) Listen(addr string) (net.Listener, error) {
	return m.Host("127.0.0.1").Listen(addr)
}

// Close closes every listener and connection of the network; later Dial and
// Listen calls fail with net.ErrClosed. It always returns nil.
func (m *Mem) Close() error {
	m.closeOnce.Do(func() { close(m.done) })
	m.mu.Lock()
	ls := make([]*memListener, 0, len(m.listeners))
	for _, l := range m.listeners {
		ls = append(ls, l)
	}
	cs := make([]*memConn, 0, len(m.conns))
	for c := range m.conns {
		cs = append(cs, c)
	}
	m.mu.Unlock()
	for _, l := range ls {
		l.Close()
	}
	for _, c := range cs {
		c.Close()
	}
	return nil
}

func (m *Mem) closed() bool {
	select {
	case <-m.done:
		return true
	default:
		return false
	}
}

// path is the way from one host to another: its Link and the state of its
// bandwidth, shared by all connections in that direction.
type path struct {
	mu       sync.Mutex // guards the fields below
	link     Link
	explicit bool // link came from SetLink, so SetDefaultLink leaves it
	line     line // the link's bandwidth
	rng      *rand.Rand
}

func (p *path) setLink(l Link, explicit bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.explicit && !explicit {
		return
	}
	p.link, p.explicit = l, explicit
}

// latency returns the path's one-way latency.
func (p *path) latency() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.link.Latency
}

// arrival returns when a segment of n bytes that leaves its host at t
// arrives at the other end of the path.
func (p *path) arrival(t time.Time, n int) time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	l := p.link
	p.line.rate = l.Bandwidth
	at := p.line.pass(t, n).Add(l.Latency)
	if l.Jitter > 0 {
		at = at.Add(time.Duration(p.rng.Int64N(int64(l.Jitter) + 1)))
	}
	if l.Loss > 0 && p.rng.Float64() < l.Loss {
		at = at.Add(max(200*time.Millisecond, 2*l.Latency))
	}
	return at
}

// line is a serial channel of fixed capacity, such as a host's uplink: the
// bytes offered to it pass one after another.
type line struct {
	rate int64     // bytes per second; zero means unlimited
	free time.Time // when everything offered so far has passed
}

// pass returns when n bytes offered at t have passed the line, and books the
// line until then. A line that has been idle passes one segment at once (a
// token bucket one segment deep); this also keeps a writer that wakes a
// little late for its next turn from losing capacity.
func (l *line) pass(t time.Time, n int) time.Time {
	if l.rate <= 0 {
		return t
	}
	start := t.Add(-l.duration(segmentSize))
	if l.free.After(start) {
		start = l.free
	}
	l.free = start.Add(l.duration(n))
	if l.free.Before(t) {
		return t
	}
	return l.free
}

func (l *line) duration(n int) time.Duration {
	return time.Duration(int64(n) * int64(time.Second) / l.rate)
}
