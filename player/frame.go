package player

// frame is one decoded RGBA picture. Frames are recycled through a
// framePool because a 720p picture is 3.7 MB and arrives 25 times a second.
type frame struct {
	pix           []byte // RGBA, stride width*4
	width, height int
	refs          int // holders: decoder.newest, decoder.last, a Draw in progress
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
