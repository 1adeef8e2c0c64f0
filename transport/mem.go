package transport

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// ErrRefused is returned when dialling a Mem address nobody listens on.
var ErrRefused = errors.New("transport: connection refused")

// Link shapes the traffic between two Mem hosts, in each direction.
type Link struct {
	// Latency is the one-way delay.
	Latency time.Duration
	// Jitter adds a random delay up to this much (order is kept).
	Jitter time.Duration
	// Bandwidth caps bytes per second in each direction; zero is unlimited.
	Bandwidth int64
	// Loss is the probability that a write is lost and retransmitted, which
	// delays it (and what follows it) by max(200 ms, 2*Latency), as TCP would.
	Loss float64
}

// Mem is an in-process network. Hosts have IP-like names; every connection
// is a reliable, ordered byte stream with TCP-like back-pressure (a 256 KiB
// window per direction), shaped by the Link between its hosts and by the
// sending host's upload cap. It is safe for concurrent use. Mem itself is a
// Transport acting as host 127.0.0.1.
type Mem struct {
	mu        sync.Mutex // guards everything below
	hosts     map[string]*MemHost
	listeners map[string]*memListener // by "ip:port"
	conns     map[*memConn]struct{}
	links     map[[2]string]Link
	def       Link
	rng       *rand.Rand
	closed    bool
}

// NewMem returns an empty network.
func NewMem() *Mem {
	return &Mem{
		hosts:     make(map[string]*MemHost),
		listeners: make(map[string]*memListener),
		conns:     make(map[*memConn]struct{}),
		links:     make(map[[2]string]Link),
		rng:       rand.New(rand.NewPCG(1, 1)),
	}
}

// MemHost is one host of a Mem network; it implements Transport.
type MemHost struct {
	m  *Mem
	ip string

	mu       sync.Mutex // guards the fields below
	up       *rate.Limiter
	nextPort int
}

// Host returns the host with that IP, creating it on first use.
func (m *Mem) Host(ip string) *MemHost {
	m.mu.Lock()
	defer m.mu.Unlock()
	h, ok := m.hosts[ip]
	if !ok {
		h = &MemHost{m: m, ip: ip, nextPort: 40000}
		m.hosts[ip] = h
	}
	return h
}

// SetDefaultLink shapes every pair of hosts without a link of its own.
func (m *Mem) SetDefaultLink(l Link) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.def = l
}

// SetLink shapes the traffic between hosts a and b, both directions.
func (m *Mem) SetLink(a, b string, l Link) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.links[[2]string{a, b}] = l
	m.links[[2]string{b, a}] = l
}

func (m *Mem) link(a, b string) Link {
	if l, ok := m.links[[2]string{a, b}]; ok {
		return l
	}
	return m.def
}

// Dial connects from host 127.0.0.1.
func (m *Mem) Dial(ctx context.Context, addr string) (net.Conn, error) {
	return m.Host("127.0.0.1").Dial(ctx, addr)
}

// Listen listens on host 127.0.0.1.
func (m *Mem) Listen(addr string) (net.Listener, error) {
	return m.Host("127.0.0.1").Listen(addr)
}

// Close closes every listener and connection of the network.
func (m *Mem) Close() error {
	m.mu.Lock()
	m.closed = true
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

// SetUpload caps the bytes per second all of the host's connections send
// together; zero removes the cap.
func (h *MemHost) SetUpload(bytesPerSec int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if bytesPerSec <= 0 {
		h.up = nil
		return
	}
	h.up = rate.NewLimiter(rate.Limit(bytesPerSec), segmentSize)
}

func (h *MemHost) limiter() *rate.Limiter {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.up
}

// IP returns the host's address.
func (h *MemHost) IP() string { return h.ip }

// Listen listens on "ip:port" or ":port" of this host; port 0 picks one.
func (h *MemHost) Listen(addr string) (net.Listener, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("transport: listen %q: %w", addr, err)
	}
	if host != "" && host != h.ip && host != "0.0.0.0" && host != "::" {
		return nil, fmt.Errorf("transport: listen %q: host %s has address %s", addr, h.ip, h.ip)
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 0 || p > 65535 {
		return nil, fmt.Errorf("transport: listen %q: bad port", addr)
	}
	m := h.m
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, net.ErrClosed
	}
	if p == 0 {
		for p = 10000; ; p++ {
			if _, used := m.listeners[net.JoinHostPort(h.ip, strconv.Itoa(p))]; !used {
				break
			}
		}
	}
	key := net.JoinHostPort(h.ip, strconv.Itoa(p))
	if _, used := m.listeners[key]; used {
		return nil, fmt.Errorf("transport: listen %s: address already in use", key)
	}
	l := &memListener{m: m, addr: memAddr(key), accept: make(chan *memConn, 128), done: make(chan struct{})}
	m.listeners[key] = l
	return l, nil
}

// Dial connects to a listener of the network.
func (h *MemHost) Dial(ctx context.Context, addr string) (net.Conn, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m := h.m
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil, net.ErrClosed
	}
	l, ok := m.listeners[addr]
	if !ok {
		m.mu.Unlock()
		return nil, &net.OpError{Op: "dial", Net: "mem", Addr: memAddr(addr), Err: ErrRefused}
	}
	h.mu.Lock()
	h.nextPort++
	local := memAddr(net.JoinHostPort(h.ip, strconv.Itoa(h.nextPort)))
	h.mu.Unlock()
	remoteIP, _, _ := net.SplitHostPort(addr)
	out := newPipe(m.link(h.ip, remoteIP), h.limiter(), m.rng.Uint64())
	var back *pipe
	if rh, ok := m.hosts[remoteIP]; ok {
		back = newPipe(m.link(remoteIP, h.ip), rh.limiter(), m.rng.Uint64())
	} else {
		back = newPipe(m.link(remoteIP, h.ip), nil, m.rng.Uint64())
	}
	client := &memConn{m: m, local: local, remote: l.addr, r: back, w: out}
	server := &memConn{m: m, local: l.addr, remote: local, r: out, w: back}
	m.conns[client] = struct{}{}
	m.conns[server] = struct{}{}
	m.mu.Unlock()
	select {
	case l.accept <- server:
		return client, nil
	case <-l.done:
	case <-ctx.Done():
	}
	client.Close()
	server.Close()
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	return nil, &net.OpError{Op: "dial", Net: "mem", Addr: memAddr(addr), Err: ErrRefused}
}

type memAddr string

func (a memAddr) Network() string { return "mem" }
func (a memAddr) String() string  { return string(a) }

type memListener struct {
	m      *Mem
	addr   memAddr
	accept chan *memConn
	done   chan struct{}
	once   sync.Once
}

func (l *memListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.accept:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *memListener) Close() error {
	l.once.Do(func() {
		close(l.done)
		l.m.mu.Lock()
		if l.m.listeners[string(l.addr)] == l {
			delete(l.m.listeners, string(l.addr))
		}
		l.m.mu.Unlock()
		for {
			select {
			case c := <-l.accept:
				c.Close()
			default:
				return
			}
		}
	})
	return nil
}

func (l *memListener) Addr() net.Addr { return l.addr }
