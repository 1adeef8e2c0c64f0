// Package transporttest is the conformance suite every p2pstream Transport
// passes: a transport whose connections behave like TCP ones (ordered,
// reliable, back-pressure, io.EOF on close, deadlines, net.ErrClosed).
//
// Use it from a test of the implementation:
//
//	func TestMyTransport(t *testing.T) {
//		transporttest.Run(t, func(t *testing.T) (transporttest.Transport, transporttest.Transport, string) {
//			return myDialer, myListener, "127.0.0.1:0"
//		})
//	}
package transporttest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Transport is the interface under test, the same as p2pstream.Transport.
type Transport interface {
	Dial(ctx context.Context, addr string) (net.Conn, error)
	Listen(addr string) (net.Listener, error)
}

// Setup returns, for one subtest, a transport to dial from, one to listen
// on (they may be the same), and an address the listener may listen on with
// port 0. It registers any cleanup with t.
type Setup func(t *testing.T) (dialer, listener Transport, listenAddr string)

// env is what one subtest runs against.
type env struct {
	d, l Transport
	addr string
}

// Run runs the conformance suite, each case as a subtest with a fresh Setup.
func Run(t *testing.T, setup Setup) {
	tests := []struct {
		name string
		run  func(t *testing.T, e env)
	}{
		{"Echo", testEcho},
		{"Addrs", testAddrs},
		{"LargeTransfer", testLargeTransfer},
		{"FullDuplex", testFullDuplex},
		{"ConcurrentConns", testConcurrentConns},
		{"CloseGivesEOF", testCloseGivesEOF},
		{"UseAfterClose", testUseAfterClose},
		{"HalfClose", testHalfClose},
		{"WriteToClosedPeer", testWriteToClosedPeer},
		{"Refused", testRefused},
		{"AddressInUse", testAddressInUse},
		{"ListenerClose", testListenerClose},
		{"ReadDeadline", testReadDeadline},
		{"WriteDeadline", testWriteDeadline},
		{"DialCanceled", testDialCanceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, l, addr := setup(t)
			tt.run(t, env{d: d, l: l, addr: addr})
		})
	}
}

// listen listens and closes the listener when the test ends.
func listen(t *testing.T, e env) net.Listener {
	t.Helper()
	ln, err := e.l.Listen(e.addr)
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	return ln
}

// pair returns both ends of one connection, closed when the test ends.
func pair(t *testing.T, e env) (client, server net.Conn) {
	t.Helper()
	ln := listen(t, e)
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	client, err := e.d.Dial(context.Background(), ln.Addr().String())
	if err != nil {
		ln.Close()
		<-accepted
		require.NoError(t, err)
	}
	server = <-accepted
	require.NotNil(t, server, "Accept failed")
	t.Cleanup(func() {
		client.Close()
		server.Close()
	})
	return client, server
}

// serve accepts connections on ln and runs handle on each in its own
// goroutine. When the test ends it closes ln and the connections and waits
// for the goroutines.
func serve(t *testing.T, ln net.Listener, handle func(net.Conn)) {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns []net.Conn
	)
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Go(func() { handle(c) })
		}
	})
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
}

// echo copies what c reads back to it until EOF, then closes it.
func echo(c net.Conn) {
	io.Copy(c, c)
	c.Close()
}

func randomBytes(seed byte, n int) []byte {
	b := make([]byte, n)
	rand.NewChaCha8([32]byte{seed}).Read(b)
	return b
}

func testEcho(t *testing.T, e env) {
	ln := listen(t, e)
	serve(t, ln, echo)
	c, err := e.d.Dial(context.Background(), ln.Addr().String())
	require.NoError(t, err)
	defer c.Close()
	for _, msg := range []string{"hello, peer", "x", string(randomBytes(1, 100_000))} {
		_, err := c.Write([]byte(msg))
		require.NoError(t, err)
		got := make([]byte, len(msg))
		_, err = io.ReadFull(c, got)
		require.NoError(t, err)
		require.Equal(t, msg, string(got))
	}
}

