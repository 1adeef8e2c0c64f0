package p2pstream

import (
	"io"
	"sync"
)

// Sink receives a stream's chunks in sequence order, from one goroutine. For
// a live stream a chunk that missed its deadline is skipped (Chunk.Seq shows
// the gap). A Sink must not modify c.Data. Close is called once, when the
// stream ends or is closed.
type Sink interface {
	WriteChunk(c Chunk) error
	Close() error
}

// SinkFunc adapts a function to a Sink whose Close does nothing.
type SinkFunc func(c Chunk) error

// WriteChunk calls f(c).
func (f SinkFunc) WriteChunk(c Chunk) error { return f(c) }

// Close does nothing.
func (f SinkFunc) Close() error { return nil }

// WriterSink returns a Sink that writes each chunk's data to w, such as a
// file, os.Stdout or an io.PipeWriter. Its Close closes w if w is an
// io.Closer; Close is idempotent.
func WriterSink(w io.Writer) Sink { return &writerSink{w: w} }

type writerSink struct {
	w    io.Writer
	once sync.Once
}

func (s *writerSink) WriteChunk(c Chunk) error {
	_, err := s.w.Write(c.Data)
	return err
}

func (s *writerSink) Close() error {
	var err error
	s.once.Do(func() {
		if c, ok := s.w.(io.Closer); ok {
			err = c.Close()
		}
	})
	return err
}
