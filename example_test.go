package p2pstream_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/p2pstream/p2pstream"
	"github.com/p2pstream/p2pstream/internal/ts"
	"github.com/p2pstream/p2pstream/transport"
)

// A broadcaster publishes a live stream and a viewer watches it, over an
// in-memory network. With transport.TCP (the default) it is the same code.
func Example() {
	network := transport.NewMem()
	defer network.Close()
	ln, _ := network.Host("10.0.0.1").Listen(":7070")
	tracker := &p2pstream.Tracker{}
	go tracker.Serve(ln)
	defer tracker.Close()

	// Any MPEG-TS source: a file, ffmpeg's stdout... here 3 s of test data.
	src := ts.Synthetic(3*time.Second, 500_000, 500*time.Millisecond)
	broadcaster := &p2pstream.Peer{Tracker: "http://10.0.0.1:7070", Transport: network.Host("10.0.0.2")}
	defer broadcaster.Close()
	live, err := broadcaster.Publish(context.Background(), bytes.NewReader(src), p2pstream.PublishOptions{ChunkDuration: 500 * time.Millisecond})
	if err != nil {
		panic(err)
	}

	viewer := &p2pstream.Peer{Tracker: "http://10.0.0.1:7070", Transport: network.Host("10.0.0.3")}
	defer viewer.Close()
	var got bytes.Buffer
	stream, err := viewer.Join(context.Background(), live.ID(), p2pstream.WriterSink(&got))
	if err != nil {
		panic(err)
	}
	<-stream.Done() // the broadcaster's source ended
	fmt.Println("viewer got a verified tail of the stream:", got.Len() > 0 && bytes.HasSuffix(src, got.Bytes()))
	// Output: viewer got a verified tail of the stream: true
}

// A file published on demand is read, and seeked, while it downloads.
func ExamplePeer_PublishFile() {
	network := transport.NewMem()
	defer network.Close()
	ln, _ := network.Host("10.0.0.1").Listen(":7070")
	tracker := &p2pstream.Tracker{}
	go tracker.Serve(ln)
	defer tracker.Close()

	seeder := &p2pstream.Peer{Tracker: "http://10.0.0.1:7070", Transport: network.Host("10.0.0.2")}
	defer seeder.Close()
	film, err := seeder.PublishFile(context.Background(), "testdata/hello.txt", p2pstream.PublishOptions{})
	if err != nil {
		panic(err)
	}

	viewer := &p2pstream.Peer{Tracker: "http://10.0.0.1:7070", Transport: network.Host("10.0.0.3")}
	defer viewer.Close()
	stream, err := viewer.Join(context.Background(), film.ID(), nil)
	if err != nil {
		panic(err)
	}
	r, _ := stream.Reader()
	r.Seek(7, io.SeekStart)
	rest, _ := io.ReadAll(r)
	fmt.Printf("%s (%d bytes)\n", bytes.TrimSpace(rest), stream.Info().Size)
	// Output: peer-to-peer world (26 bytes)
}

// An on-demand stream is an http.Handler: a media player opening the URL
// gets the file, and can seek in it (range requests), while it downloads.
func ExampleStream_ServeHTTP() {
	network := transport.NewMem()
	defer network.Close()
	ln, _ := network.Host("10.0.0.1").Listen(":7070")
	tracker := &p2pstream.Tracker{}
	go tracker.Serve(ln)
	defer tracker.Close()

	seeder := &p2pstream.Peer{Tracker: "http://10.0.0.1:7070", Transport: network.Host("10.0.0.2")}
	defer seeder.Close()
	film, err := seeder.PublishFile(context.Background(), "testdata/hello.txt", p2pstream.PublishOptions{})
	if err != nil {
		panic(err)
	}
	viewer := &p2pstream.Peer{Tracker: "http://10.0.0.1:7070", Transport: network.Host("10.0.0.3")}
	defer viewer.Close()
	stream, err := viewer.Join(context.Background(), film.ID(), nil)
	if err != nil {
		panic(err)
	}

	srv := httptest.NewServer(stream) // a player would open srv.URL: vlc http://...
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	req.Header.Set("Range", "bytes=7-")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Printf("%s: %s\n", resp.Status, bytes.TrimSpace(body))
	// Output: 206 Partial Content: peer-to-peer world
}

// A PartSink takes a live chunk's verified bytes as they arrive, in order,
// before the chunk is whole; WriterSink is one. A Stream calls WritePart
// itself: this only shows what a sink is given.
func ExamplePartSink() {
	var out bytes.Buffer
	sink := p2pstream.WriterSink(&out)
	c := p2pstream.Chunk{Seq: 7, Flags: p2pstream.FlagKeyframe}
	_ = sink.WritePart(c, 0, []byte("the first pieces, "))
	_ = sink.WritePart(c, 18, []byte("then the rest"))
	fmt.Println(out.String())
	// Output: the first pieces, then the rest
}
