package p2pstream_test

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"log"
	"net"

	"github.com/p2pstream/p2pstream"
)

// A tracker serves on a listener until it is closed. A publisher announces
// its stream with the stream's info; a viewer's announce gets the info back
// and the publisher's address: the host the publisher's announce came from,
// with the port it announced.
func ExampleTracker() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	tracker := &p2pstream.Tracker{}
	served := make(chan error, 1)
	go func() { served <- tracker.Serve(ln) }()

	tc := &p2pstream.TrackerClient{URL: "http://" + ln.Addr().String()}
	defer tc.Close()
	ctx := context.Background()

	// A live stream's ID is its publisher's public key; only the
	// publisher, holding the private key, can describe the stream.
	// (A fixed key keeps the output below the same; Publish makes a new
	// one with ed25519.GenerateKey.)
	key := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	var id p2pstream.StreamID
	copy(id[:], key.Public().(ed25519.PublicKey))
	info := p2pstream.StreamInfo{ID: id, Kind: p2pstream.KindLive, Name: "demo"}
	publisher := p2pstream.Announce{Stream: id, Peer: p2pstream.PeerID{1}, Addr: "0.0.0.0:6000", Info: &info}
	publisher.SignInfo(key)
	if _, err := tc.Announce(ctx, publisher); err != nil {
		log.Fatal(err)
	}
	viewer := p2pstream.Announce{Stream: id, Peer: p2pstream.PeerID{2}, Addr: "0.0.0.0:6001"}
	resp, err := tc.Announce(ctx, viewer)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("viewer learns:", resp.Info.Name, resp.Info.Kind)
	for _, p := range resp.Peers {
		fmt.Println("peer:", p.Addr, "source:", p.Source)
	}

	streams, err := tc.Streams(ctx)
	if err != nil {
		log.Fatal(err)
	}
	for _, s := range streams {
		fmt.Printf("stream %s %q: %d peers, %d viewers\n", s.Info.ID.Short(), s.Info.Name, s.Peers, s.Viewers)
	}

	tracker.Close()
	fmt.Println(<-served)
	// Output:
	// viewer learns: demo live
	// peer: 127.0.0.1:6000 source: true
	// stream 3b6a27bc "demo": 2 peers, 1 viewers
	// p2pstream: tracker closed
}
