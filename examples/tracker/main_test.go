package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/p2pstream/p2pstream"
)

// redisURL returns the URL of the test Redis ($REDIS_ADDR, default
// 127.0.0.1:6379). Without one the test fails in CI (CI set; .ci/run starts
// redis-server) and is skipped elsewhere.
func redisURL(t *testing.T) string {
	t.Helper()
	addr := os.Getenv("REDIS_ADDR")
	if addr == "" {
		addr = "127.0.0.1:6379"
	}
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	defer rdb.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("redis at %s: %v (CI starts redis-server on loopback: see .ci/run)", addr, err)
		}
		t.Skipf("no redis at %s (%v)", addr, err)
	}
	return "redis://" + addr + "/0"
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().String()
}

// startTracker runs the tracker binary with args until the test ends and
// waits until it serves addr.
func startTracker(t *testing.T, bin, addr string, args ...string) {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"-addr", addr}, args...)...)
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
			t.Logf("tracker %s output:\n%s", addr, out.String())
		}
	})
	require.Eventually(t, func() bool {
		resp, err := http.Get("http://" + addr + "/streams")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil && resp.StatusCode == http.StatusOK
	}, 30*time.Second, 100*time.Millisecond, "tracker on %s", addr)
}

// TestTrackerProcessesShareRedis runs two tracker processes on one Redis: a
// peer announced to one is returned by the other, and the first one's
// -metrics endpoint counts the announce.
func TestTrackerProcessesShareRedis(t *testing.T) {
	url := redisURL(t)
	dir := t.TempDir()
	out, err := exec.Command("go", "build", "-o", dir, ".").CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	bin := filepath.Join(dir, "tracker")

	var b [6]byte
	_, _ = rand.Read(b[:])
	prefix := "p2pstream-test:" + hex.EncodeToString(b[:]) + ":"
	a, c, metrics := freeAddr(t), freeAddr(t), freeAddr(t)
	startTracker(t, bin, a, "-redis", url, "-redis-prefix", prefix, "-metrics", metrics)
	startTracker(t, bin, c, "-redis", url, "-redis-prefix", prefix)

	ca := &p2pstream.TrackerClient{URL: "http://" + a}
	defer ca.Close()
	cc := &p2pstream.TrackerClient{URL: "http://" + c}
	defer cc.Close()
	ctx := context.Background()
	pub, key, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	var id p2pstream.StreamID
	copy(id[:], pub)
	source, viewer := p2pstream.PeerID{0: 1, 15: 1}, p2pstream.PeerID{0: 2, 15: 1}
	info := &p2pstream.StreamInfo{ID: id, Kind: p2pstream.KindLive, Name: "two trackers"}
	signed := p2pstream.Announce{Stream: id, Peer: source, Addr: ":6000", Info: info}
	signed.SignInfo(key)
	_, err = ca.Announce(ctx, signed)
	require.NoError(t, err)
	resp, err := cc.Announce(ctx, p2pstream.Announce{Stream: id, Peer: viewer, Addr: ":6001"})
	require.NoError(t, err)
	require.Len(t, resp.Peers, 1, "the other tracker knows the source")
	assert.Equal(t, p2pstream.PeerAddr{ID: source, Addr: "127.0.0.1:6000", Source: true}, resp.Peers[0])
	require.NotNil(t, resp.Info)
	assert.Equal(t, "two trackers", resp.Info.Name)
	st, err := ca.Stream(ctx, id)
	require.NoError(t, err)
	assert.Equal(t, 2, st.Peers, "and the first knows the viewer")

	mresp, err := http.Get("http://" + metrics + "/metrics")
	require.NoError(t, err)
	body, err := io.ReadAll(mresp.Body)
	mresp.Body.Close()
	require.NoError(t, err)
	assert.Contains(t, string(body), `p2pstream_tracker_announces_total{code="200"} 1`)
	assert.Contains(t, string(body), `p2pstream_tracker_stream_peers{name="two trackers",stream="`+id.String()+`"} 2`)
}

// TestTrackerRedisUnreachable: a tracker told to use a Redis it cannot
// reach stops at once with a clear error, rather than serving without it.
func TestTrackerRedisUnreachable(t *testing.T) {
	dir := t.TempDir()
	out, err := exec.Command("go", "build", "-o", dir, ".").CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(dir, "tracker"), "-addr", freeAddr(t), "-redis", "redis://"+freeAddr(t)+"/0")
	out, err = cmd.CombinedOutput()
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit, "output: %s", out)
	assert.Equal(t, 1, exit.ExitCode())
	assert.True(t, strings.Contains(string(out), "-redis redis://127.0.0.1:"), "output: %s", out)
}
