package p2pstream

import (
	"net/http"
	"sync"
)

// HTTPSink is a Sink that serves a live stream over HTTP as one endless
// MPEG-TS response per client, so VLC, mpv or ffplay can open it. Any
// number of clients may connect; each starts at the next keyframe chunk and
// has a bounded queue: a client that falls more than 1,024 writes behind
// (64 chunks handed over in 16 parts each: PartSink) is dropped. The zero value is ready to use. An on-demand stream is served by
// its Stream (Stream.ServeHTTP), with seeking.
type HTTPSink struct {
	mu      sync.Mutex // guards the fields below
	clients map[*httpClient]struct{}
	closed  bool
}

type httpClient struct {
	queue   chan []byte
	started bool // has seen a keyframe chunk; guarded by HTTPSink.mu
}

// httpClientQueue bounds a client's queue, in writes: 64 chunks that came
// in 16 parts each.
const httpClientQueue = 1024

// WriteChunk queues c for every connected client.
func (s *HTTPSink) WriteChunk(c Chunk) error { return s.WritePart(c, 0, c.Data) }

// WritePart queues data, part of live chunk c from offset off, for every
// connected client (PartSink).
func (s *HTTPSink) WritePart(c Chunk, off int, data []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	for cl := range s.clients {
		if !cl.started && (off != 0 || !c.Keyframe()) {
			continue
		}
		cl.started = true
		select {
		case cl.queue <- data:
		default: // too slow: drop the client rather than stall the stream
			close(cl.queue)
			delete(s.clients, cl)
		}
	}
	return nil
}

// Close ends every response once its queued chunks are sent. It is
// idempotent.
func (s *HTTPSink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	for cl := range s.clients {
		close(cl.queue)
		delete(s.clients, cl)
	}
	return nil
}

// Clients returns the number of connected clients.
func (s *HTTPSink) Clients() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.clients)
}

// ServeHTTP streams chunks to the client until it disconnects or the sink
// closes.
func (s *HTTPSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	cl := &httpClient{queue: make(chan []byte, httpClientQueue)}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		http.Error(w, "stream ended", http.StatusGone)
		return
	}
	if s.clients == nil {
		s.clients = make(map[*httpClient]struct{})
	}
	s.clients[cl] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.clients, cl) // no-op if WriteChunk or Close removed it
		s.mu.Unlock()
	}()

	w.Header().Set("Content-Type", "video/mp2t")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	_ = rc.Flush()
	for {
		select {
		case data, ok := <-cl.queue:
			if !ok {
				return
			}
			if _, err := w.Write(data); err != nil {
				return
			}
			_ = rc.Flush()
		case <-r.Context().Done():
			return
		}
	}
}
