package ts

import (
	"errors"
	"io"
	"time"
)

// maxSegment bounds one segment's size, well below the 4 MiB chunk limit.
const maxSegment = 2 << 20

// Segment is a run of whole packets: one chunk of a live stream.
type Segment struct {
	Data []byte
	// Duration is the PCR time (or, without PCR, the arrival time) it spans.
	Duration time.Duration
	// Keyframe reports that the segment starts at a video keyframe (with the
	// PAT and PMT that directly precede it, if any).
	Keyframe bool
}

// Segmenter cuts an MPEG-TS stream into segments of about a target duration.
//
// Rules: a segment holds whole packets only (input is resynchronised on sync
// bytes, so garbage is dropped); once a segment spans the target by PCR, it
// is cut before the next keyframe (a packet of the PCR PID that starts a PES
// with random_access_indicator set), or before the PAT, PMT, SDT, null and
// payload-less packets that directly precede that keyframe ("at the target"
// allows 1/8 of it early, for PCR jitter); it is cut regardless at twice the target
// or at 2 MiB. Without PCR, time is the wall clock of arrival. A PCR that
// goes backwards or jumps more than 10 s (a looped file) keeps the elapsed
// time instead of jumping.
type Segmenter struct {
	pr     *packetReader
	target time.Duration

	cur      []byte
	keyframe bool          // cur starts at a keyframe
	elapsed  time.Duration // time spanned by cur
	lastPCR  time.Duration
	havePCR  bool
	pcrPID   int // -1 until known
	pmtPID   int // -1 until known
	psiStart int // offset in cur where a run of PAT/PMT packets began, or -1
	wallLast time.Time
	err      error
}

// NewSegmenter returns a segmenter reading r.
func NewSegmenter(r io.Reader, target time.Duration) *Segmenter {
	return &Segmenter{pr: newPacketReader(r), target: target, pcrPID: -1, pmtPID: -1, psiStart: -1}
}

// Next returns the next segment. At the end it returns the last partial
// segment with a nil error, then a zero Segment and io.EOF (or the read error).
func (s *Segmenter) Next() (Segment, error) {
	for s.err == nil {
		p, err := s.pr.next()
		if err != nil {
			s.err = err
			break
		}
		if seg, ok := s.add(p); ok {
			return seg, nil
		}
	}
	if len(s.cur) > 0 {
		return s.cut(len(s.cur), false), nil
	}
	if errors.Is(s.err, io.ErrUnexpectedEOF) {
		return Segment{}, io.EOF
	}
	return Segment{}, s.err
}

// add appends p, first returning a finished segment if p starts a new one.
func (s *Segmenter) add(p Packet) (Segment, bool) {
	pid := int(p.PID())
	if pid == 0 {
		if v, ok := patPMTPID(p); ok {
			s.pmtPID = int(v)
		}
	}
	s.advance(p, pid)
	// Packets a decoder can start before: tables, padding, and
	// adaptation-only packets (a PCR ahead of the keyframe).
	isPSI := pid == 0 || pid == s.pmtPID || pid == 0x11 || pid == 0x1fff || p.payload() == nil
	key := pid == s.pcrPID && p.PUSI() && p.RandomAccess()

	var seg Segment
	cutNow := false
	switch {
	case key && len(s.cur) > 0 && s.elapsed >= s.target-s.target/8:
		at := len(s.cur)
		if s.psiStart >= 0 {
			at = s.psiStart
		}
		seg, cutNow = s.cut(at, true), true
	case s.elapsed >= 2*s.target || len(s.cur)+PacketSize > maxSegment:
		seg, cutNow = s.cut(len(s.cur), false), true
	}
	if key && (len(s.cur) == 0 || s.psiStart == 0) {
		s.keyframe = true
	}
	if isPSI {
		if s.psiStart < 0 {
			s.psiStart = len(s.cur)
		}
	} else {
		s.psiStart = -1
	}
	s.cur = append(s.cur, p...)
	return seg, cutNow
}

// advance updates the elapsed time with p's PCR, or the wall clock.
func (s *Segmenter) advance(p Packet, pid int) {
	if pcr, ok := p.PCR(); ok {
		if s.pcrPID < 0 {
			s.pcrPID = pid
		}
		if pid != s.pcrPID {
			return
		}
		if s.havePCR {
			d := pcr - s.lastPCR
			if d > 0 && d < 10*time.Second {
				s.elapsed += d
			}
		}
		s.lastPCR, s.havePCR = pcr, true
		return
	}
	if s.havePCR {
		return
	}
	now := time.Now()
	if !s.wallLast.IsZero() {
		s.elapsed += now.Sub(s.wallLast)
	}
	s.wallLast = now
}

// cut ends the current segment at offset at; what follows starts the next.
// next reports whether the rest starts at a keyframe.
func (s *Segmenter) cut(at int, next bool) Segment {
	seg := Segment{Data: s.cur[:at:at], Duration: s.elapsed, Keyframe: s.keyframe}
	rest := append([]byte(nil), s.cur[at:]...)
	s.cur = rest
	s.keyframe = next
	s.elapsed = 0
	if s.psiStart >= 0 {
		s.psiStart -= at
		if s.psiStart < 0 {
			s.psiStart = -1
		}
	}
	return seg
}
