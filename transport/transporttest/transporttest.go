// Package transporttest is the conformance suite every p2pstream Transport
// must pass.
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

// Transport is the interface under test (the same as p2pstream.Transport).
type Transport interface {
	Dial(ctx context.Context, addr string) (net.Conn, error)
	Listen(addr string) (net.Listener, error)
}

// Setup returns a dialling and a listening transport and an address the
// listening one may listen on (port 0 for a free port).
type Setup func(t *testing.T) (dialer, listener Transport, listenAddr string)

// Run runs the conformance suite.
func Run(t *testing.T, setup Setup) {
	tests := []struct {
		name string
		f    func(t *testing.T, d, l Transport, addr string)
	}{
		{"Echo", testEcho},
		{"LargeTransfer", testLarge},
		{"Concurrent", testConcurrent},
		{"CloseGivesEOF", testCloseEOF},
		{"Refused", testRefused},
		{"ListenerClose", testListenerClose},
		{"ReadDeadline", testReadDeadline},
		{"DialContextCanceled", testDialCanceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, l, addr := setup(t)
			tt.f(t, d, l, addr)
		})
	}
}

// pair returns both ends of one connection.
func pair(t *testing.T, d, l Transport, addr string) (client, server net.Conn) {
	t.Helper()
	ln, err := l.Listen(addr)
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			accepted <- c
		}
		close(accepted)
	}()
	client, err = d.Dial(context.Background(), ln.Addr().String())
	require.NoError(t, err)
	server = <-accepted
	require.NotNil(t, server)
	t.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}

func testEcho(t *testing.T, d, l Transport, addr string) {
	c, s := pair(t, d, l, addr)
	go io.Copy(s, s)
	msg := []byte("hello, peer")
	_, err := c.Write(msg)
	require.NoError(t, err)
	got := make([]byte, len(msg))
	_, err = io.ReadFull(c, got)
	require.NoError(t, err)
	assert.Equal(t, msg, got)
	assert.NotEmpty(t, c.LocalAddr().String())
	assert.Equal(t, s.LocalAddr().String(), c.RemoteAddr().String())
}

func testLarge(t *testing.T, d, l Transport, addr string) {
	c, s := pair(t, d, l, addr)
	data := make([]byte, 8<<20)
	_, _ = rand.NewChaCha8([32]byte{1}).Read(data)
	go func() {
		_, _ = c.Write(data)
		c.Close()
	}()
	h := sha256.New()
	n, err := io.Copy(h, s)
	require.NoError(t, err)
	assert.Equal(t, int64(len(data)), n)
	assert.Equal(t, sha256.Sum256(data), [32]byte(h.Sum(nil)))
}

func testConcurrent(t *testing.T, d, l Transport, addr string) {
	ln, err := l.Listen(addr)
	require.NoError(t, err)
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := d.Dial(context.Background(), ln.Addr().String())
			if !assert.NoError(t, err) {
				return
			}
			defer c.Close()
			msg := bytes.Repeat([]byte{byte(i)}, 100_000)
			go c.Write(msg)
			got := make([]byte, len(msg))
			_, err = io.ReadFull(c, got)
			assert.NoError(t, err)
			assert.Equal(t, msg, got)
		}()
	}
	wg.Wait()
}

func testCloseEOF(t *testing.T, d, l Transport, addr string) {
	c, s := pair(t, d, l, addr)
	_, err := c.Write([]byte("last words"))
	require.NoError(t, err)
	require.NoError(t, c.Close())
	got, err := io.ReadAll(s)
	require.NoError(t, err)
	assert.Equal(t, "last words", string(got))
}

func testRefused(t *testing.T, d, l Transport, addr string) {
	ln, err := l.Listen(addr)
	require.NoError(t, err)
	a := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err = d.Dial(ctx, a)
	require.Error(t, err)
}

func testListenerClose(t *testing.T, d, l Transport, addr string) {
	ln, err := l.Listen(addr)
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() {
		_, err := ln.Accept()
		done <- err
	}()
	ln.Close()
	require.ErrorIs(t, <-done, net.ErrClosed)
}

func testReadDeadline(t *testing.T, d, l Transport, addr string) {
	c, _ := pair(t, d, l, addr)
	require.NoError(t, c.SetReadDeadline(time.Now().Add(20*time.Millisecond)))
	_, err := c.Read(make([]byte, 1))
	require.ErrorIs(t, err, os.ErrDeadlineExceeded)
	var ne net.Error
	require.True(t, errors.As(err, &ne) && ne.Timeout())
}

func testDialCanceled(t *testing.T, d, l Transport, addr string) {
	ln, err := l.Listen(addr)
	require.NoError(t, err)
	defer ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = d.Dial(ctx, ln.Addr().String())
	require.Error(t, err)
}