func testAddrs(t *testing.T, e env) {
	c, s := pair(t, e)
	for _, a := range []net.Addr{c.LocalAddr(), c.RemoteAddr(), s.LocalAddr(), s.RemoteAddr()} {
		host, port, err := net.SplitHostPort(a.String())
		require.NoError(t, err, "address %q is not host:port", a)
		assert.NotEmpty(t, host, a.String())
		assert.NotEqual(t, "0", port, a.String())
		assert.NotEmpty(t, a.Network())
	}
	assert.Equal(t, s.LocalAddr().String(), c.RemoteAddr().String(), "the client's remote is the server's local")
	assert.Equal(t, c.LocalAddr().String(), s.RemoteAddr().String(), "the server's remote is the client's local")
}

// testLargeTransfer sends 8 MiB in writes of random sizes, read with
// buffers of random sizes, and compares SHA-256.
func testLargeTransfer(t *testing.T, e env) {
	c, s := pair(t, e)
	data := randomBytes(2, 8<<20)
	written := make(chan error, 1)
	go func() {
		rng := rand.New(rand.NewPCG(1, 2))
		rest := data
		for len(rest) > 0 {
			n := min(len(rest), 1+rng.IntN(200_000))
			if _, err := c.Write(rest[:n]); err != nil {
				written <- err
				return
			}
			rest = rest[n:]
		}
		written <- c.Close()
	}()
	h := sha256.New()
	rng := rand.New(rand.NewPCG(3, 4))
	buf := make([]byte, 100_000)
	var total int
	for {
		n, err := s.Read(buf[:1+rng.IntN(len(buf))])
		h.Write(buf[:n])
		total += n
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
	}
	require.NoError(t, <-written)
	assert.Equal(t, len(data), total)
	assert.Equal(t, sha256.Sum256(data), [32]byte(h.Sum(nil)), "data changed in transit")
}

// testFullDuplex has both ends write 4 MiB at once while reading, which
// deadlocks if a direction's back-pressure blocks the other.
func testFullDuplex(t *testing.T, e env) {
	c, s := pair(t, e)
	var wg sync.WaitGroup
	for i, conn := range []net.Conn{c, s} {
		data := randomBytes(byte(10+i), 4<<20)
		wg.Go(func() {
			_, err := conn.Write(data)
			assert.NoError(t, err)
		})
		wg.Go(func() {
			got := make([]byte, len(data))
			_, err := io.ReadFull(conn, got)
			assert.NoError(t, err)
		})
	}
	wg.Wait()
	// Each end read what the other wrote: check one direction's content.
	data := randomBytes(10, 100)
	_, err := c.Write(data)
	require.NoError(t, err)
	got := make([]byte, len(data))
	_, err = io.ReadFull(s, got)
	require.NoError(t, err)
	assert.Equal(t, data, got)
}

func testConcurrentConns(t *testing.T, e env) {
	ln := listen(t, e)
	serve(t, ln, echo)
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			c, err := e.d.Dial(context.Background(), ln.Addr().String())
			if !assert.NoError(t, err) {
				return
			}
			defer c.Close()
			msg := bytes.Repeat([]byte{byte(i)}, 64<<10)
			sent := make(chan error, 1)
			go func() {
				_, err := c.Write(msg)
				sent <- err
			}()
			got := make([]byte, len(msg))
			_, err = io.ReadFull(c, got)
			assert.NoError(t, err)
			assert.NoError(t, <-sent)
			assert.Equal(t, msg, got, "conn %d", i)
		})
	}
	wg.Wait()
}

func testCloseGivesEOF(t *testing.T, e env) {
	c, s := pair(t, e)
	_, err := c.Write([]byte("last words"))
	require.NoError(t, err)
	require.NoError(t, c.Close())
	got, err := io.ReadAll(s)
	require.NoError(t, err, "ReadAll stops at io.EOF")
	assert.Equal(t, "last words", string(got))
	n, err := s.Read(make([]byte, 10))
	assert.Zero(t, n)
	assert.ErrorIs(t, err, io.EOF, "EOF again")
}

func testUseAfterClose(t *testing.T, e env) {
	c, _ := pair(t, e)
	require.NoError(t, c.Close())
	_, err := c.Read(make([]byte, 1))
	assert.ErrorIs(t, err, net.ErrClosed)
	_, err = c.Write([]byte("x"))
	assert.ErrorIs(t, err, net.ErrClosed)
}

