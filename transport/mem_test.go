package transport_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/p2pstream/p2pstream/transport"
)

// The tests of shaping run in synctest bubbles: time is fake, so delays are
// exact and the tests take no real time.

// sink listens on h and reads every connection to the end. For each it
// sends when the reading ended (since start) and the SHA-256 of the bytes.
type sink struct {
	ln    net.Listener
	start time.Time
	done  chan result
	wg    sync.WaitGroup
}

type result struct {
	elapsed time.Duration
	n       int64
	sum     [32]byte
}

func newSink(t *testing.T, h *transport.MemHost) *sink {
	ln, err := h.Listen(":0")
	require.NoError(t, err)
	s := &sink{ln: ln, start: time.Now(), done: make(chan result, 16)}
	s.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.wg.Go(func() {
				defer c.Close()
				hash := sha256.New()
				n, err := io.Copy(hash, c)
				assert.NoError(t, err)
				s.done <- result{elapsed: time.Since(s.start), n: n, sum: [32]byte(hash.Sum(nil))}
			})
		}
	})
	t.Cleanup(func() {
		ln.Close()
		s.wg.Wait()
	})
	return s
}

func (s *sink) addr() string { return s.ln.Addr().String() }

// send dials addr from h, writes data and closes.
func send(t *testing.T, h *transport.MemHost, addr string, data []byte) {
	c, err := h.Dial(context.Background(), addr)
	if !assert.NoError(t, err) {
		return
	}
	_, err = c.Write(data)
	assert.NoError(t, err)
	assert.NoError(t, c.Close())
}

func randomData(n int) []byte {
	b := make([]byte, n)
	rand.NewChaCha8([32]byte{7}).Read(b)
	return b
}

func TestMemLatency(t *testing.T) {
	tests := []struct {
		name    string
		latency time.Duration
	}{
		{"none", 0},
		{"1ms", time.Millisecond},
		{"80ms", 80 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				m := transport.NewMem()
				defer m.Close()
				m.SetLink("10.0.0.1", "10.0.0.2", transport.Link{Latency: tt.latency})
				ln, err := m.Host("10.0.0.2").Listen(":80")
				require.NoError(t, err)
				defer ln.Close()

				start := time.Now()
				c, err := m.Host("10.0.0.1").Dial(context.Background(), "10.0.0.2:80")
				require.NoError(t, err)
				defer c.Close()
				assert.Equal(t, 2*tt.latency, time.Since(start), "Dial takes a round trip")
				s, err := ln.Accept()
				require.NoError(t, err)
				defer s.Close()

				for _, pair := range [][2]net.Conn{{c, s}, {s, c}} {
					start := time.Now()
					_, err = pair[0].Write([]byte("ping"))
					require.NoError(t, err)
					b := make([]byte, 4)
					_, err = io.ReadFull(pair[1], b)
					require.NoError(t, err)
					assert.Equal(t, tt.latency, time.Since(start), "one way")
				}
			})
		})
	}
}

func TestMemBandwidth(t *testing.T) {
	const rate = 1 << 20
	tests := []struct {
		name string
		size int
	}{
		{"1MiB", 1 << 20},
		{"3MiB", 3 << 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				m := transport.NewMem()
				defer m.Close()
				m.SetDefaultLink(transport.Link{Bandwidth: rate})
				s := newSink(t, m.Host("10.0.0.2"))
				data := randomData(tt.size)
				send(t, m.Host("10.0.0.1"), s.addr(), data)
				r := <-s.done
				assert.Equal(t, sha256.Sum256(data), r.sum)
				// An idle line lets one segment (16 KiB) through at once.
				want := time.Duration(tt.size-16<<10) * time.Second / rate
				assert.GreaterOrEqual(t, r.elapsed, want)
				assert.LessOrEqual(t, r.elapsed, want+time.Millisecond)
			})
		})
	}
}

// TestMemLinkSharedBandwidth checks that connections between the same two
// hosts share the link's bandwidth.
func TestMemLinkSharedBandwidth(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := transport.NewMem()
		defer m.Close()
		m.SetLink("10.0.0.1", "10.0.0.2", transport.Link{Bandwidth: 1 << 20})
		s := newSink(t, m.Host("10.0.0.2"))
		var wg sync.WaitGroup
		for range 2 {
			wg.Go(func() { send(t, m.Host("10.0.0.1"), s.addr(), make([]byte, 512<<10)) })
		}
		wg.Wait()
		last := max((<-s.done).elapsed, (<-s.done).elapsed)
		assert.GreaterOrEqual(t, last, time.Second-16*time.Millisecond, "1 MiB at 1 MiB/s")
	})
}

