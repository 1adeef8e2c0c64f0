package lab

import (
	"runtime"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestSchedLatency: the waits are read since the last call, and p50 is
// not above p99.
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
	assert.Contains(t, l.String(), "goroutines waited for a CPU p50")
}
