package p2pstream

import "time"

// laterChunkDueLocked reports whether the first chunk held after the
// missing live chunk play.next is due. The missing chunk's deadline is only
// an estimate, extrapolated from the chunks before it; after the
// broadcaster stalls, the estimate has passed long before the chunk even
// exists. A chunk held after it bounds its real deadline from above, so the
// missing chunk is skipped only once that later chunk is due within a chunk
// duration: skipping it sooner would gain nothing but a gap.
func (s *Stream) laterChunkDueLocked(now time.Time, delay time.Duration) bool {
	p := &s.play
	if p.t0.IsZero() {
		return true
	}
	for seq := p.next + 1; seq <= s.st.newest; seq++ {
		if c, ok := s.st.get(seq); ok {
			due := p.t0.Add(time.Duration(c.Timestamp-p.ts0)*time.Microsecond + delay)
			// Skip a little early: the delivery loop wakes every 100 ms, and
			// the later chunk must still go out by its deadline.
			return !now.Add(s.chunkDuration()).Before(due)
		}
	}
	return true
}
