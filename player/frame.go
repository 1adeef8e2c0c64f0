package player

import "time"

// frame is one decoded RGBA picture. Frames are recycled through a
// framePool because a 720p picture is 3.7 MB and arrives 25 times a second.
type frame struct {
	pix           []byte // RGBA, stride width*4
	width, height int
	pts           time.Duration
	refs          int // holders: the display queue, decoder.last, a Draw in progress
}

// framePool keeps a few released frames of the current size for reuse. It is
// not safe for concurrent use; decoder.mu guards it.
type framePool struct {
	free []*frame
	max  int
}

// get returns a frame of the given size with one reference.
func (p *framePool) get(width, height int) *frame {
	for len(p.free) > 0 {
		f := p.free[len(p.free)-1]
		p.free = p.free[:len(p.free)-1]
		if f.width == width && f.height == height {
			f.refs = 1
			return f
		}
	}
	return &frame{pix: make([]byte, width*height*4), width: width, height: height, refs: 1}
}

// release drops one reference to f and keeps f for reuse when it was the
// last one.
func (p *framePool) release(f *frame) {
	if f == nil {
		return
	}
	f.refs--
	if f.refs == 0 && len(p.free) < p.max {
		p.free = append(p.free, f)
	}
}

// frameQueue holds decoded frames in pts order until they are due. It is
// bounded by a frame count and a byte budget. It is not safe for concurrent
// use; decoder.mu guards it.
type frameQueue struct {
	frames    []*frame
	bytes     int
	maxFrames int
	maxBytes  int
}

// full reports whether adding a frame of n bytes would pass a bound.
func (q *frameQueue) full(n int) bool {
	return len(q.frames) > 0 && (len(q.frames) >= q.maxFrames || q.bytes+n > q.maxBytes)
}

func (q *frameQueue) push(f *frame) {
	q.frames = append(q.frames, f)
	q.bytes += len(f.pix)
}

// popOldest removes and returns the oldest frame, or nil.
func (q *frameQueue) popOldest() *frame {
	if len(q.frames) == 0 {
		return nil
	}
	f := q.frames[0]
	q.frames[0] = nil
	q.frames = q.frames[1:]
	q.bytes -= len(f.pix)
	return f
}

// oldest returns the oldest frame without removing it, or nil.
func (q *frameQueue) oldest() *frame {
	if len(q.frames) == 0 {
		return nil
	}
	return q.frames[0]
}

func (q *frameQueue) len() int { return len(q.frames) }