func TestMemLoss(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := transport.NewMem()
		defer m.Close()
		link := transport.Link{Latency: 10 * time.Millisecond, Jitter: 5 * time.Millisecond, Loss: 0.2}
		m.SetDefaultLink(link)
		s := newSink(t, m.Host("10.0.0.2"))
		data := randomData(2 << 20)
		send(t, m.Host("10.0.0.1"), s.addr(), data)
		r := <-s.done
		assert.Equal(t, int64(len(data)), r.n)
		assert.Equal(t, sha256.Sum256(data), r.sum, "every byte, in order")
		// 128 segments at 20% loss: some are retransmitted, 200 ms each.
		assert.GreaterOrEqual(t, r.elapsed, 200*time.Millisecond)
	})
}

// TestMemUploadShared sends from one capped host to two others at once: the
// connections share the uplink fairly and together get its capacity.
func TestMemUploadShared(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := transport.NewMem()
		defer m.Close()
		src := m.Host("10.0.0.1")
		src.SetUpload(1 << 20)
		sinks := []*sink{newSink(t, m.Host("10.0.0.2")), newSink(t, m.Host("10.0.0.3"))}
		var wg sync.WaitGroup
		for _, s := range sinks {
			wg.Go(func() { send(t, src, s.addr(), make([]byte, 512<<10)) })
		}
		wg.Wait()
		for _, s := range sinks {
			// Alone, 512 KiB would take 0.5 s; sharing turns, both end
			// within a few segments of 1 s.
			r := <-s.done
			assert.GreaterOrEqual(t, r.elapsed, 900*time.Millisecond)
			assert.LessOrEqual(t, r.elapsed, time.Second)
		}
		assert.Equal(t, int64(1<<20), src.Stats().Sent)
		assert.Equal(t, int64(512<<10), m.Host("10.0.0.2").Stats().Received)
	})
}

func TestMemDownload(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := transport.NewMem()
		defer m.Close()
		dst := m.Host("10.0.0.9")
		dst.SetDownload(1 << 20)
		s := newSink(t, dst)
		var wg sync.WaitGroup
		for _, ip := range []string{"10.0.0.1", "10.0.0.2"} {
			wg.Go(func() { send(t, m.Host(ip), s.addr(), make([]byte, 512<<10)) })
		}
		wg.Wait()
		last := max((<-s.done).elapsed, (<-s.done).elapsed)
		assert.InDelta(t, time.Second, last, float64(40*time.Millisecond), "1 MiB at 1 MiB/s")
	})
}

// TestMemWindow checks that a writer to a reader that does not read stops
// with exactly MemWindow bytes in flight, and goes on when it reads.
func TestMemWindow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := transport.NewMem()
		defer m.Close()
		ln, err := m.Host("10.0.0.2").Listen(":80")
		require.NoError(t, err)
		c, err := m.Host("10.0.0.1").Dial(context.Background(), "10.0.0.2:80")
		require.NoError(t, err)
		s, err := ln.Accept()
		require.NoError(t, err)

		var written atomic.Int64
		done := make(chan struct{})
		go func() {
			defer close(done)
			for {
				n, err := c.Write(make([]byte, 1000))
				written.Add(int64(n))
				if err != nil {
					return
				}
			}
		}()
		synctest.Wait()
		assert.Equal(t, int64(transport.MemWindow/1000*1000), written.Load())

		_, err = io.ReadFull(s, make([]byte, 10_000))
		require.NoError(t, err)
		synctest.Wait()
		assert.Equal(t, int64((transport.MemWindow+10_000)/1000*1000), written.Load())

		require.NoError(t, s.Close())
		<-done
		require.NoError(t, c.Close())
		require.NoError(t, ln.Close())
	})
}

func TestMemWriteToClosedPeer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := transport.NewMem()
		defer m.Close()
		ln, err := m.Host("10.0.0.2").Listen(":80")
		require.NoError(t, err)
		c, err := m.Host("10.0.0.1").Dial(context.Background(), "10.0.0.2:80")
		require.NoError(t, err)
		s, err := ln.Accept()
		require.NoError(t, err)

		wrote := make(chan error, 1)
		go func() {
			_, err := c.Write(make([]byte, 2*transport.MemWindow))
			wrote <- err
		}()
		synctest.Wait()
		require.NoError(t, s.Close())
		err = <-wrote
		require.Error(t, err, "a Write blocked on the window fails when the reader closes")
		assert.NotErrorIs(t, err, net.ErrClosed, "our end is still open")
		require.NoError(t, c.Close())
	})
}

