package player

import (
	"errors"
	"io"
	"sync/atomic"
)

// errUnseekable is what a live source's Seek returns for any position but
// the current one. libvlc-go probes the size with Seek(0, io.SeekEnd) and
// treats the error as "unknown size", which is what a live stream has.
var errUnseekable = errors.New("player: live source cannot seek")

// errSourceClosed is returned by Read after Close.
var errSourceClosed = errors.New("player: source closed")

// source is the io.ReadSeeker libVLC reads the stream from (on its input
// thread). It owns the caller's reader: close closes it if it is an
// io.Closer, which is how a Read blocked on a stalled stream returns.
type source struct {
	r      io.Reader
	orig   io.Reader // the caller's reader, closed by close; r reads it through a pipe for a live source
	seeker io.Seeker // nil for a live source
	pos    int64     // only the libVLC input thread uses it
	closed atomic.Bool
	bytes  atomic.Int64
	size   atomic.Int64 // length of a seekable source, once libVLC asked
	sniff  *spsSniffer  // if set, follows what libVLC reads for the picture size
}

// newLiveSource reads r on a goroutine of its own through a pipe, so that
// close can always end a Read libVLC is blocked in, even if r cannot be
// interrupted; that goroutine ends when r's Read returns.
func newLiveSource(r io.Reader) *source {
	pr, pw := io.Pipe()
	go func() {
		buf := make([]byte, 64<<10)
		for {
			n, err := r.Read(buf)
			if n > 0 {
				if _, werr := pw.Write(buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				pw.CloseWithError(err)
				return
			}
		}
	}()
	return &source{r: pr, orig: r}
}

func newSeekableSource(rs io.ReadSeeker) *source { return &source{r: rs, orig: rs, seeker: rs} }

// maxEmptyReads bounds how often a Reader may return (0, nil) in a row:
// libVLC would take a zero-length read for the end of the stream.
const maxEmptyReads = 100

func (s *source) Read(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	for range maxEmptyReads {
		if s.closed.Load() {
			return 0, errSourceClosed
		}
		n, err := s.r.Read(b)
		s.pos += int64(n)
		s.bytes.Add(int64(n))
		if s.sniff != nil && n > 0 {
			s.sniff.write(b[:n])
		}
		if n > 0 || err != nil {
			return n, err
		}
	}
	return 0, io.ErrNoProgress
}

func (s *source) Seek(offset int64, whence int) (int64, error) {
	if s.closed.Load() {
		return 0, errSourceClosed
	}
	if s.seeker != nil {
		pos, err := s.seeker.Seek(offset, whence)
		if err == nil {
			if s.sniff != nil && pos != s.pos {
				s.sniff.reset()
			}
			s.pos = pos
			if whence == io.SeekEnd && offset == 0 {
				s.size.Store(pos)
			}
		}
		return pos, err
	}
	target := offset
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		target += s.pos
	default:
		return s.pos, errUnseekable
	}
	if target != s.pos {
		return s.pos, errUnseekable
	}
	return s.pos, nil
}

// close makes Read fail from now on and closes the caller's reader, if it
// can be closed, so that a Read blocked in it returns.
func (s *source) close() error {
	if s.closed.Swap(true) {
		return nil
	}
	var err error
	if c, ok := s.orig.(io.Closer); ok {
		err = c.Close()
	}
	if c, ok := s.r.(io.Closer); ok && s.r != s.orig {
		c.Close()
	}
	return err
}
