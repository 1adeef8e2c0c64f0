package ts

import (
	"context"
	"io"
	"time"
)

// Pace returns a reader that delivers r's packets no faster than real time
// by their PCR: a packet with PCR t is released at start + (t - t0). Data
// that already arrives in real time is not delayed further. A PCR that goes
// backwards or jumps more than 10 s (a looped file) restarts the schedule
// from the previous packet's time. Without PCR, data passes through. The
// reader stops with ctx's error when ctx ends.
func Pace(ctx context.Context, r io.Reader) io.Reader {
	return &pacer{ctx: ctx, pr: newPacketReader(r)}
}

type pacer struct {
	ctx     context.Context
	pr      *packetReader
	pending []byte
	pcrPID  int
	start   time.Time     // wall time of the schedule's origin
	origin  time.Duration // PCR at start
	last    time.Duration
	started bool
}

func (p *pacer) Read(b []byte) (int, error) {
	if err := p.ctx.Err(); err != nil {
		return 0, err
	}
	if len(p.pending) == 0 {
		pkt, err := p.pr.next()
		if err != nil {
			return 0, err
		}
		if err := p.wait(pkt); err != nil {
			return 0, err
		}
		p.pending = pkt
	}
	n := copy(b, p.pending)
	p.pending = p.pending[n:]
	return n, nil
}

// wait sleeps until pkt's PCR is due.
func (p *pacer) wait(pkt Packet) error {
	pcr, ok := pkt.PCR()
	if !ok {
		return nil
	}
	pid := int(pkt.PID())
	now := time.Now()
	if !p.started {
		p.started, p.pcrPID = true, pid
		p.start, p.origin, p.last = now, pcr, pcr
		return nil
	}
	if pid != p.pcrPID {
		return nil
	}
	if d := pcr - p.last; d < 0 || d > 10*time.Second {
		// Discontinuity: continue the schedule from the previous packet.
		p.start = p.start.Add(p.last - p.origin)
		p.origin = pcr
	}
	p.last = pcr
	due := p.start.Add(pcr - p.origin)
	if d := due.Sub(now); d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-p.ctx.Done():
			return p.ctx.Err()
		}
	}
	return nil
}

// Loop returns a reader that repeats data until ctx ends.
func Loop(ctx context.Context, data []byte) io.Reader {
	return &looper{ctx: ctx, data: data}
}

type looper struct {
	ctx  context.Context
	data []byte
	off  int
}

func (l *looper) Read(b []byte) (int, error) {
	if err := l.ctx.Err(); err != nil {
		return 0, err
	}
	if len(l.data) == 0 {
		return 0, io.EOF
	}
	n := copy(b, l.data[l.off:])
	l.off = (l.off + n) % len(l.data)
	return n, nil
}
