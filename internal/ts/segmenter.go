package ts

import (
	"io"
	"time"
)

// MaxSegmentSize bounds the data of one segment: the most whole packets
// that fit in 4 MiB less one byte, so a segment always fits in one chunk
// of the peer protocol (at most 4 MiB).
const MaxSegmentSize = (4<<20 - 1) / PacketSize * PacketSize

// Segment is a run of whole packets cut from a stream: one chunk of a live
// stream.
type Segment struct {
	// Data holds whole packets. The Segmenter never touches it again.
	Data []byte
	// Start is the stream time (see Segmenter) at which the segment
	// begins: 0 for the first, then the previous segment's Start plus its
	// Duration. It only increases, across discontinuities too.
	Start time.Duration
	// Duration is the stream time the segment spans, up to the start of
	// the next one (for the last segment, up to its last PCR or packet).
	Duration time.Duration
	// Keyframe reports that the segment starts at a video keyframe, or at
	// table and padding packets directly followed by one.
	Keyframe bool
}

// Segmenter cuts an MPEG-TS stream into segments of about a target
// duration, each starting at a keyframe when the stream allows, so a
// viewer can join at any keyframe segment. The rules:
//
//   - Input is read as whole 188-byte packets, resynchronised on the sync
//     byte: bytes outside packets are dropped, and so is a partial packet
//     at the end. Segments hold whole packets only, and their
//     concatenation is exactly the packets read.
//   - A segment is cut before a keyframe (see [Tables.Keyframe]) once it
//     spans at least the target less 1/8 (the slack absorbs PCR jitter,
//     so a keyframe every target is not missed by a few milliseconds).
//     The cut goes before the run of table and padding packets (PAT, PMT,
//     SDT, null, and packets without payload) directly preceding the
//     keyframe, so a viewer starting at the segment gets the PAT and PMT
//     first.
//   - A segment is cut regardless, before the current packet, once it
//     spans twice the target, or when one more packet would take it over
//     MaxSegmentSize; the next segment then does not start at a keyframe
//     (unless it happens to).
//   - Time is stream time: 0 at the first PCR of the PCR PID, then moved
//     on by each PCR step, modulo the PCR's wrap-around (26.5 h). A step
//     backwards or over 10 s, or a discontinuity_indicator, is a
//     discontinuity (a looped file, a restarted encoder): time moves on by
//     the previous PCR step, not by the jump. A stream without PCR is timed
//     by the wall clock at which packets are read, so a live pipe without
//     PCR is still cut about every target; once a PCR appears, the PCR
//     rules.
//   - At the end of the input, Next returns the last partial segment, then
//     io.EOF (or the read error).
//
// A Segmenter is not safe for concurrent use.
type Segmenter struct {
	pr     *packetReader
	target time.Duration
	tables Tables
	time   timeline
	err    error // the read error, once seen

	cur      []byte        // the segment being built
	keyframe bool          // cur starts at a keyframe
	start    time.Duration // stream time at which cur begins
	now      time.Duration // stream time at the last packet
	run      int           // offset in cur of the run of table packets at its end, or -1

	wallLast time.Time // wall clock at the last packet, while there is no PCR
}

// NewSegmenter returns a Segmenter reading r that aims at segments of
// target duration. A target of zero or less cuts at every keyframe.
func NewSegmenter(r io.Reader, target time.Duration) *Segmenter {
	return &Segmenter{pr: newPacketReader(r), target: max(target, 0), run: -1}
}

// Next returns the next segment. At the end of the input it returns the
// last segment with a nil error, then a zero Segment and io.EOF, or the
// read error if reading failed.
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
		seg := s.cut(len(s.cur), false)
		return seg, nil
	}
	return Segment{}, s.err
}

// add appends p to the current segment and returns the finished segment
// if p, or the table run before it, starts a new one.
func (s *Segmenter) add(p Packet) (Segment, bool) {
	s.tables.Add(p)
	s.tick(p)
	key := s.tables.Keyframe(p)
	table := s.tables.IsTable(p.PID()) || !p.HasPayload()

	var seg Segment
	cut := false
	elapsed := s.now - s.start
	if key && len(s.cur) > 0 && elapsed >= s.target-s.target/8 {
		at := len(s.cur)
		if s.run >= 0 {
			at = s.run
		}
		// at is 0 when cur holds only the tables before this keyframe.
		if at > 0 {
			seg, cut = s.cut(at, true), true
		}
	}
	long := s.target > 0 && elapsed >= 2*s.target
	if !cut && len(s.cur) > 0 && (long || len(s.cur)+PacketSize > MaxSegmentSize) {
		seg, cut = s.cut(len(s.cur), false), true
	}
	if key && (len(s.cur) == 0 || s.run == 0) {
		s.keyframe = true
	}
	switch {
	case !table:
		s.run = -1
	case s.run < 0:
		s.run = len(s.cur)
	}
	s.cur = append(s.cur, p...)
	return seg, cut
}

// tick moves stream time on with p: by its PCR if it carries the PCR, by
// the wall clock if the stream has shown no PCR yet.
func (s *Segmenter) tick(p Packet) {
	before, started := s.time.now, s.time.started()
	if s.time.add(p, &s.tables) {
		if !started && s.start == 0 {
			// Stream time begins at the first PCR: the wall time spent
			// reading the tables before it would only add noise.
			s.now = 0
		}
		s.now += s.time.now - before
		return
	}
	if started {
		return
	}
	now := time.Now()
	if !s.wallLast.IsZero() {
		s.now += now.Sub(s.wallLast)
	}
	s.wallLast = now
}

// cut ends the current segment at offset at; the rest of cur begins the
// next segment, at a keyframe if next is set.
func (s *Segmenter) cut(at int, next bool) Segment {
	seg := Segment{
		Data:     s.cur[:at:at],
		Start:    s.start,
		Duration: s.now - s.start,
		Keyframe: s.keyframe,
	}
	rest := make([]byte, len(s.cur)-at, max(len(s.cur), 64*PacketSize))
	copy(rest, s.cur[at:])
	s.cur = rest
	s.keyframe = next
	s.start = s.now
	s.run = -1
	if len(rest) > 0 {
		// Only a keyframe cut leaves a rest: the table run before the
		// keyframe, now at the front of the new segment.
		s.run = 0
	}
	return seg
}
