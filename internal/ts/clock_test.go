package ts

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestPCRClock(t *testing.T) {
	ms := func(n int64) uint64 { return uint64(n) * pcrHz / 1000 }
	type step struct {
		ticks         uint64
		discontinuity bool
		want          time.Duration
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"first pcr is time 0", []step{{ms(5000), false, 0}}},
		{"steps", []step{{0, false, 0}, {ms(40), false, 40 * time.Millisecond}, {ms(100), false, 60 * time.Millisecond}}},
		{"same pcr", []step{{ms(40), false, 0}, {ms(40), false, 0}}},
		{"wrap", []step{{pcrWrap - ms(30), false, 0}, {ms(10), false, 40 * time.Millisecond}}},
		{"backwards takes the last step", []step{{ms(1000), false, 0}, {ms(1040), false, 40 * time.Millisecond}, {0, false, 40 * time.Millisecond}, {ms(40), false, 40 * time.Millisecond}}},
		{"jump over 10 s", []step{{0, false, 0}, {ms(20), false, 20 * time.Millisecond}, {ms(10021), false, 20 * time.Millisecond}}},
		{"jump of 10 s is time", []step{{0, false, 0}, {ms(10000), false, 10 * time.Second}}},
		{"discontinuity indicator", []step{{0, false, 0}, {ms(30), false, 30 * time.Millisecond}, {ms(60), true, 30 * time.Millisecond}, {ms(5000), true, 30 * time.Millisecond}}},
		{"discontinuity before any step", []step{{0, false, 0}, {ms(500), true, 0}}},
		{"out of range ticks wrap", []step{{pcrWrap + ms(10), false, 0}, {ms(50), false, 40 * time.Millisecond}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c pcrClock
			for i, s := range tt.steps {
				assert.Equal(t, s.want, c.advance(s.ticks, s.discontinuity), "step %d", i)
			}
		})
	}
}
