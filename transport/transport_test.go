package transport_test

import (
	"context"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/p2pstream/p2pstream/transport"
	"github.com/p2pstream/p2pstream/transport/transporttest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestTCP(t *testing.T) {
	transporttest.Run(t, func(t *testing.T) (transporttest.Transport, transporttest.Transport, string) {
		return transport.TCP{}, transport.TCP{}, "127.0.0.1:0"
	})
}

func TestMem(t *testing.T) {
	transporttest.Run(t, func(t *testing.T) (transporttest.Transport, transporttest.Transport, string) {
		m := transport.NewMem()
		t.Cleanup(func() { m.Close() })
		return m.Host("10.0.0.1"), m.Host("10.0.0.2"), ":0"
	})
}

func TestMemShaped(t *testing.T) {
	transporttest.Run(t, func(t *testing.T) (transporttest.Transport, transporttest.Transport, string) {
		m := transport.NewMem()
		t.Cleanup(func() { m.Close() })
		m.SetDefaultLink(transport.Link{Latency: time.Millisecond, Jitter: time.Millisecond, Bandwidth: 200 << 20, Loss: 0.01})
		return m.Host("10.0.0.1"), m.Host("10.0.0.2"), ":0"
	})
}

// transfer sends n bytes from a to b's listener and returns how long it took.
func transfer(t *testing.T, from, to *transport.MemHost, n int) time.Duration {
	t.Helper()
	ln, err := to.Listen(":0")
	require.NoError(t, err)
	defer ln.Close()
	got := make(chan int64, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- 0
			return
		}
		k, _ := io.Copy(io.Discard, c)
		got <- k
	}()
	start := time.Now()
	c, err := from.Dial(context.Background(), ln.Addr().String())
	require.NoError(t, err)
	_, err = c.Write(make([]byte, n))
	require.NoError(t, err)
	c.Close()
	require.Equal(t, int64(n), <-got)
	return time.Since(start)
}

// Shaping is checked by lower bounds only: a slow machine only makes
// transfers slower, never faster.
func TestMemShaping(t *testing.T) {
	m := transport.NewMem()
	defer m.Close()
	a, b := m.Host("10.0.0.1"), m.Host("10.0.0.2")

	m.SetLink("10.0.0.1", "10.0.0.2", transport.Link{Latency: 50 * time.Millisecond})
	assert.GreaterOrEqual(t, transfer(t, a, b, 1000), 50*time.Millisecond, "latency")

	m.SetLink("10.0.0.1", "10.0.0.2", transport.Link{Bandwidth: 1 << 20})
	assert.GreaterOrEqual(t, transfer(t, a, b, 512<<10), 450*time.Millisecond, "bandwidth: 512 KiB at 1 MiB/s")

	m.SetLink("10.0.0.1", "10.0.0.2", transport.Link{})
	a.SetUpload(1 << 20)
	var wg sync.WaitGroup
	start := time.Now()
	for range 2 { // two connections share the host's upload
		wg.Add(1)
		go func() { defer wg.Done(); transfer(t, a, b, 256<<10) }()
	}
	wg.Wait()
	assert.GreaterOrEqual(t, time.Since(start), 400*time.Millisecond, "upload cap shared: 512 KiB at 1 MiB/s")
}

func TestMemListenErrors(t *testing.T) {
	m := transport.NewMem()
	defer m.Close()
	h := m.Host("10.0.0.1")
	ln, err := h.Listen("10.0.0.1:80")
	require.NoError(t, err)
	defer ln.Close()
	assert.Equal(t, "10.0.0.1:80", ln.Addr().String())
	assert.Equal(t, "mem", ln.Addr().Network())
	_, err = h.Listen(":80")
	assert.ErrorContains(t, err, "in use")
	_, err = h.Listen("10.9.9.9:81")
	assert.Error(t, err)
	_, err = h.Listen("nonsense")
	assert.Error(t, err)
	_, err = h.Dial(context.Background(), "10.0.0.1:81")
	assert.ErrorIs(t, err, transport.ErrRefused)
}
