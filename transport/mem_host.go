package transport

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Ports Mem hands out for port 0 and to dialling connections, as Linux does.
const (
	firstEphemeralPort = 49152
	lastEphemeralPort  = 65535
)

// MemHost is one host of a [Mem] network; it implements Transport. Get one
// with [Mem.Host].
type MemHost struct {
	m  *Mem
	ip string

	nextPort int // guarded by m.mu

	mu   sync.Mutex // guards up and down
	up   line       // shared by the host's outgoing traffic
	down line       // shared by the host's incoming traffic

	sent, received atomic.Int64
}

// IP returns the host's address.
func (h *MemHost) IP() string { return h.ip }

// SetUpload caps the bytes per second the host sends, over all its
// connections together; zero (or negative) removes the cap. Connections take
// turns on the uplink a segment (16 KiB) at a time, so each gets a fair
// share, and a Write on a capped host returns at the pace of the uplink.
func (h *MemHost) SetUpload(bytesPerSec int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.up.rate = max(bytesPerSec, 0)
}

// SetDownload caps the bytes per second the host receives, over all its
// connections together; zero (or negative) removes the cap. Segments queue
// for the downlink in the order they were sent.
func (h *MemHost) SetDownload(bytesPerSec int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.down.rate = max(bytesPerSec, 0)
}

// MemHostStats counts a host's traffic since it was created.
type MemHostStats struct {
	// Sent is the number of bytes the host's connections have written.
	Sent int64
	// Received is the number of bytes the host's connections have read.
	Received int64
}

// Stats returns the host's traffic counters.
func (h *MemHost) Stats() MemHostStats {
	return MemHostStats{Sent: h.sent.Load(), Received: h.received.Load()}
}

// departure books the uplink for n bytes offered at t and returns when they
// have left the host.
func (h *MemHost) departure(t time.Time, n int) time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.up.pass(t, n)
}

// arrival books the downlink for n bytes that reach the host at t and
// returns when they have come through.
func (h *MemHost) arrival(t time.Time, n int) time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.down.pass(t, n)
}

// Listen listens on addr: "ip:port" or ":port", where ip is the host's own
// address, 0.0.0.0 or ::. Port 0 picks a free port. The listener's Addr is
// "ip:port" with the host's IP.
func (h *MemHost) Listen(addr string) (net.Listener, error) {
	host, port, err := splitAddr(addr)
	if err != nil {
		return nil, &net.OpError{Op: "listen", Net: "mem", Err: err}
	}
	if host != "" && host != h.ip && host != "0.0.0.0" && host != "::" {
		return nil, &net.OpError{Op: "listen", Net: "mem", Err: fmt.Errorf("transport: %q is not an address of host %s", addr, h.ip)}
	}
	m := h.m
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed() {
		return nil, &net.OpError{Op: "listen", Net: "mem", Err: net.ErrClosed}
	}
	if port == 0 {
		if port = h.freePortLocked(); port == 0 {
			return nil, &net.OpError{Op: "listen", Net: "mem", Err: fmt.Errorf("transport: host %s has no free port", h.ip)}
		}
	}
	a := memAddr(net.JoinHostPort(h.ip, strconv.Itoa(port)))
	if _, used := m.listeners[string(a)]; used {
		return nil, &net.OpError{Op: "listen", Net: "mem", Addr: a, Err: fmt.Errorf("transport: address already in use")}
	}
	l := &memListener{m: m, host: h, addr: a, backlog: make(chan *memConn, backlog), done: make(chan struct{})}
	m.listeners[string(a)] = l
	return l, nil
}

// ephemeralPortLocked returns the host's next ephemeral port; m.mu is held.
func (h *MemHost) ephemeralPortLocked() int {
	p := h.nextPort
	h.nextPort++
	if h.nextPort > lastEphemeralPort {
		h.nextPort = firstEphemeralPort
	}
	return p
}

// freePortLocked returns an ephemeral port no listener uses, or 0 if there
// is none; m.mu is held.
func (h *MemHost) freePortLocked() int {
	for range lastEphemeralPort - firstEphemeralPort + 1 {
		p := h.ephemeralPortLocked()
		if _, used := h.m.listeners[net.JoinHostPort(h.ip, strconv.Itoa(p))]; !used {
			return p
		}
	}
	return 0
}

// Dial connects to the listener at addr ("ip:port"; an empty ip is this
// host). It takes one round trip of the link, like a TCP handshake, and
// fails at once with an error wrapping [ErrRefused] when nobody listens
// there. The connection's LocalAddr is this host's IP and an ephemeral port.
func (h *MemHost) Dial(ctx context.Context, addr string) (net.Conn, error) {
	host, port, err := splitAddr(addr)
	if err != nil {
		return nil, &net.OpError{Op: "dial", Net: "mem", Err: err}
	}
	if host == "" {
		host = h.ip
	}
	raddr := memAddr(net.JoinHostPort(host, strconv.Itoa(port)))
	opErr := func(err error) error { return &net.OpError{Op: "dial", Net: "mem", Addr: raddr, Err: err} }
	if err := ctx.Err(); err != nil {
		return nil, opErr(err)
	}

	m := h.m
	m.mu.Lock()
	if m.closed() {
		m.mu.Unlock()
		return nil, opErr(net.ErrClosed)
	}
	l, ok := m.listeners[string(raddr)]
	if !ok {
		m.mu.Unlock()
		return nil, opErr(ErrRefused)
	}
	laddr := memAddr(net.JoinHostPort(h.ip, strconv.Itoa(h.ephemeralPortLocked())))
	there, back := m.pathLocked(h.ip, host), m.pathLocked(host, h.ip)
	out := newPipe(h, l.host, there)
	in := newPipe(l.host, h, back)
	client := &memConn{m: m, local: laddr, remote: raddr, in: in, out: out}
	server := &memConn{m: m, local: raddr, remote: laddr, in: out, out: in}
	m.conns[client] = struct{}{}
	m.conns[server] = struct{}{}
	m.mu.Unlock()

	fail := func(err error) (net.Conn, error) {
		client.Close()
		server.Close()
		return nil, opErr(err)
	}
	// The SYN travels to the listener, waits in its backlog, and the SYN-ACK
	// travels back.
	if err := h.sleep(ctx, there.latency()); err != nil {
		return fail(err)
	}
	select {
	case l.backlog <- server:
	case <-l.done:
		return fail(ErrRefused)
	case <-ctx.Done():
		return fail(ctx.Err())
	case <-m.done:
		return fail(net.ErrClosed)
	}
	// A listener closed while we queued may have missed server when it
	// emptied its backlog; then nobody will accept it.
	select {
	case <-l.done:
		return fail(ErrRefused)
	default:
	}
	if err := h.sleep(ctx, back.latency()); err != nil {
		return fail(err)
	}
	return client, nil
}

// sleep waits for d, ctx or the network's Close, whichever comes first.
func (h *MemHost) sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-h.m.done:
		return net.ErrClosed
	}
}

// splitAddr parses "host:port" into its host and a port number.
func splitAddr(addr string) (host string, port int, err error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("transport: %w", err)
	}
	port, err = strconv.Atoi(p)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("transport: address %q: bad port", addr)
	}
	return host, port, nil
}
