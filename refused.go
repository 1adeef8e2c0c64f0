package p2pstream

import (
	"math/rand/v2"
	"time"
)

// A peer that ended our handshake is not dialled again for refusedWait,
// doubled at each refusal in a row up to maxRefusedWait (with a quarter of
// jitter, so that viewers refused together come back apart). A full source
// would otherwise turn away every viewer every refusedWait: 200 handshakes a
// second for 1,000 viewers in the swarm lab.
const (
	refusedWait    = 5 * time.Second
	maxRefusedWait = time.Minute
)

// refusal is what a stream remembers of a peer that refused it.
type refusal struct {
	until time.Time // not dialled before
	n     int       // refusals in a row
}

// refusedLocked notes that the peer at addr refused us at now.
func (s *Stream) refusedLocked(addr string, now time.Time) {
	r := s.refused[addr]
	r.n++
	wait := min(refusedWait<<min(r.n-1, 8), maxRefusedWait)
	wait += time.Duration(rand.Int64N(int64(wait / 4)))
	r.until = now.Add(wait)
	s.refused[addr] = r
}
