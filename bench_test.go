package p2pstream_test

import (
	"context"
	"crypto/sha256"
	"io"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/p2pstream/p2pstream"
)

// BenchmarkVODTransferTCP moves an on-demand file from a seeder to one viewer
// over loopback TCP, verifying every chunk, and reports the rate as a ratio
// to min(io.Copy over loopback TCP, SHA-256), both measured in the same run.
//
//	go test -run '^$' -bench VODTransferTCP -benchtime 5x .
func BenchmarkVODTransferTCP(b *testing.B) {
	const size = 64 << 20
	path, data := randomFile(b, size)

	copyRate := measure(b, func() { loopbackCopy(b, data) }, size)
	shaRate := measure(b, func() { sha256.Sum256(data) }, size)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(b, err)
	tracker := &p2pstream.Tracker{}
	go tracker.Serve(ln)
	defer tracker.Close()
	url := "http://" + ln.Addr().String()
	seederPeer := &p2pstream.Peer{Tracker: url, ListenAddr: "127.0.0.1:0"}
	defer seederPeer.Close()
	seeder, err := seederPeer.PublishFile(context.Background(), path, p2pstream.PublishOptions{ChunkSize: 1 << 20})
	require.NoError(b, err)

	b.SetBytes(size)
	b.ResetTimer()
	var elapsed time.Duration
	for b.Loop() {
		viewer := &p2pstream.Peer{Tracker: url, ListenAddr: "127.0.0.1:0"}
		s, err := viewer.Join(context.Background(), seeder.ID(), nil)
		require.NoError(b, err)
		start := time.Now() // the transfer, not the tracker round trip and handshake
		r, err := s.Reader()
		require.NoError(b, err)
		n, err := io.Copy(io.Discard, r)
		require.NoError(b, err)
		require.Equal(b, int64(size), n)
		elapsed += time.Since(start)
		viewer.Close()
	}
	p2pRate := float64(size) * float64(b.N) / elapsed.Seconds()
	b.ReportMetric(copyRate/1e6, "copy-MB/s")
	b.ReportMetric(shaRate/1e6, "sha256-MB/s")
	b.ReportMetric(p2pRate/1e6, "p2p-MB/s")
	b.ReportMetric(p2pRate/min(copyRate, shaRate), "ratio")
}

// measure returns the rate of f over n bytes, best of three.
func measure(b *testing.B, f func(), n int) float64 {
	best := 0.0
	for range 3 {
		start := time.Now()
		f()
		best = max(best, float64(n)/time.Since(start).Seconds())
	}
	return best
}

// loopbackCopy sends data through a loopback TCP connection with io.Copy.
func loopbackCopy(b *testing.B, data []byte) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(b, err)
	defer ln.Close()
	done := make(chan int64)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- 0
			return
		}
		n, _ := io.Copy(io.Discard, c)
		c.Close()
		done <- n
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(b, err)
	_, err = c.Write(data)
	require.NoError(b, err)
	c.Close()
	require.Equal(b, int64(len(data)), <-done)
}
