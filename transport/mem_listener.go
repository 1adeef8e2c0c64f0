package transport

import (
	"net"
	"sync"
)

// backlog is how many connections wait for Accept on a Mem listener; a Dial
// blocks while the backlog is full, as a SYN would be retried.
const backlog = 128

// memAddr is the address of a Mem listener or connection, "ip:port".
type memAddr string

// Network returns "mem".
func (a memAddr) Network() string { return "mem" }

// String returns the address as "ip:port".
func (a memAddr) String() string { return string(a) }

// memListener is a Mem listener: Dial hands it connections through backlog.
type memListener struct {
	m       *Mem
	host    *MemHost
	addr    memAddr
	backlog chan *memConn
	done    chan struct{} // closed by Close
	once    sync.Once
}

// Accept waits for and returns the next connection. After Close it returns
// an error wrapping net.ErrClosed.
func (l *memListener) Accept() (net.Conn, error) {
	// Checked first so Accept never succeeds after Close returned.
	select {
	case <-l.done:
		return nil, l.closedErr()
	default:
	}
	select {
	case c := <-l.backlog:
		return c, nil
	case <-l.done:
		return nil, l.closedErr()
	}
}

func (l *memListener) closedErr() error {
	return &net.OpError{Op: "accept", Net: "mem", Addr: l.addr, Err: net.ErrClosed}
}

// Close stops listening and closes the connections still waiting in the
// backlog. It always returns nil.
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
			case c := <-l.backlog:
				c.Close()
			default:
				return
			}
		}
	})
	return nil
}

// Addr returns the listener's address, "ip:port".
func (l *memListener) Addr() net.Addr { return l.addr }
