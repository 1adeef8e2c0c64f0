package lab

import (
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

// newSchedLatency starts reading from now: the waits before it are left
// out of the first call to next.
func newSchedLatency() *schedLatency {
	l := &schedLatency{sample: []metrics.Sample{{Name: "/sched/latencies:seconds"}}}
	l.next()
	return l
}

// next returns the p50 and p99 of the waits since the last call, each the
// upper bound of its histogram bucket (at most a few percent high).
func (l *schedLatency) next() (p50, p99 time.Duration) {
	metrics.Read(l.sample)
	h := l.sample[0].Value.Float64Histogram()
	delta := make([]uint64, len(h.Counts))
	for i, n := range h.Counts {
		if i < len(l.prev) {
			n -= l.prev[i]
		}
		delta[i] = n
	}
	l.prev = append(l.prev[:0], h.Counts...)
	return quantile(h.Buckets, delta, 0.5), quantile(h.Buckets, delta, 0.99)
}

// quantile returns the q quantile of the histogram of counts over buckets
// (counts[i] falls in [buckets[i], buckets[i+1]), in seconds), as the upper
// bound of its bucket, or the lower bound of an unbounded last one; zero
// for an empty histogram or a bound below zero.
func quantile(buckets []float64, counts []uint64, q float64) time.Duration {
	var total uint64
	for _, n := range counts {
		total += n
	}
	var seen uint64
	for i, n := range counts {
		seen += n
		if total == 0 || float64(seen) < q*float64(total) {
			continue
		}
		b := buckets[i+1]
		if math.IsInf(b, 1) {
			b = buckets[i]
		}
		return time.Duration(max(0, b) * float64(time.Second))
	}
	return 0
}
