package p2pstream

import (
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// Reader returns a reader of an on-demand stream's file. Read blocks until
// the bytes at the read position have arrived and been verified; Seek moves
// the position anywhere, and the scheduler fetches the chunks there first.
// Several readers may be open; the most recent Read or Seek steers the
// scheduler. For a live stream it returns ErrNotVOD.
func (s *Stream) Reader() (io.ReadSeekCloser, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.info.Kind != KindVOD || s.st == nil {
		return nil, ErrNotVOD
	}
	return &vodReader{s: s, size: s.st.manifest.Size, chunk: int64(s.st.manifest.ChunkSize)}, nil
}

type vodReader struct {
	s     *Stream
	size  int64
	chunk int64

	closed atomic.Bool
	mu     sync.Mutex // guards off; held across a blocking Read
	off    int64
}

func (r *vodReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	data, err := r.next()
	if err != nil {
		return 0, err
	}
	n := copy(p, data)
	r.mu.Lock()
	r.off += int64(n)
	r.mu.Unlock()
	return n, nil
}

// WriteTo writes the rest of the file to w as chunks arrive, without
// copying them through a buffer (io.Copy uses it).
func (r *vodReader) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for {
		data, err := r.next()
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
		n, err := w.Write(data)
		total += int64(n)
		r.mu.Lock()
		r.off += int64(n)
		r.mu.Unlock()
		if err != nil {
			return total, err
		}
	}
}

// next waits for the chunk at the read position and returns the rest of it.
func (r *vodReader) next() ([]byte, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed.Load() {
		return nil, ErrClosed
	}
	if r.off >= r.size {
		return nil, io.EOF
	}
	s := r.s
	seq := uint64(r.off / r.chunk)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.readPos != seq {
		s.readPos = seq
		s.scheduleLocked(time.Now())
	}
	for {
		if s.closed || r.closed.Load() {
			return nil, ErrClosed
		}
		if c, ok := s.st.get(seq); ok {
			return c.Data[r.off-int64(seq)*r.chunk:], nil
		}
		s.cond.Wait()
	}
}

func (r *vodReader) Seek(offset int64, whence int) (int64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed.Load() {
		return 0, ErrClosed
	}
	var abs int64
	switch whence {
	case io.SeekStart:
		abs = offset
	case io.SeekCurrent:
		abs = r.off + offset
	case io.SeekEnd:
		abs = r.size + offset
	default:
		return 0, fmt.Errorf("p2pstream: seek: bad whence %d", whence)
	}
	if abs < 0 {
		return 0, errors.New("p2pstream: seek: negative position")
	}
	r.off = abs
	if abs < r.size {
		s := r.s
		s.mu.Lock()
		s.readPos = uint64(abs / r.chunk)
		s.scheduleLocked(time.Now())
		s.mu.Unlock()
	}
	return abs, nil
}

// Close ends the reader and interrupts a Read blocked in another goroutine.
func (r *vodReader) Close() error {
	r.closed.Store(true)
	r.s.mu.Lock()
	r.s.cond.Broadcast()
	r.s.mu.Unlock()
	return nil
}
