package transport_test

import (
	"context"
	"io"
	"net"
	"testing"

	"github.com/p2pstream/p2pstream/transport"
	"github.com/p2pstream/p2pstream/transport/transporttest"
)

// BenchmarkThroughput moves data over one connection of each transport, so
// that Mem (unshaped) can be compared with loopback TCP: Mem must not be a
// swarm test's bottleneck.
func BenchmarkThroughput(b *testing.B) {
	tests := []struct {
		name  string
		setup func(b *testing.B) (transporttest.Transport, string)
	}{
		{"TCP", func(b *testing.B) (transporttest.Transport, string) { return transport.TCP{}, "127.0.0.1:0" }},
		{"Mem", func(b *testing.B) (transporttest.Transport, string) {
			m := transport.NewMem()
			b.Cleanup(func() { m.Close() })
			return m, ":0"
		}},
	}
	for _, tt := range tests {
		b.Run(tt.name, func(b *testing.B) {
			tr, addr := tt.setup(b)
			client, server := benchPair(b, tr, addr)
			done := make(chan struct{})
			go func() {
				defer close(done)
				io.Copy(io.Discard, server)
			}()
			block := make([]byte, 32<<10)
			b.SetBytes(int64(len(block)))
			for b.Loop() {
				if _, err := client.Write(block); err != nil {
					b.Fatal(err)
				}
			}
			client.Close()
			<-done
			server.Close()
		})
	}
}

func benchPair(b *testing.B, tr transporttest.Transport, addr string) (client, server net.Conn) {
	ln, err := tr.Listen(addr)
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	client, err = tr.Dial(context.Background(), ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	server = <-accepted
	if server == nil {
		b.Fatal("accept failed")
	}
	return client, server
}
