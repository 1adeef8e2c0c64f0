package sample

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTSIsWholePackets(t *testing.T) {
	require.NotEmpty(t, TS)
	assert.Less(t, len(TS), 5<<20, "small enough to embed")
	require.Zero(t, len(TS)%188)
	for off := 0; off < len(TS); off += 188 {
		require.Equal(t, byte(0x47), TS[off], "sync byte at %d", off)
	}
}

// TestTSLayout checks the streams the package comment promises, with
// ffprobe (CI installs ffmpeg).
func TestTSLayout(t *testing.T) {
	needTool(t, "ffprobe")
	// probe runs ffprobe on TS and returns its output lines, each as its
	// key=value fields.
	probe := func(args ...string) []map[string]string {
		t.Helper()
		cmd := exec.Command("ffprobe", append([]string{"-v", "error", "-of", "compact=p=0"}, append(args, "-")...)...)
		cmd.Stdin = bytes.NewReader(TS)
		out, err := cmd.Output()
		require.NoError(t, err)
		var lines []map[string]string
		for _, line := range strings.Fields(string(out)) {
			m := map[string]string{}
			for _, kv := range strings.Split(line, "|") {
				k, v, _ := strings.Cut(kv, "=")
				m[k] = v
			}
			lines = append(lines, m)
		}
		return lines
	}
	// ffprobe lists each stream twice: in its program and on its own.
	video := probe("-select_streams", "v", "-show_entries", "stream=id,codec_name,profile,width,height,pix_fmt,r_frame_rate")
	require.NotEmpty(t, video)
	assert.Equal(t, map[string]string{"id": "0x100", "codec_name": "h264", "profile": "Main", "width": "640", "height": "360",
		"pix_fmt": "yuv420p", "r_frame_rate": "25/1"}, video[0])
	audio := probe("-select_streams", "a", "-show_entries", "stream=id,codec_name,profile,sample_rate,channels")
	require.NotEmpty(t, audio)
	assert.Equal(t, map[string]string{"id": "0x101", "codec_name": "aac", "profile": "LC", "sample_rate": "48000", "channels": "2"}, audio[0])
	packets := probe("-select_streams", "v", "-show_entries", "packet=flags")
	require.Len(t, packets, 750, "30 s at 25 fps")
	for i, p := range packets {
		assert.Equal(t, i%25 == 0, strings.HasPrefix(p["flags"], "K"), "frame %d: a keyframe every 25 frames", i)
	}
}

// TestTSColourBars decodes the first frame and checks the colour bars the
// package comment describes.
func TestTSColourBars(t *testing.T) {
	needTool(t, "ffmpeg")
	cmd := exec.Command("ffmpeg", "-v", "error", "-i", "-", "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "rgb24", "-")
	cmd.Stdin = bytes.NewReader(TS)
	frame, err := cmd.Output()
	require.NoError(t, err)
	const width, height = 640, 360
	require.Len(t, frame, width*height*3)
	pixel := func(x, y int) [3]int {
		i := (y*width + x) * 3
		return [3]int{int(frame[i]), int(frame[i+1]), int(frame[i+2])}
	}
	bars := [][3]int{{190, 190, 190}, {190, 190, 0}, {0, 190, 190}, {0, 190, 0}, {190, 0, 190}, {190, 0, 0}, {0, 0, 190}}
	for i, want := range bars {
		x := (2*i + 1) * width / 14 // the middle of bar i
		for _, y := range []int{10, 40, 70} {
			got := pixel(x, y)
			for c := range 3 {
				assert.InDelta(t, want[c], got[c], 6, "bar %d at (%d,%d): %v", i, x, y, got)
			}
		}
	}
	for _, tt := range []struct {
		x, y int
		want [3]int
	}{{45, 100, [3]int{0, 61, 103}}, {170, 100, [3]int{255, 255, 255}}} {
		got := pixel(tt.x, tt.y)
		for c := range 3 {
			assert.InDelta(t, tt.want[c], got[c], 6, "(%d,%d): %v", tt.x, tt.y, got)
		}
	}
}

// needTool skips the test without the named program, except in CI (.ci/run
// sets CI and installs ffmpeg), where its absence is a failure.
func needTool(t *testing.T, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is not installed (.ci/run installs ffmpeg)", name)
		}
		t.Skipf("%s is not installed (make deps installs ffmpeg)", name)
	}
}