func TestMemDialCanceledDuringHandshake(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := transport.NewMem()
		defer m.Close()
		m.SetDefaultLink(transport.Link{Latency: time.Second})
		ln, err := m.Host("10.0.0.2").Listen(":80")
		require.NoError(t, err)
		defer ln.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err = m.Host("10.0.0.1").Dial(ctx, "10.0.0.2:80")
		require.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Equal(t, 500*time.Millisecond, time.Since(start))
	})
}

func TestMemAddrs(t *testing.T) {
	m := transport.NewMem()
	defer m.Close()
	ln, err := m.Host("10.0.0.2").Listen("0.0.0.0:7070")
	require.NoError(t, err)
	defer ln.Close()
	assert.Equal(t, "10.0.0.2:7070", ln.Addr().String())
	assert.Equal(t, "mem", ln.Addr().Network())

	c, err := m.Host("10.0.0.1").Dial(context.Background(), "10.0.0.2:7070")
	require.NoError(t, err)
	defer c.Close()
	s, err := ln.Accept()
	require.NoError(t, err)
	defer s.Close()
	assert.Equal(t, "10.0.0.1:49152", c.LocalAddr().String(), "first ephemeral port")
	assert.Equal(t, "10.0.0.2:7070", c.RemoteAddr().String())
	assert.Equal(t, "10.0.0.2:7070", s.LocalAddr().String())
	assert.Equal(t, "10.0.0.1:49152", s.RemoteAddr().String())
	assert.Equal(t, "mem", c.LocalAddr().Network())

	ln0, err := m.Listen(":0")
	require.NoError(t, err)
	defer ln0.Close()
	assert.Equal(t, "127.0.0.1:49152", ln0.Addr().String(), "Mem itself is host 127.0.0.1")

	v6, err := m.Host("fd00::1").Listen("[::]:80")
	require.NoError(t, err)
	defer v6.Close()
	assert.Equal(t, "[fd00::1]:80", v6.Addr().String())
}

func TestMemErrors(t *testing.T) {
	m := transport.NewMem()
	defer m.Close()
	h := m.Host("10.0.0.1")
	ln, err := h.Listen(":80")
	require.NoError(t, err)
	defer ln.Close()

	tests := []struct {
		name    string
		op      func() error
		is      error
		message string
	}{
		{"listen in use", func() error { _, err := h.Listen("10.0.0.1:80"); return err }, nil, "already in use"},
		{"listen other host's ip", func() error { _, err := h.Listen("10.0.0.2:81"); return err }, nil, "not an address of host"},
		{"listen no port", func() error { _, err := h.Listen("10.0.0.1"); return err }, nil, "missing port"},
		{"listen bad port", func() error { _, err := h.Listen(":99999"); return err }, nil, "bad port"},
		{"dial refused", func() error { _, err := h.Dial(context.Background(), "10.0.0.2:80"); return err }, transport.ErrRefused, "10.0.0.2:80"},
		{"dial bad address", func() error { _, err := h.Dial(context.Background(), "10.0.0.2"); return err }, nil, "missing port"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.op()
			require.Error(t, err)
			var op *net.OpError
			assert.ErrorAs(t, err, &op, "errors are *net.OpError, as with TCP")
			if tt.is != nil {
				assert.ErrorIs(t, err, tt.is)
			}
			assert.ErrorContains(t, err, tt.message)
		})
	}
}

func TestMemClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := transport.NewMem()
		ln, err := m.Host("10.0.0.2").Listen(":80")
		require.NoError(t, err)
		c, err := m.Host("10.0.0.1").Dial(context.Background(), "10.0.0.2:80")
		require.NoError(t, err)
		read := make(chan error, 1)
		go func() {
			_, err := c.Read(make([]byte, 1))
			read <- err
		}()
		accepted := make(chan error, 1)
		go func() {
			s, err := ln.Accept() // the connection from the backlog
			if err == nil {
				_, err = ln.Accept()
				s.Close()
			}
			accepted <- err
		}()
		synctest.Wait()

		require.NoError(t, m.Close())
		assert.ErrorIs(t, <-read, net.ErrClosed)
		assert.ErrorIs(t, <-accepted, net.ErrClosed)
		_, err = m.Host("10.0.0.1").Dial(context.Background(), "10.0.0.2:80")
		assert.ErrorIs(t, err, net.ErrClosed)
		_, err = m.Host("10.0.0.2").Listen(":81")
		assert.ErrorIs(t, err, net.ErrClosed)
	})
}

