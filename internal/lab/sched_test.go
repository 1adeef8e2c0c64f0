package lab

import (
	"math"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// TestQuantile: a quantile is its bucket's upper bound, or the lower
// bound of the unbounded last bucket; an empty histogram gives zero.
func TestQuantile(t *testing.T) {
	buckets := []float64{math.Inf(-1), 0, 0.001, 0.01, math.Inf(1)}
	for _, tc := range []struct {
		name   string
		counts []uint64
		q      float64
		want   time.Duration
	}{
		{"empty", []uint64{0, 0, 0, 0}, 0.5, 0},
		{"below zero", []uint64{5, 0, 0, 0}, 0.5, 0},
		{"median", []uint64{0, 6, 3, 1}, 0.5, time.Millisecond},
		{"p99 in the top bucket", []uint64{0, 6, 3, 1}, 0.99, 10 * time.Millisecond},
		{"p99 in the unbounded bucket", []uint64{0, 0, 0, 2}, 0.99, 10 * time.Millisecond},
		{"exactly at a bucket's end", []uint64{0, 5, 5, 0}, 0.5, time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, quantile(buckets, tc.counts, tc.q))
		})
	}
}

// TestSchedLatency: the waits are read since the last call: goroutines
// that yield to each other wait, and a call right after sees almost none.
func TestSchedLatency(t *testing.T) {
	l := newSchedLatency()
	var wg sync.WaitGroup
	for range 4 * runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for range 1000 {
				runtime.Gosched()
			}
		})
	}
	wg.Wait()
	p50, p99 := l.next()
	assert.Positive(t, p99, "goroutines waited")
	assert.LessOrEqual(t, p50, p99)
}
