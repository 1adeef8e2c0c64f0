package ts_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"time"

	"github.com/p2pstream/p2pstream/internal/sample"
	"github.com/p2pstream/p2pstream/internal/ts"
)

func ExampleSegmenter() {
	// 3 s of stream with a keyframe every 500 ms, in segments of 1 s.
	data := ts.Synthetic(3*time.Second, 500_000, 500*time.Millisecond)
	s := ts.NewSegmenter(bytes.NewReader(data), time.Second)
	for {
		seg, err := s.Next()
		if err == io.EOF {
			break
		}
		fmt.Printf("at %v: %d packets, %v, keyframe %v\n",
			seg.Start.Round(time.Millisecond), len(seg.Data)/ts.PacketSize,
			seg.Duration.Round(time.Millisecond), seg.Keyframe)
	}
	// Output:
	// at 0s: 333 packets, 1.002s, keyframe true
	// at 1.002s: 332 packets, 999ms, keyframe true
	// at 2s: 332 packets, 957ms, keyframe true
}

func ExampleLoop() {
	// The broadcaster's default stream is the sample forever, in real
	// time: Pace(ctx, Loop(ctx, sample.TS)). Unpaced, the seam between
	// two passes shows as one slightly longer segment, not a jump.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := ts.NewSegmenter(ts.Loop(ctx, sample.TS), time.Second)
	for i := range 32 {
		seg, err := s.Next()
		if err != nil {
			fmt.Println(err)
			return
		}
		if i >= 28 {
			fmt.Printf("at %v: %v, keyframe %v\n", seg.Start.Round(time.Millisecond),
				seg.Duration.Round(time.Millisecond), seg.Keyframe)
		}
	}
	// Output:
	// at 28s: 1s, keyframe true
	// at 29s: 1.037s, keyframe true
	// at 30.037s: 1s, keyframe true
	// at 31.037s: 1s, keyframe true
}
