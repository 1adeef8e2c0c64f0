package transport

import (
	"context"
	"net"
	"time"
)

// defaultDialTimeout bounds a TCP dial whose context has no earlier deadline,
// so a peer that silently drops packets does not hold a dial for minutes.
const defaultDialTimeout = 10 * time.Second

// TCP is the transport over real TCP. The zero value is ready to use.
// Connections have TCP_NODELAY set (Go's default), which suits the small
// control frames of the peer protocol.
type TCP struct {
	// DialTimeout bounds a dial that ctx does not bound sooner.
	// If zero, 10 s.
	DialTimeout time.Duration
	// KeepAlive is the TCP keep-alive period of dialled and accepted
	// connections. If zero, Go's default (15 s); if negative, off.
	KeepAlive time.Duration
}

// Dial connects to addr ("host:port") over TCP.
func (t TCP) Dial(ctx context.Context, addr string) (net.Conn, error) {
	timeout := t.DialTimeout
	if timeout == 0 {
		timeout = defaultDialTimeout
	}
	d := net.Dialer{Timeout: timeout, KeepAlive: t.KeepAlive}
	return d.DialContext(ctx, "tcp", addr)
}

// Listen listens on addr ("host:port"; port 0 picks a free port) over TCP.
func (t TCP) Listen(addr string) (net.Listener, error) {
	lc := net.ListenConfig{KeepAlive: t.KeepAlive}
	return lc.Listen(context.Background(), "tcp", addr)
}