// TestMemNoGoroutines checks that connections, even shaped and with data in
// flight, cost no goroutines.
func TestMemNoGoroutines(t *testing.T) {
	m := transport.NewMem()
	defer m.Close()
	// Dial is immediate (no latency); the data waits for bandwidth and jitter.
	m.SetDefaultLink(transport.Link{Bandwidth: 1 << 20, Jitter: time.Hour})
	ln, err := m.Host("10.0.0.1").Listen(":80")
	require.NoError(t, err)
	before := runtime.NumGoroutine()
	for range 100 {
		c, err := m.Host("10.0.0.2").Dial(context.Background(), "10.0.0.1:80")
		require.NoError(t, err)
		_, err = c.Write(make([]byte, 100_000))
		require.NoError(t, err)
	}
	// At most as many: a goroutine left by an earlier test may end meanwhile.
	assert.LessOrEqual(t, runtime.NumGoroutine(), before, "100 shaped connections started goroutines")
	require.NoError(t, ln.Close()) // closes the 100 waiting in the backlog
}

// TestMemSetLinkOpenConns checks that links apply to open connections and
// that SetDefaultLink leaves links set by SetLink alone.
func TestMemSetLinkOpenConns(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := transport.NewMem()
		defer m.Close()
		ln, err := m.Host("10.0.0.2").Listen(":80")
		require.NoError(t, err)
		defer ln.Close()
		c, err := m.Host("10.0.0.1").Dial(context.Background(), "10.0.0.2:80")
		require.NoError(t, err)
		defer c.Close()
		s, err := ln.Accept()
		require.NoError(t, err)
		defer s.Close()
		oneWay := func() time.Duration {
			start := time.Now()
			_, err := c.Write([]byte("x"))
			require.NoError(t, err)
			_, err = s.Read(make([]byte, 1))
			require.NoError(t, err)
			return time.Since(start)
		}

		m.SetLink("10.0.0.1", "10.0.0.2", transport.Link{Latency: 30 * time.Millisecond})
		assert.Equal(t, 30*time.Millisecond, oneWay())
		m.SetDefaultLink(transport.Link{Latency: time.Second})
		assert.Equal(t, 30*time.Millisecond, oneWay(), "SetLink wins over the default")
	})
}

func TestMemZeroLength(t *testing.T) {
	m := transport.NewMem()
	defer m.Close()
	ln, err := m.Listen(":1")
	require.NoError(t, err)
	defer ln.Close()
	c, err := m.Dial(context.Background(), "127.0.0.1:1")
	require.NoError(t, err)
	n, err := c.Write(nil)
	assert.Zero(t, n)
	assert.NoError(t, err)
	n, err = c.Read(nil)
	assert.Zero(t, n)
	assert.NoError(t, err)
	require.NoError(t, c.Close())
	_, err = c.Write(nil)
	assert.True(t, errors.Is(err, net.ErrClosed))
}

// TestMemWriteSizes writes one message of each size around the segment
// buffers' classes, on one connection, and reads them back byte for byte:
// recycled buffers must never mix one write's bytes with another's.
func TestMemWriteSizes(t *testing.T) {
	m := transport.NewMem()
	defer m.Close()
	s := newSink(t, m.Host("10.0.0.2"))
	var all []byte
	c, err := m.Host("10.0.0.1").Dial(context.Background(), s.addr())
	require.NoError(t, err)
	for i, n := range []int{1, 255, 256, 1 << 10, 1<<10 + 1, 4 << 10, 4<<10 + 1, 8 << 10, 8<<10 + 1, 16 << 10, 16<<10 + 1, 40000} {
		b := randomData(n)
		b[0] = byte(i) // each write differs from the one of the same size before
		_, err := c.Write(b)
		require.NoError(t, err, "write of %d bytes", n)
		all = append(all, b...)
	}
	require.NoError(t, c.Close())
	r := <-s.done
	assert.Equal(t, int64(len(all)), r.n)
	assert.Equal(t, sha256.Sum256(all), r.sum)
}
