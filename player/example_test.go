package player_test

import (
	"context"
	"log"

	"github.com/p2pstream/p2pstream"
	"github.com/p2pstream/p2pstream/player"
)

// A viewer: join a live stream and play it in a window. Run it from main:
// the window needs the main goroutine, and a display.
func Example() {
	ctx := context.Background()
	p, err := player.New(player.Options{Overlay: true})
	if err != nil {
		log.Fatal(err) // libVLC is not installed
	}
	defer p.Close()

	peer := &p2pstream.Peer{Tracker: "http://127.0.0.1:7070"}
	defer peer.Close()
	var id p2pstream.StreamID // from the tracker, e.g. TrackerClient.Streams
	stream, err := peer.Join(ctx, id, p.Sink())
	if err != nil {
		log.Fatal(err)
	}
	defer stream.Close()

	if err := p.Run(ctx, "p2pstream"); err != nil { // until the window closes
		log.Fatal(err)
	}
}
