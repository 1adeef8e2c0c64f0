package transport

import (
	"errors"
	"io"
	"net"
	"sync"
	"time"
)

// memConn is one end of a Mem connection: it reads from in and writes to
// out; the other end has them the other way round.
type memConn struct {
	m             *Mem
	local, remote memAddr
	in, out       *pipe
	once          sync.Once
}

// Read reads data that has arrived, waiting for some. It returns io.EOF once
// the other end has closed (or half-closed) and everything before has been
// read.
func (c *memConn) Read(b []byte) (int, error) {
	n, err := c.in.read(b)
	if err != nil && !errors.Is(err, io.EOF) {
		err = c.opError("read", err)
	}
	return n, err
}

// Write sends b, blocking while the window is full or the uplink busy. It
// fails after Close, CloseWrite, the write deadline, or when the other end
// has closed.
func (c *memConn) Write(b []byte) (int, error) {
	n, err := c.out.write(b)
	if err != nil {
		err = c.opError("write", err)
	}
	return n, err
}

func (c *memConn) opError(op string, err error) error {
	return &net.OpError{Op: op, Net: "mem", Source: c.local, Addr: c.remote, Err: err}
}

// Close closes both directions: the other end reads what was written and
// then io.EOF, and its writes fail. It always returns nil.
func (c *memConn) Close() error {
	c.once.Do(func() {
		c.out.closeWrite()
		c.in.closeRead()
		c.m.mu.Lock()
		delete(c.m.conns, c)
		c.m.mu.Unlock()
	})
	return nil
}

// CloseWrite closes the sending direction only, as *net.TCPConn does: the
// other end reads io.EOF after the data and can still send.
func (c *memConn) CloseWrite() error {
	c.out.closeWrite()
	return nil
}

// LocalAddr returns "ip:port" of this end.
func (c *memConn) LocalAddr() net.Addr { return c.local }

// RemoteAddr returns "ip:port" of the other end.
func (c *memConn) RemoteAddr() net.Addr { return c.remote }

// SetDeadline sets the read and write deadlines.
func (c *memConn) SetDeadline(t time.Time) error {
	c.in.setReadDeadline(t)
	c.out.setWriteDeadline(t)
	return nil
}

// SetReadDeadline makes waiting Reads, and later ones, fail with an error
// wrapping os.ErrDeadlineExceeded once t has passed. Zero means no deadline.
func (c *memConn) SetReadDeadline(t time.Time) error {
	c.in.setReadDeadline(t)
	return nil
}

// SetWriteDeadline does the same for Writes.
func (c *memConn) SetWriteDeadline(t time.Time) error {
	c.out.setWriteDeadline(t)
	return nil
}
