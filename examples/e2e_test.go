// Package examples_test runs the example programs as separate processes on
// loopback TCP, as users run them.
package examples_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// build compiles the named example programs into a temp dir.
func build(t testing.TB, names ...string) string {
	t.Helper()
	dir := t.TempDir()
	args := []string{"build", "-o", dir + string(filepath.Separator)}
	for _, n := range names {
		args = append(args, "./"+n)
	}
	out, err := exec.Command("go", args...).CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	return dir
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// start runs a program until the test ends, logging its output on failure.
func start(t *testing.T, bin string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("%s output:\n%s", filepath.Base(bin), out.String())
		}
	})
	return cmd
}

func waitHTTP(t *testing.T, url string) {
	t.Helper()
	require.Eventually(t, func() bool {
		conn, err := net.Dial("tcp", url)
		if err == nil {
			conn.Close()
		}
		return err == nil
	}, 30*time.Second, 100*time.Millisecond, "nothing listens on %s", url)
}

// needFFprobe fails the test if ffprobe is missing (CI installs it).
func needFFprobe(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("ffprobe"); err != nil {
		t.Fatal("ffprobe is needed (apt-get install ffmpeg; make test installs it)")
	}
}

// startTracker starts the tracker built in bin on a free loopback port,
// with args, waits until it listens, and returns its URL.
func startTracker(t *testing.T, bin string, args ...string) string {
	t.Helper()
	addr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	start(t, filepath.Join(bin, "tracker"), append([]string{"-addr", addr}, args...)...)
	waitHTTP(t, addr)
	return "http://" + addr
}

// TestProgramsLiveOverTCP runs tracker, broadcaster and two peers as
// processes, in stripe trees (the default) and pulling chunks (-pull); the second peer
// writes 15 s of the stream to a file that ffprobe must read as H.264 + AAC
// MPEG-TS covering at least 10 s.
func TestProgramsLiveOverTCP(t *testing.T) {
	needFFprobe(t)
	bin := build(t, "tracker", "broadcaster", "peer")
	for _, pull := range []bool{false, true} {
		t.Run(map[bool]string{false: "trees", true: "pull"}[pull], func(t *testing.T) { testProgramsLive(t, bin, pull) })
	}
}

// testProgramsLive runs TestProgramsLiveOverTCP with the programs in bin.
func testProgramsLive(t *testing.T, bin string, pull bool) {
	url := startTracker(t, bin)
	var extra []string
	if pull {
		extra = []string{"-pull"}
	}
	start(t, filepath.Join(bin, "broadcaster"), append([]string{"-tracker", url, "-listen", "127.0.0.1:0"}, extra...)...)
	start(t, filepath.Join(bin, "peer"), append([]string{"-tracker", url, "-listen", "127.0.0.1:0"}, extra...)...)

	out := filepath.Join(t.TempDir(), "out.ts")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	peer := exec.CommandContext(ctx, filepath.Join(bin, "peer"), append([]string{"-tracker", url, "-listen", "127.0.0.1:0", "-out", out, "-duration", "15s"}, extra...)...)
	log, err := peer.CombinedOutput()
	require.NoError(t, err, "peer: %s", log)

	probe, err := exec.Command("ffprobe", "-v", "error", "-show_format", "-show_streams", "-of", "json", out).Output()
	require.NoError(t, err)
	var info struct {
		Format struct {
			FormatName string `json:"format_name"`
			Duration   string `json:"duration"`
		} `json:"format"`
		Streams []struct {
			CodecType string `json:"codec_type"`
			CodecName string `json:"codec_name"`
		} `json:"streams"`
	}
	require.NoError(t, json.Unmarshal(probe, &info))
	codecs := map[string]string{}
	for _, s := range info.Streams {
		codecs[s.CodecType] = s.CodecName
	}
	assert.Equal(t, "mpegts", info.Format.FormatName)
	assert.Equal(t, "h264", codecs["video"])
	assert.Equal(t, "aac", codecs["audio"])
	d, err := strconv.ParseFloat(info.Format.Duration, 64)
	require.NoError(t, err)
	assert.GreaterOrEqual(t, d, 10.0, "the file covers at least 10 s")
	fmt.Fprintf(os.Stderr, "peer wrote %s covering %.1f s\n", out, d)
}

// TestProgramsVODOverTCP publishes a file on demand (broadcaster -vod) and
// fetches it with a peer process (-out, -download-dir): the peer stops when
// the file is complete, the file is the published one byte for byte, and
// the peer's download file is gone once it has exited.
func TestProgramsVODOverTCP(t *testing.T) {
	bin := build(t, "tracker", "broadcaster", "peer")
	src := filepath.Join(t.TempDir(), "film.ts")
	data := make([]byte, 5<<20+4321)
	for i := range data {
		data[i] = byte(i*31 + i>>11)
	}
	require.NoError(t, os.WriteFile(src, data, 0o644))
	url := startTracker(t, bin)
	start(t, filepath.Join(bin, "broadcaster"), "-tracker", url, "-listen", "127.0.0.1:0", "-vod", src)

	out := filepath.Join(t.TempDir(), "out.ts")
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	peer := exec.CommandContext(ctx, filepath.Join(bin, "peer"), "-tracker", url, "-listen", "127.0.0.1:0",
		"-out", out, "-download-dir", dir, "-duration", "60s")
	log, err := peer.CombinedOutput()
	require.NoError(t, err, "peer: %s", log)
	assert.Contains(t, string(log), "download complete")
	got, err := os.ReadFile(out)
	require.NoError(t, err)
	assert.True(t, bytes.Equal(data, got), "the file fetched is the one published (%d bytes, want %d)", len(got), len(data))
	left, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Empty(t, left, "the download file is removed when the peer stops")

	// A peer with -http serves the file to players, seeking included.
	httpAddr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	start(t, filepath.Join(bin, "peer"), "-tracker", url, "-listen", "127.0.0.1:0", "-http", httpAddr)
	waitHTTP(t, httpAddr)
	for _, tc := range []struct {
		rng  string
		want []byte
	}{
		{"bytes=3000000-3000999", data[3000000:3001000]},
		{"", data},
	} {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+httpAddr+"/", nil)
		require.NoError(t, err)
		if tc.rng != "" {
			req.Header.Set("Range", tc.rng)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.NoError(t, err)
		assert.True(t, bytes.Equal(tc.want, body), "range %q: %d bytes, want %d", tc.rng, len(body), len(tc.want))
	}
}

