package transport_test

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/p2pstream/p2pstream/transport"
)

// A Mem network with a slow link: two hosts, 40 ms apart, the viewer's
// upload capped at 1 Mbit/s.
func ExampleMem() {
	network := transport.NewMem()
	defer network.Close()
	network.SetLink("10.0.0.1", "10.0.0.2", transport.Link{Latency: 40 * time.Millisecond})
	server, viewer := network.Host("10.0.0.1"), network.Host("10.0.0.2")
	viewer.SetUpload(1e6 / 8)

	ln, err := server.Listen(":7070")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		io.Copy(c, c) // echo
	}()

	start := time.Now()
	c, err := viewer.Dial(context.Background(), "10.0.0.1:7070")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	fmt.Println(c.LocalAddr(), "->", c.RemoteAddr())
	c.Write([]byte("hello"))
	reply := make([]byte, 5)
	io.ReadFull(c, reply)
	fmt.Println(string(reply), "after at least two round trips:", time.Since(start) >= 160*time.Millisecond)

	_, err = viewer.Dial(context.Background(), "10.0.0.1:9999")
	fmt.Println(err)
	// Output:
	// 10.0.0.2:49152 -> 10.0.0.1:7070
	// hello after at least two round trips: true
	// dial mem 10.0.0.1:9999: transport: connection refused
}
