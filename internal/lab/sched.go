package lab

import (
	"fmt"
	"math"
	"runtime/metrics"
	"time"
)

// schedLatency reads how long goroutines waited, runnable, for a CPU
// (runtime/metrics /sched/latencies): with every viewer in one process,
// a saturated machine delays every timer and write, and the swarm's
// figures with it.
type schedLatency struct {
	sample []metrics.Sample
	prev   []uint64
}

func newSchedLatency() *schedLatency {
	l := &schedLatency{sample: []metrics.Sample{{Name: "/sched/latencies:seconds"}}}
	l.next()
	return l
}

// next returns the p50 and p99 of the waits since the last call.
func (l *schedLatency) next() (p50, p99 time.Duration) {
	metrics.Read(l.sample)
	h := l.sample[0].Value.Float64Histogram()
	delta := make([]uint64, len(h.Counts))
	var total uint64
	for i, n := range h.Counts {
		if i < len(l.prev) {
			n -= l.prev[i]
		}
		delta[i] = n
		total += n
	}
	l.prev = append(l.prev[:0], h.Counts...)
	at := func(q float64) time.Duration {
		var seen uint64
		for i, n := range delta {
			seen += n
			if total > 0 && float64(seen) >= q*float64(total) {
				b := h.Buckets[i+1] // the bucket's upper bound
				if math.IsInf(b, 1) {
					b = h.Buckets[i]
				}
				return time.Duration(b * float64(time.Second))
			}
		}
		return 0
	}
	return at(0.5), at(0.99)
}

// String reports the waits since the last call.
func (l *schedLatency) String() string {
	p50, p99 := l.next()
	return fmt.Sprintf("goroutines waited for a CPU p50 %v, p99 %v", p50, p99)
}
