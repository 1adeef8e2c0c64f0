// Package transport carries p2pstream's peer connections and tracker
// requests: TCP for real networks, Mem for an in-process network with
// shaped links on which tests and the swarm lab run whole swarms.
package transport

import (
	"context"
	"net"
	"time"
)

// TCP is the transport over real TCP. The zero value is ready to use.
type TCP struct {
	// DialTimeout bounds a dial that ctx does not bound; if zero, 10 s.
	DialTimeout time.Duration
}

// Dial connects to addr over TCP.
func (t TCP) Dial(ctx context.Context, addr string) (net.Conn, error) {
	timeout := t.DialTimeout
	if timeout == 0 {
		timeout = 10 * time.Second
	}
	d := net.Dialer{Timeout: timeout}
	return d.DialContext(ctx, "tcp", addr)
}

// Listen listens on addr over TCP.
func (t TCP) Listen(addr string) (net.Listener, error) {
	var lc net.ListenConfig
	return lc.Listen(context.Background(), "tcp", addr)
}
