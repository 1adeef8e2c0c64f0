package ts

import "time"

// maxPCRJump is the largest forward PCR step taken as elapsed time. A
// larger jump, or any step backwards, is a discontinuity: a looped or
// spliced file, or a restarted encoder.
const maxPCRJump = 10 * time.Second

// pcrClock turns the PCRs of one PID into stream time that only moves
// forward. Steps are taken modulo the PCR's wrap-around, so the wrap every
// 26.5 hours is an ordinary step. At a discontinuity (a step backwards or
// over maxPCRJump, or a discontinuity_indicator) the time base restarts:
// the clock moves on by the last ordinary step, its best guess of the
// true gap, and continues from the new PCR.
type pcrClock struct {
	last    uint64        // last PCR in 27 MHz ticks
	step    time.Duration // last ordinary step
	started bool
}

// advance takes the next PCR (27 MHz ticks) and returns how far stream
// time moved since the previous one; the first PCR moves it by 0.
// discontinuity is the packet's discontinuity_indicator.
func (c *pcrClock) advance(ticks uint64, discontinuity bool) time.Duration {
	ticks %= pcrWrap
	prev := c.last
	c.last = ticks
	if !c.started {
		c.started = true
		return 0
	}
	d := ticksToDuration((ticks + pcrWrap - prev) % pcrWrap)
	if discontinuity || d > maxPCRJump {
		return c.step
	}
	if d > 0 {
		c.step = d
	}
	return d
}

// timeline follows the PCR of a stream as stream time. Only the PCR PID
// (see [Tables.PCRPID]) counts, since other PIDs may carry other clocks.
type timeline struct {
	clock   pcrClock
	now     time.Duration // stream time at the last PCR
	pending bool          // a discontinuity_indicator awaits the next PCR
}

// add takes packet p, already added to tables, and reports whether it
// carried a PCR on the PCR PID, which moved the timeline to now.
func (tl *timeline) add(p Packet, tables *Tables) bool {
	pid, ok := tables.PCRPID()
	if !ok || p.PID() != pid {
		return false
	}
	if p.Discontinuity() {
		tl.pending = true
	}
	ticks, ok := p.pcrTicks()
	if !ok {
		return false
	}
	tl.now += tl.clock.advance(ticks, tl.pending)
	tl.pending = false
	return true
}

// started reports whether the timeline has seen a PCR.
func (tl *timeline) started() bool { return tl.clock.started }
