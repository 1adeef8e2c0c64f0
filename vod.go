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
// the bytes at the read position have arrived and been verified, and the
// scheduler fetches the chunks there first; Seek moves the position
// anywhere. Several readers may be open; the most recent Read steers the
// scheduler (a Seek alone does not: an HTTP HEAD request seeks and reads
// nothing). Read and Seek are not safe for concurrent use. Read returns
// the error that stopped the stream (Stream.Err), or one reading the
// download file. For a live stream it returns ErrNotVOD.
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
	f, off, n, err := r.next()
	if err != nil {
		return 0, err
	}
	return r.read(f, p[:min(len(p), n)], off)
}

// WriteTo writes the rest of the file to w as chunks arrive, a chunk at a
// time (io.Copy uses it).
func (r *vodReader) WriteTo(w io.Writer) (int64, error) {
	var total int64
	var buf *[]byte
	defer func() {
		if buf != nil {
			chunkBuffers.Put(buf)
		}
	}()
	for {
		f, off, n, err := r.next()
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
		if buf == nil {
			buf = getChunkBuffer(int(r.chunk))
		}
		k, err := r.read(f, (*buf)[:n], off)
		if err != nil {
			return total, err
		}
		k, err = w.Write((*buf)[:k])
		total += int64(k)
		if err != nil {
			return total, err
		}
	}
}

// read reads p from the store's file at off, which next found held, and
// moves the read position on.
func (r *vodReader) read(f io.ReaderAt, p []byte, off int64) (int, error) {
	k, err := f.ReadAt(p, off)
	if k < len(p) {
		if r.closed.Load() || r.s.ctx.Err() != nil {
			return 0, ErrClosed
		}
		return 0, fmt.Errorf("p2pstream: reading the download file: %w", err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.off == off { // (not moved by a Seek meanwhile)
		r.off += int64(k)
	}
	return k, nil
}

// next waits for the chunk at the read position and returns the file it is
// in, the read position and the bytes of the chunk left from there.
func (r *vodReader) next() (f io.ReaderAt, off int64, n int, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed.Load() {
		return nil, 0, 0, ErrClosed
	}
	if r.off >= r.size {
		return nil, 0, 0, io.EOF
	}
	s := r.s
	seq := uint64(r.off / r.chunk)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.readAt = time.Now()
	if s.readPos != seq {
		s.readPos = seq
		s.scheduleLocked(s.readAt)
	}
	for {
		if s.closed || r.closed.Load() {
			return nil, 0, 0, ErrClosed
		}
		if s.failure != nil {
			return nil, 0, 0, s.failure
		}
		if s.st.has(seq) {
			end := min(int64(seq+1)*r.chunk, r.size)
			return s.st.file, r.off, int(end - r.off), nil
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
	r.off = abs // the next Read steers the scheduler there
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
