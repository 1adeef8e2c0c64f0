package p2pstream

import (
	"net/http"
	"sync"
	"sync/atomic"
)

// HTTPSink is a Sink that serves a live stream over HTTP as one endless
// MPEG-TS response per client, so VLC, mpv or ffplay can open it. Any
// number of clients may connect; each starts at the next keyframe chunk and
// has a bounded queue: a client that falls more than 64 chunks behind is
// dropped. The zero value is ready to use. An on-demand stream is served by
// its Stream (Stream.ServeHTTP), with seeking.
type HTTPSink struct {
	mu      sync.Mutex // guards the fields below
	clients map[*httpClient]struct{}
	closed  bool
}

type httpClient struct {
	queue   chan httpWrite
	chunks  atomic.Int32 // chunks begun in the queue
	started bool         // has seen a keyframe chunk; guarded by HTTPSink.mu
}

// httpWrite is a chunk, or a part of one, queued for a client.
type httpWrite struct {
	data  []byte
	start bool // the chunk's first part (or the whole chunk)
}

const (
	// httpClientChunks bounds a client's queue in chunks begun.
	httpClientChunks = 64
	// httpClientQueue bounds it in writes: chunks come in up to a few
	// hundred parts (PartSink).
	httpClientQueue = 8192
)

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
		if off == 0 && cl.chunks.Load() >= httpClientChunks {
			s.dropLocked(cl) // too slow: drop the client rather than stall the stream
			continue
		}
		select {
		case cl.queue <- httpWrite{data: data, start: off == 0}:
			if off == 0 {
				cl.chunks.Add(1)
			}
		default:
			s.dropLocked(cl)
		}
	}
	return nil
}

// dropLocked ends cl's response once its queue is sent.
func (s *HTTPSink) dropLocked(cl *httpClient) {
	close(cl.queue)
	delete(s.clients, cl)
}

// Close ends every response once its queued chunks are sent. It is
// idempotent.
func (s *HTTPSink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	for cl := range s.clients {
		s.dropLocked(cl)
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
	cl := &httpClient{queue: make(chan httpWrite, httpClientQueue)}
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
		case wr, ok := <-cl.queue:
			if !ok {
				return
			}
			if wr.start {
				cl.chunks.Add(-1)
			}
			if _, err := w.Write(wr.data); err != nil {
				return
			}
			_ = rc.Flush()
		case <-r.Context().Done():
			return
		}
	}
}
