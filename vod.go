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
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed.Load() {
		return 0, ErrClosed
	}
	if r.off >= r.size {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
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
			return 0, ErrClosed
		}
		if c, ok := s.st.get(seq); ok {
			n := copy(p, c.Data[r.off-int64(seq)*r.chunk:])
			r.off += int64(n)
			return n, nil
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