func testHalfClose(t *testing.T, e env) {
	c, s := pair(t, e)
	cw, ok := c.(interface{ CloseWrite() error })
	if !ok {
		t.Skipf("%T has no CloseWrite method", c)
	}
	_, err := c.Write([]byte("question"))
	require.NoError(t, err)
	require.NoError(t, cw.CloseWrite())
	got, err := io.ReadAll(s)
	require.NoError(t, err)
	assert.Equal(t, "question", string(got))
	// The other direction still works.
	_, err = s.Write([]byte("answer"))
	require.NoError(t, err)
	require.NoError(t, s.Close())
	got, err = io.ReadAll(c)
	require.NoError(t, err)
	assert.Equal(t, "answer", string(got))
}

func testWriteToClosedPeer(t *testing.T, e env) {
	c, s := pair(t, e)
	require.NoError(t, c.Close())
	// TCP may accept a write or two before the peer's reset arrives.
	require.Eventually(t, func() bool {
		_, err := s.Write([]byte("anyone there?"))
		return err != nil
	}, 10*time.Second, time.Millisecond)
}

func testRefused(t *testing.T, e env) {
	ln, err := e.l.Listen(e.addr)
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := e.d.Dial(ctx, addr)
	if err == nil {
		c.Close()
	}
	require.Error(t, err)
	assert.NoError(t, ctx.Err(), "refused at once, not by the context")
}

func testAddressInUse(t *testing.T, e env) {
	ln := listen(t, e)
	ln2, err := e.l.Listen(ln.Addr().String())
	if err == nil {
		ln2.Close()
	}
	require.Error(t, err)
}

func testListenerClose(t *testing.T, e env) {
	ln, err := e.l.Listen(e.addr)
	require.NoError(t, err)
	accepted := make(chan error, 1)
	go func() {
		_, err := ln.Accept()
		accepted <- err
	}()
	require.NoError(t, ln.Close())
	require.ErrorIs(t, <-accepted, net.ErrClosed, "a waiting Accept returns")
	_, err = ln.Accept()
	require.ErrorIs(t, err, net.ErrClosed, "a later Accept fails")
}

func testReadDeadline(t *testing.T, e env) {
	c, s := pair(t, e)
	require.NoError(t, c.SetReadDeadline(time.Now().Add(20*time.Millisecond)))
	_, err := c.Read(make([]byte, 1))
	requireTimeout(t, err)

	// A deadline set while a Read waits ends the Read.
	require.NoError(t, c.SetReadDeadline(time.Time{}))
	read := make(chan error, 1)
	go func() {
		_, err := c.Read(make([]byte, 1))
		read <- err
	}()
	require.NoError(t, c.SetReadDeadline(time.Now().Add(-time.Second)))
	requireTimeout(t, <-read)

	// Clearing the deadline makes the connection usable again.
	require.NoError(t, c.SetReadDeadline(time.Time{}))
	_, err = s.Write([]byte("y"))
	require.NoError(t, err)
	b := make([]byte, 1)
	_, err = io.ReadFull(c, b)
	require.NoError(t, err)
	assert.Equal(t, "y", string(b))
}

// testWriteDeadline writes to a peer that does not read until the writes
// block on back-pressure and the deadline ends them.
func testWriteDeadline(t *testing.T, e env) {
	c, _ := pair(t, e)
	require.NoError(t, c.SetWriteDeadline(time.Now().Add(100*time.Millisecond)))
	buf := make([]byte, 64<<10)
	var err error
	for total := 0; err == nil; total += len(buf) {
		// Kernel socket buffers hold a few MiB; far more means no back-pressure.
		require.Less(t, total, 1<<30, "1 GiB written to a peer that does not read")
		_, err = c.Write(buf)
	}
	requireTimeout(t, err)
}

func requireTimeout(t *testing.T, err error) {
	t.Helper()
	require.ErrorIs(t, err, os.ErrDeadlineExceeded)
	var ne net.Error
	require.ErrorAs(t, err, &ne)
	require.True(t, ne.Timeout(), "net.Error.Timeout")
}

func testDialCanceled(t *testing.T, e env) {
	ln := listen(t, e)
	serve(t, ln, func(c net.Conn) { c.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	c, err := e.d.Dial(ctx, ln.Addr().String())
	if err == nil {
		c.Close()
	}
	require.ErrorIs(t, err, context.Canceled)
}
