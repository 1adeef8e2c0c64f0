package p2pstream_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/p2pstream/p2pstream"
	"github.com/p2pstream/p2pstream/internal/ts"
)

// chromium returns the path of a Chromium or Chrome binary. Without one the
// test fails in CI (CI set; .ci/run installs Debian's chromium) and is
// skipped elsewhere.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("no chromium on PATH (.ci/run installs Debian's chromium package)")
	}
	t.Skip("no chromium on PATH: apt-get install chromium")
	return ""
}

// headless runs Chromium on url for budget of page time, then returns what
// it was told to produce: the DOM (--dump-dom) or nothing (--screenshot).
func headless(t *testing.T, bin, url string, budget time.Duration, extra ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), budget+2*time.Minute)
	defer cancel()
	args := append([]string{
		"--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
		"--no-first-run", "--disable-extensions", "--user-data-dir=" + t.TempDir(),
		"--virtual-time-budget=" + strconv.FormatInt(budget.Milliseconds(), 10),
	}, extra...)
	cmd := exec.CommandContext(ctx, bin, append(args, url)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Run(), "chromium: %s", stderr.String())
	return stdout.String()
}

// TestDashboardInChromium opens the tracker's dashboard in headless
// Chromium while a live stream plays to eight viewers, and checks that the
// page shows the stream's figures and updates them without reloading. With
// DASHBOARD_SCREENSHOT=file.png it also saves a screenshot (docs/img/dashboard.png
// was made so).
func TestDashboardInChromium(t *testing.T) {
	bin := chromium(t)
	sw := newSwarm(t)
	// The swarm runs on transport.Mem; the browser reaches the same tracker
	// over loopback TCP. Chromium's page clock runs ahead of the real one
	// while nothing is pending, so each update is held back a little: the
	// page's updates then span seconds of the swarm's real time, in which
	// viewers announce new figures.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	h := sw.tracker.Handler()
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("fragment") != "" {
			select {
			case <-time.After(300 * time.Millisecond):
			case <-r.Context().Done():
			}
		}
		h.ServeHTTP(w, r)
	})}
	go srv.Serve(ln)
	defer srv.Close()
	base := "http://" + ln.Addr().String()

	src := ts.Synthetic(2*time.Minute, 2_000_000, 500*time.Millisecond)
	pub := sw.peer()
	live, err := pub.Publish(context.Background(), bytes.NewReader(src), p2pstream.PublishOptions{Name: "Studio A · main camera", ChunkDuration: 500 * time.Millisecond})
	require.NoError(t, err)
	_, streams := sw.join(live.ID(), 8)
	require.Eventually(t, func() bool {
		st, err := (&p2pstream.TrackerClient{URL: sw.url, Transport: sw.net.Host("10.0.2.1")}).Stream(context.Background(), live.ID())
		return err == nil && st.Viewers == 8 && st.Received > 0
	}, 30*time.Second, 100*time.Millisecond, "every viewer announced and received")

	dom := headless(t, bin, base+"/?refresh=0.5", 8*time.Second, "--dump-dom")
	require.Contains(t, dom, "Studio A · main camera")

	updates := regexp.MustCompile(`<body[^>]*data-updates="(\d+)"`).FindStringSubmatch(dom)
	require.NotNil(t, updates, "body carries the update count")
	n, _ := strconv.Atoi(updates[1])
	assert.GreaterOrEqual(t, n, 3, "the page fetched its live part again and again without reloading")

	stat := func(name string) string {
		m := regexp.MustCompile(`data-stat="` + name + `">([^<]*)<`).FindStringSubmatch(dom)
		require.NotNil(t, m, "stat %s on the page", name)
		return m[1]
	}
	assert.Equal(t, "8", stat("viewers"))
	assert.Regexp(t, `^\d+\.\d%$`, stat("continuity"))
	assert.Regexp(t, `^\d+\.\d%$`, stat("p2p"))
	assert.Regexp(t, `^\d+\.\d%$`, stat("saving"))
	assert.Regexp(t, `^\d+ ms$|^\d+\.\d s$`, stat("lag"))
	assert.Contains(t, dom, "<polyline", "the history chart is drawn")

	hist := regexp.MustCompile(`data-received-history="([\d,]+)"`).FindStringSubmatch(dom)
	require.NotNil(t, hist, "the chart keeps the received bytes it has seen")
	samples := strings.Split(hist[1], ",")
	distinct := map[string]bool{}
	for _, s := range samples {
		distinct[s] = true
	}
	assert.GreaterOrEqual(t, len(distinct), 2, "the bytes received changed while the page was open: %v", samples)
	t.Logf("chromium: %d updates in one page load; received bytes seen: %v; viewers %s, continuity %s, P2P %s, source saved %s, lag %s",
		n, samples, stat("viewers"), stat("continuity"), stat("p2p"), stat("saving"), stat("lag"))

	if path := os.Getenv("DASHBOARD_SCREENSHOT"); path != "" {
		// More viewers join while the page is open, for a livelier chart.
		joined := make(chan struct{})
		go func() {
			defer close(joined)
			for range 6 {
				time.Sleep(2 * time.Second)
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				if s, err := sw.peer().Join(ctx, live.ID(), &collector{}); err == nil {
					streams = append(streams, s)
				}
				cancel()
			}
		}()
		headless(t, bin, base+"/?refresh=0.5", 30*time.Second, "--screenshot="+path, "--window-size=1280,1040", "--hide-scrollbars")
		<-joined
		t.Logf("screenshot saved to %s", path)
	}
	for _, s := range streams {
		s.Close()
	}
}

// TestDashboardEndpoints: the page's script and live fragment are served
// with the right types, and the page allows only its own script.
func TestDashboardEndpoints(t *testing.T) {
	tr := &p2pstream.Tracker{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go tr.Serve(ln)
	defer tr.Close()
	base := "http://" + ln.Addr().String()
	hc := &http.Client{Transport: &http.Transport{}}
	defer hc.CloseIdleConnections()
	get := func(path string) (*http.Response, string) {
		resp, err := hc.Get(base + path)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.StatusCode, path)
		return resp, string(b)
	}
	resp, page := get("/")
	assert.Contains(t, resp.Header.Get("Content-Security-Policy"), "script-src 'self'")
	assert.Contains(t, page, "<!doctype html>")
	resp, js := get("/dashboard.js")
	assert.Equal(t, "text/javascript; charset=utf-8", resp.Header.Get("Content-Type"))
	assert.Contains(t, js, `fetch("/?fragment=live"`)
	_, frag := get("/?fragment=live")
	assert.NotContains(t, frag, "<html")
	assert.Contains(t, frag, "No streams yet")
}
