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

// A PartSink is a Sink that also takes live chunks in parts, as their
// pieces arrive and are verified, instead of each whole: a byte-stream
// sink (a file, HTTP, a player) then gets a chunk's first bytes without
// waiting for its last. Startup and lag no longer include the time a chunk
// takes to arrive whole (docs/BENCHMARKS.md). The stream hands a PartSink
// every live chunk through WritePart (on-demand chunks through WriteChunk),
// and plays it from its first part: each part is due when the player
// reaches its place, the chunk's deadline plus the share of the chunk's
// duration that its offset is of the chunk's size. WriterSink, HTTPSink and
// the player's sink are PartSinks.
type PartSink interface {
	Sink
	// WritePart writes data, bytes [off, off+len(data)) of live chunk c
	// (c.Data is data). A chunk's parts come in order from offset 0, each
	// but its last a whole number of 188-byte TS packets. A chunk may be
	// cut short (it stalled past its deadline while a later chunk is held,
	// the sink fell a window behind, or the publisher restarted): the next
	// part is then a later chunk's first. The sink may keep data but must
	// not modify it.
	WritePart(c Chunk, off int, data []byte) error
}

// isPartSink reports whether live chunks go to sink in parts: it is a
// PartSink, or nil (the statistics then describe a player fed as a
// PartSink would be).
func isPartSink(sink Sink) bool {
	_, ok := sink.(PartSink)
	return ok || sink == nil
}

// SinkFunc adapts a function to a Sink whose Close does nothing.
type SinkFunc func(c Chunk) error

// WriteChunk calls f(c).
func (f SinkFunc) WriteChunk(c Chunk) error { return f(c) }

// Close does nothing.
func (f SinkFunc) Close() error { return nil }

// WriterSink returns a PartSink that writes each chunk's data to w, such as a
// file, os.Stdout or an io.PipeWriter. Its Close closes w if w is an
// io.Closer; Close is idempotent.
func WriterSink(w io.Writer) PartSink { return &writerSink{w: w} }

type writerSink struct {
	w    io.Writer
	once sync.Once
}

func (s *writerSink) WriteChunk(c Chunk) error { return s.WritePart(c, 0, c.Data) }

func (s *writerSink) WritePart(_ Chunk, _ int, data []byte) error {
	_, err := s.w.Write(data)
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
