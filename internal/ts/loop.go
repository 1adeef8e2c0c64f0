package ts

import (
	"context"
	"io"
	"maps"
	"slices"
)

// Loop returns a reader that plays data, an MPEG-TS stream, over and over
// until ctx is done, as one endless stream without discontinuities: each
// pass moves the PCR, PTS and DTS of every packet later by the length of a
// pass and continues each PID's continuity counters from the previous
// pass. Players and the Pacer then see time simply go on, where a jump
// back to the first timestamps would make them flush or stall.
//
// The length of a pass is, over the PCR and over each PID's PES
// timestamps, the longest span from first to last value plus the step
// before the last, in 90 kHz ticks. For the sample that is 30.037 s: video
// (30.000 s) and audio (30.016 s) each pause for a frame's time at the
// seam rather than overlap. Data is read as whole packets, resynchronised
// on sync bytes, and copied, so the caller may reuse it; data without
// whole packets gives io.EOF at once. Read returns ctx's error once ctx is
// done.
func Loop(ctx context.Context, data []byte) io.Reader {
	l := &looper{ctx: ctx, data: packets(data)}
	l.period, l.ccStep = passShifts(l.data)
	return l
}

// looper is the reader Loop returns; it is not safe for concurrent use.
type looper struct {
	ctx    context.Context
	data   []byte        // whole packets
	period uint64        // length of a pass, 90 kHz ticks
	ccStep [0x2000]uint8 // continuity counter step per pass, by PID

	off     int           // offset in data of the next packet
	shift   uint64        // timestamp shift of this pass, mod 2^33
	ccShift [0x2000]uint8 // continuity counter shift of this pass
	buf     [PacketSize]byte
	out     []byte // what is left to deliver of the packet in buf
}

// Read fills b with the next bytes of the endless stream.
func (l *looper) Read(b []byte) (int, error) {
	if err := l.ctx.Err(); err != nil {
		return 0, err
	}
	if len(l.data) == 0 {
		return 0, io.EOF
	}
	n := 0
	for n < len(b) {
		if len(l.out) == 0 {
			l.nextPacket()
		}
		c := copy(b[n:], l.out)
		l.out = l.out[c:]
		n += c
	}
	return n, nil
}

// nextPacket puts the next packet, rewritten for its pass, in out.
func (l *looper) nextPacket() {
	if l.off == len(l.data) {
		l.off = 0
		l.shift = (l.shift + l.period) % ptsWrap
		for pid, step := range l.ccStep {
			l.ccShift[pid] += step
		}
	}
	p := Packet(l.buf[:])
	copy(p, l.data[l.off:l.off+PacketSize])
	l.off += PacketSize
	if l.shift != 0 || l.ccShift[p.PID()]&0x0f != 0 {
		shiftTimes(p, l.shift, l.ccShift[p.PID()])
	}
	l.out = p
}

// passShifts returns the length of one pass of data (whole packets) in
// 90 kHz ticks, and for each PID how far its continuity counter must move
// on per pass to continue from the previous pass.
func passShifts(data []byte) (period uint64, ccStep [0x2000]uint8) {
	type span struct {
		first, last, step uint64
		seen              bool
	}
	var (
		pcr     span
		pes     = map[uint16]*span{}
		firstCC [0x2000]int16
		lastCC  [0x2000]uint8
	)
	// extend adds timestamp ts (modulo 2^33) to s.
	extend := func(s *span, ts uint64) {
		if s.seen {
			s.step = (ts + ptsWrap - s.last) % ptsWrap
		} else {
			s.first, s.seen = ts, true
		}
		s.last = ts
	}
	for i := range firstCC {
		firstCC[i] = -1
	}
	for off := 0; off+PacketSize <= len(data); off += PacketSize {
		p := Packet(data[off : off+PacketSize])
		pid := p.PID()
		if p.HasPayload() {
			if firstCC[pid] < 0 {
				firstCC[pid] = int16(p.ContinuityCounter())
			}
			lastCC[pid] = p.ContinuityCounter()
		}
		if o := pcrBaseOffset(p); o >= 0 {
			extend(&pcr, readPCRBase(p[o:]))
		}
		pts, dts := pesTimestamps(p)
		if dts < 0 {
			dts = pts // decoding order: DTS, or PTS when they are equal
		}
		if dts >= 0 {
			s := pes[pid]
			if s == nil {
				s = &span{}
				pes[pid] = s
			}
			extend(s, readTimestamp(p[dts:]))
		}
	}
	for _, s := range append(slices.Collect(maps.Values(pes)), &pcr) {
		if s.seen {
			period = max(period, (s.last+ptsWrap-s.first)%ptsWrap+s.step)
		}
	}
	for pid, first := range firstCC {
		if first >= 0 {
			ccStep[pid] = (lastCC[pid] + 1 - uint8(first)) & 0x0f
		}
	}
	return period, ccStep
}
