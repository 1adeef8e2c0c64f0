package p2pstream_test

import (
	"context"
	"crypto/sha256"
	"io"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/p2pstream/p2pstream"
)

// BenchmarkVODTransferTCP moves an on-demand file from a seeder to one viewer
// over loopback TCP, verifying every chunk, and reports the rate as a ratio
// to min(io.Copy over loopback TCP, SHA-256), both measured in the same run.
// It also reports the ratio to the bare pipeline (pipe-ratio): the same
// file read in 1 MiB chunks, sent over loopback TCP, read into recycled
// buffers and hashed beside the reading goroutine, with no protocol and no
// download file at all. On two cores the copies and the hash compete for
// them, so the bare pipeline is slower than either alone.
//
//	go test -run '^$' -bench VODTransferTCP -benchtime 5x .
func BenchmarkVODTransferTCP(b *testing.B) {
	const size = 64 << 20
	path, data := randomFile(b, size)

	copyRate := measure(b, func() { loopbackCopy(b, data) }, size)
	shaRate := measure(b, func() { sha256.Sum256(data) }, size)
	pipeRate := measure(b, func() { barePipeline(b, path, size, 1<<20) }, size)

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
	b.ReportMetric(pipeRate/1e6, "pipe-MB/s")
	b.ReportMetric(p2pRate/min(copyRate, shaRate), "ratio")
	b.ReportMetric(p2pRate/pipeRate, "pipe-ratio")
}

// barePipeline sends size bytes of the file at path over loopback TCP in
// chunks, as a seeder does (ReadAt into a reused buffer, Write), and, as a
// viewer does, reads each chunk into a recycled buffer and hashes it with
// SHA-256 in one of two other goroutines. It is the transfer without the
// protocol (and without the viewer's copy of each chunk into its file).
func barePipeline(b *testing.B, path string, size, chunk int) {
	f, err := os.Open(path)
	require.NoError(b, err)
	defer f.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(b, err)
	defer ln.Close()
	sent := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			sent <- err
			return
		}
		defer c.Close()
		buf := make([]byte, chunk)
		for off := 0; off < size && err == nil; off += chunk {
			n := min(chunk, size-off)
			if _, err = f.ReadAt(buf[:n], int64(off)); err == nil {
				_, err = c.Write(buf[:n])
			}
		}
		sent <- err
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(b, err)
	defer c.Close()
	const buffers = 6 // 4 queued, 2 being hashed
	free := make(chan []byte, buffers)
	for range buffers {
		free <- make([]byte, chunk)
	}
	chunks := make(chan []byte, 4)
	var hashers sync.WaitGroup
	for range 2 {
		hashers.Go(func() {
			for p := range chunks {
				sha256.Sum256(p)
				free <- p[:cap(p)]
			}
		})
	}
	for got := 0; got < size; {
		p := (<-free)[:min(chunk, size-got)]
		_, err := io.ReadFull(c, p)
		require.NoError(b, err)
		chunks <- p
		got += len(p)
	}
	close(chunks)
	hashers.Wait()
	require.NoError(b, <-sent)
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
