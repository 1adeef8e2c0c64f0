package examples_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// BenchmarkViewer720p plays 30 s of 720p25 H.264 + AAC through the viewer
// in a real window (run it under Xvfb: make bench does) and reports the
// pictures decoded, drawn and dropped, the CPU the viewer used, its peak
// memory, and, as a baseline measured in the same run, the CPU ffmpeg
// needs to decode the same file.
//
//	xvfb-run -a -s "-screen 0 1280x720x24" go test -run '^$' -bench Viewer720p -benchtime 1x ./examples/
func BenchmarkViewer720p(b *testing.B) {
	if os.Getenv("DISPLAY") == "" {
		b.Fatal("DISPLAY is unset: run under xvfb-run")
	}
	dir := b.TempDir()
	clip := filepath.Join(dir, "720p.ts")
	gen := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
		"-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=25",
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
		"-t", "30", "-c:v", "libx264", "-preset", "veryfast", "-b:v", "3M", "-g", "50",
		"-c:a", "aac", "-ac", "2", "-f", "mpegts", clip)
	if out, err := gen.CombinedOutput(); err != nil {
		b.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	bin := build(b, "viewer")
	b.ResetTimer()
	for range b.N {
		stats := filepath.Join(dir, "stats.json")
		cmd := exec.Command(filepath.Join(bin, "viewer"), "-file", clip, "-mute", "-overlay=false",
			"-duration", "31s", "-stats", stats)
		start := time.Now()
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("viewer: %v\n%s", err, out)
		}
		wall := time.Since(start)
		var st struct{ FramesDecoded, FramesDrawn, FramesDropped int64 }
		raw, err := os.ReadFile(stats)
		if err != nil || json.Unmarshal(raw, &st) != nil {
			b.Fatalf("reading %s: %v", stats, err)
		}
		ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
		cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())

		dec := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-i", clip, "-f", "null", "-")
		if out, err := dec.CombinedOutput(); err != nil {
			b.Fatalf("ffmpeg decode: %v\n%s", err, out)
		}
		dru := dec.ProcessState.SysUsage().(*syscall.Rusage)
		decCPU := time.Duration(dru.Utime.Nano() + dru.Stime.Nano())

		total := st.FramesDrawn + st.FramesDropped
		b.ReportMetric(float64(st.FramesDecoded), "decoded")
		b.ReportMetric(float64(st.FramesDrawn), "drawn")
		b.ReportMetric(float64(st.FramesDropped), "dropped")
		b.ReportMetric(100*float64(st.FramesDropped)/float64(max(total, 1)), "dropped-%")
		b.ReportMetric(100*cpu.Seconds()/wall.Seconds(), "cpu-%-of-a-core")
		b.ReportMetric(float64(ru.Maxrss)/1024, "peak-rss-MB")
		b.ReportMetric(cpu.Seconds()/decCPU.Seconds(), "cpu-x-ffmpeg-decode")
	}
}
