package ts

import (
	"context"
	"io"
	"time"
)

// Pace returns a reader that delivers r's packets no faster than real time
// by their PCR: a packet carrying the PCR at stream time t (counted as the
// [Segmenter] counts it) is released at start + t, start being the wall
// clock when the first PCR arrived; packets between PCRs follow the one
// before them. The schedule never moves, so data that already
// arrives in real time (ffmpeg -re writing to a pipe) is passed on as it
// arrives, except when it comes early by its own PCR. Discontinuities (a
// PCR backwards or more than 10 s ahead, as when a file is looped) keep
// the schedule going by one PCR interval instead of stalling or rushing.
// Without a PCR, packets pass through unpaced.
//
// The reader delivers whole packets, resynchronised like the Segmenter
// reads them, and returns ctx's error once ctx is done, also while it
// waits. A Read blocked in r is not interrupted: close r to end it.
func Pace(ctx context.Context, r io.Reader) io.Reader {
	return &pacer{ctx: ctx, pr: newPacketReader(r)}
}

// pacer is the reader Pace returns; it is not safe for concurrent use.
type pacer struct {
	ctx    context.Context
	pr     *packetReader
	tables Tables
	time   timeline
	start  time.Time // wall clock at stream time 0, once a PCR arrived

	buf    [PacketSize]byte
	out    []byte    // what is left to deliver of the packet in buf
	outDue time.Time // when that packet is due
}

// Read waits until the next packet is due and fills b with it and the
// packets after it that are already buffered and due. It never blocks on r
// once it has something to return.
func (p *pacer) Read(b []byte) (int, error) {
	if err := p.ctx.Err(); err != nil {
		return 0, err
	}
	if len(p.out) == 0 {
		pkt, err := p.pr.next()
		if err != nil {
			return 0, err
		}
		p.load(pkt)
	}
	if err := p.wait(p.outDue); err != nil {
		return 0, err
	}
	n := copy(b, p.out)
	p.out = p.out[n:]
	for len(p.out) == 0 && len(b)-n >= PacketSize {
		next := p.pr.buffered()
		if next == nil {
			break
		}
		p.load(next)
		p.pr.discard()
		if p.outDue.After(time.Now()) {
			break // it waits for the next Read
		}
		n += copy(b[n:], p.out)
		p.out = nil
	}
	return n, nil
}

// load makes pkt the packet to deliver next.
func (p *pacer) load(pkt Packet) {
	p.out = p.buf[:copy(p.buf[:], pkt)]
	p.outDue = p.due(p.out)
}

// due adds pkt to what the pacer knows and returns when it may be
// delivered; the zero time means at once.
func (p *pacer) due(pkt Packet) time.Time {
	p.tables.Add(pkt)
	if !p.time.add(pkt, &p.tables) {
		return time.Time{}
	}
	if p.start.IsZero() {
		p.start = time.Now()
	}
	return p.start.Add(p.time.now)
}

// wait sleeps until due or until ctx is done.
func (p *pacer) wait(due time.Time) error {
	d := time.Until(due)
	if due.IsZero() || d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-p.ctx.Done():
		return p.ctx.Err()
	}
}