// TestProgramsVODSeekOverHTTP publishes the sample video on demand and
// lets ffprobe, a real player's demuxer, read it through a peer's -http:
// it finds the whole duration (read from the file's end by a range
// request) and, seeking to 20 s, decodes frames from there.
func TestProgramsVODSeekOverHTTP(t *testing.T) {
	needFFprobe(t)
	bin := build(t, "tracker", "broadcaster", "peer")
	url := startTracker(t, bin)
	start(t, filepath.Join(bin, "broadcaster"), "-tracker", url, "-listen", "127.0.0.1:0", "-vod", filepath.Join("..", "internal", "sample", "sample.ts"))
	httpAddr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	start(t, filepath.Join(bin, "peer"), "-tracker", url, "-listen", "127.0.0.1:0", "-http", httpAddr)
	waitHTTP(t, httpAddr)

	probe := func(args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		args = append([]string{"-v", "error"}, append(args, "-of", "csv=p=0", "http://"+httpAddr+"/")...)
		out, err := exec.CommandContext(ctx, "ffprobe", args...).CombinedOutput()
		require.NoError(t, err, "ffprobe %v: %s", args, out)
		return strings.TrimSpace(string(out))
	}
	duration, err := strconv.ParseFloat(probe("-show_entries", "format=duration"), 64)
	require.NoError(t, err)
	assert.InDelta(t, 30.02, duration, 0.1, "the sample's duration")
	// The sample's first frame is stamped 1.4 s; a keyframe every second.
	first, _, _ := strings.Cut(probe("-read_intervals", "20%+0.5", "-select_streams", "v", "-show_entries", "frame=pts_time"), "\n")
	pts, err := strconv.ParseFloat(first, 64)
	require.NoError(t, err, "first frame after seeking: %q", first)
	assert.InDelta(t, 20.4, pts, 1.1, "the first frame decoded after seeking to 20 s")
}

// TestPeerProcessKilled runs a tracker, a broadcaster, three relay peers and
// a viewer as processes on loopback TCP, and kills two relays (SIGKILL, no
// goodbye) while the viewer plays. The viewer must carry on from the other
// peers: its file covers the whole run and its continuity stays high.
func TestPeerProcessKilled(t *testing.T) {
	needFFprobe(t)
	bin := build(t, "tracker", "broadcaster", "peer")
	url := startTracker(t, bin, "-interval", "1s")
	start(t, filepath.Join(bin, "broadcaster"), "-tracker", url, "-listen", "127.0.0.1:0")
	var relays []*exec.Cmd
	for range 3 {
		relays = append(relays, start(t, filepath.Join(bin, "peer"), "-tracker", url, "-listen", "127.0.0.1:0"))
	}

	const run = 24 * time.Second
	out := filepath.Join(t.TempDir(), "out.ts")
	ctx, cancel := context.WithTimeout(context.Background(), 3*run)
	defer cancel()
	viewer := exec.CommandContext(ctx, filepath.Join(bin, "peer"), "-tracker", url, "-listen", "127.0.0.1:0", "-out", out, "-duration", run.String())
	var log bytes.Buffer
	viewer.Stdout, viewer.Stderr = &log, &log
	require.NoError(t, viewer.Start())
	// Kill two relays a third of the way in, once the viewer is playing
	// (its file has data).
	require.Eventually(t, func() bool {
		fi, err := os.Stat(out)
		return err == nil && fi.Size() > 0
	}, run, 100*time.Millisecond, "the viewer starts playing")
	time.Sleep(run / 3) // let the viewer settle on its peers before the fault
	for _, r := range relays[:2] {
		require.NoError(t, r.Process.Kill())
	}
	err := viewer.Wait()
	require.NoError(t, err, "viewer: %s", log.String())

	probe, err := exec.Command("ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", out).Output()
	require.NoError(t, err)
	d, err := strconv.ParseFloat(string(bytes.TrimSpace(probe)), 64)
	require.NoError(t, err)
	last := lastStatus(log.String())
	t.Logf("viewer after two relays were killed: file covers %.1f s of a %v run; %s", d, run, last)
	assert.GreaterOrEqual(t, d, (run - 8*time.Second).Seconds(), "the file covers the run, less joining and the playout delay")
	var cont float64
	_, err = fmt.Sscanf(last[strings.Index(last, "continuity "):], "continuity %f%%", &cont)
	require.NoError(t, err, "status line %q", last)
	assert.GreaterOrEqual(t, cont, 95.0, "continuity in percent")
}

// lastStatus returns the last status line a peer printed (the "stopping"
// log line carries one too).
func lastStatus(log string) string {
	lines := strings.Split(strings.TrimSpace(log), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.Contains(lines[i], "continuity ") {
			return lines[i]
		}
	}
	return ""
}
