package p2pstream

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeClock is a clock that moves only when told to.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	// Now, to the second: signed announces carry the real time (SigTime).
	return &fakeClock{t: time.Now().UTC().Truncate(time.Second)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// serveTracker serves tr on a fresh loopback port. It returns the tracker's
// URL and a function that closes it and checks that Serve returned
// ErrTrackerClosed; the test's cleanup calls it too.
func serveTracker(t *testing.T, tr *Tracker) (url string, stop func()) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	return serveTrackerOn(t, tr, ln)
}

func serveTrackerOn(t *testing.T, tr *Tracker, ln net.Listener) (url string, stop func()) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- tr.Serve(ln) }()
	stop = sync.OnceFunc(func() {
		require.NoError(t, tr.Close())
		require.ErrorIs(t, <-done, ErrTrackerClosed)
	})
	t.Cleanup(stop)
	return "http://" + ln.Addr().String(), stop
}

// newTestClient returns a client of url that is closed with the test.
func newTestClient(t *testing.T, url string) *TrackerClient {
	c := &TrackerClient{URL: url}
	t.Cleanup(c.Close)
	return c
}

// testStreamID returns the ID of test stream n: the public key of
// testStreamKey(n), as a live stream's ID is.
func testStreamID(n byte) StreamID {
	var id StreamID
	copy(id[:], testStreamKey(n).Public().(ed25519.PublicKey))
	testStreamKeys.Store(id, testStreamKey(n))
	return id
}

func testPeerID(n int) PeerID { return PeerID{0: 0xcd, 1: byte(n >> 8), 2: byte(n), 15: 1} }

// announce announces peer n of stream id on port 6000+n, with its info
// signed, and fails the test on error.
func announce(t *testing.T, c *TrackerClient, id StreamID, n int, info *StreamInfo) AnnounceResponse {
	t.Helper()
	resp, err := c.Announce(context.Background(), signedAnnounce(Announce{
		Stream: id, Peer: testPeerID(n), Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(6000+n)), Info: info,
	}))
	require.NoError(t, err)
	return resp
}

func liveInfo(id StreamID, name string) *StreamInfo {
	return &StreamInfo{ID: id, Kind: KindLive, Name: name, ChunkDuration: time.Second, Bitrate: 2_000_000}
}

func TestTrackerAnnounceReturnsOthers(t *testing.T) {
	tests := []struct {
		name     string
		peers    int
		maxPeers int
		want     int // peers in the last peer's answer
	}{
		{"alone", 1, 0, 0},
		{"two others", 3, 0, 2},
		{"exactly max", 6, 5, 5},
		{"more than max", 40, 5, 5},
		{"default max", 40, 0, defaultTrackerMaxPeers},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// AnnounceRate: 40 announces from one address in a blink.
			url, _ := serveTracker(t, &Tracker{MaxPeers: tt.maxPeers, AnnounceRate: -1})
			c := newTestClient(t, url)
			id := testStreamID(1)
			known := map[PeerID]string{}
			var resp AnnounceResponse
			for n := range tt.peers {
				resp = announce(t, c, id, n, nil)
				known[testPeerID(n)] = "127.0.0.1:" + strconv.Itoa(6000+n)
			}
			last := testPeerID(tt.peers - 1)
			assert.Equal(t, defaultTrackerInterval, resp.Interval)
			assert.Nil(t, resp.Info, "nobody registered the stream")
			require.Len(t, resp.Peers, tt.want)
			seen := map[PeerID]bool{}
			for _, p := range resp.Peers {
				assert.NotEqual(t, last, p.ID, "a peer is not told about itself")
				assert.False(t, seen[p.ID], "peer %s twice", p.ID)
				seen[p.ID] = true
				assert.Equal(t, known[p.ID], p.Addr)
			}
		})
	}
}

func TestTrackerSourceAlwaysIncluded(t *testing.T) {
	url, _ := serveTracker(t, &Tracker{MaxPeers: 3, Interval: 2 * time.Second})
	c := newTestClient(t, url)
	id := testStreamID(1)
	info := liveInfo(id, "news")

	resp := announce(t, c, id, 0, info)
	assert.Empty(t, resp.Peers, "the publisher is not told about itself")
	require.NotNil(t, resp.Info)
	assert.Equal(t, *info, *resp.Info)
	assert.Equal(t, 2*time.Second, resp.Interval)

	for n := 1; n <= 20; n++ {
		resp := announce(t, c, id, n, nil)
		require.NotNil(t, resp.Info, "viewer %d learns the stream", n)
		assert.Equal(t, "news", resp.Info.Name)
		require.NotEmpty(t, resp.Peers)
		assert.LessOrEqual(t, len(resp.Peers), 3)
		assert.Equal(t, PeerAddr{ID: testPeerID(0), Addr: "127.0.0.1:6000", Source: true}, resp.Peers[0],
			"viewer %d gets the source first", n)
		for _, p := range resp.Peers[1:] {
			assert.False(t, p.Source)
		}
	}
}

func TestTrackerUsesRemoteIP(t *testing.T) {
	tests := []struct {
		claimed string
		want    string
	}{
		{"203.0.113.9:6001", "127.0.0.1:6001"},
		{":6002", "127.0.0.1:6002"},
		{"[2001:db8::1]:6003", "127.0.0.1:6003"},
		{"victim.example:6004", "127.0.0.1:6004"},
		{"127.0.0.1:06005", "127.0.0.1:6005"},
	}
	url, _ := serveTracker(t, &Tracker{})
	c := newTestClient(t, url)
	id := testStreamID(1)
	for i, tt := range tests {
		_, err := c.Announce(context.Background(), Announce{Stream: id, Peer: testPeerID(i), Addr: tt.claimed})
		require.NoError(t, err, tt.claimed)
	}
	st, err := c.Stream(context.Background(), id)
	require.NoError(t, err)
	require.Len(t, st.PeerList, len(tests))
	for i, tt := range tests {
		assert.Equal(t, tt.want, st.PeerList[i].Addr, "claimed %s", tt.claimed)
	}
}

func TestTrackerTTLExpiry(t *testing.T) {
	clk := newFakeClock()
	url, _ := serveTracker(t, &Tracker{TTL: 10 * time.Second, now: clk.Now})
	c := newTestClient(t, url)
	ctx := context.Background()
	id := testStreamID(1)

	announce(t, c, id, 0, liveInfo(id, "live")) // the publisher, at 0 s
	clk.Advance(9 * time.Second)
	announce(t, c, id, 1, nil) // a viewer, at 9 s

	clk.Advance(time.Second) // 10 s: the publisher's entry is TTL old
	resp := announce(t, c, id, 1, nil)
	assert.Empty(t, resp.Peers, "the publisher expired")
	require.NotNil(t, resp.Info, "the stream lives on with its viewer")
	st, err := c.Stream(ctx, id)
	require.NoError(t, err)
	assert.Equal(t, 1, st.Peers)

	clk.Advance(9 * time.Second) // 19 s: the viewer announced at 10 s
	list, err := c.Streams(ctx)
	require.NoError(t, err)
	assert.Len(t, list, 1, "the viewer is still live")

	clk.Advance(time.Second) // 20 s: nobody has announced for TTL
	list, err = c.Streams(ctx)
	require.NoError(t, err)
	assert.Empty(t, list)
	_, err = c.Stream(ctx, id)
	require.ErrorIs(t, err, ErrStreamNotFound)

	// A stream that expired forgets its info: the next peer finds it unknown.
	resp = announce(t, c, id, 2, nil)
	assert.Nil(t, resp.Info)
	assert.Empty(t, resp.Peers)
}

func TestTrackerStoppedEvent(t *testing.T) {
	url, _ := serveTracker(t, &Tracker{})
	c := newTestClient(t, url)
	ctx := context.Background()
	id := testStreamID(1)
	announce(t, c, id, 0, liveInfo(id, "live"))
	announce(t, c, id, 1, nil)

	stop := func(n int) {
		// A leaving peer's address does not matter.
		resp, err := c.Announce(ctx, Announce{Stream: id, Peer: testPeerID(n), Event: "stopped"})
		require.NoError(t, err)
		assert.Empty(t, resp.Peers)
		assert.NotZero(t, resp.Interval)
	}
	stop(1)
	st, err := c.Stream(ctx, id)
	require.NoError(t, err)
	assert.Equal(t, 1, st.Peers)
	assert.Equal(t, 0, st.Viewers)

	stop(0)
	_, err = c.Stream(ctx, id)
	require.ErrorIs(t, err, ErrStreamNotFound, "the last peer left")
	stop(0) // stopping twice, or an unknown peer, is harmless
}

// TestTrackerRelearnsAfterRestart: a new tracker on the same address learns
// the stream again from the announces that follow.
func TestTrackerRelearnsAfterRestart(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	_, stop := serveTrackerOn(t, &Tracker{}, ln)
	c := newTestClient(t, "http://"+addr)
	id := testStreamID(1)
	info := liveInfo(id, "restart")
	announce(t, c, id, 0, info)
	announce(t, c, id, 1, nil)
	stop()

	ln, err = net.Listen("tcp", addr)
	require.NoError(t, err)
	serveTrackerOn(t, &Tracker{}, ln)

	resp := announce(t, c, id, 1, nil)
	assert.Nil(t, resp.Info, "the new tracker does not know the stream yet")
	assert.Empty(t, resp.Peers)
	st, err := c.Stream(context.Background(), id)
	require.NoError(t, err, "the viewer is recorded anyway")
	assert.False(t, st.Registered())

	resp = announce(t, c, id, 0, info)
	assert.Equal(t, info, resp.Info)
	assert.Equal(t, []PeerAddr{{ID: testPeerID(1), Addr: "127.0.0.1:6001"}}, resp.Peers)

	resp = announce(t, c, id, 1, nil)
	assert.Equal(t, info, resp.Info, "the viewer learns the stream again")
	assert.Equal(t, []PeerAddr{{ID: testPeerID(0), Addr: "127.0.0.1:6000", Source: true}}, resp.Peers)
}

func TestTrackerBadAnnounce(t *testing.T) {
	id := testStreamID(1).String()
	peer := testPeerID(1).String()
	valid := func(extra string) string {
		return `{"stream":"` + id + `","peer":"` + peer + `","addr":"127.0.0.1:6000"` + extra + `}`
	}
	tests := []struct {
		name   string
		body   string
		status int
		msg    string
	}{
		{"empty body", "", 400, "empty body"},
		{"not JSON", "hello", 400, "malformed JSON"},
		{"truncated", `{"stream":`, 400, "malformed JSON"},
		{"array", `[]`, 400, "cannot unmarshal array"},
		{"trailing data", valid("") + `{}`, 400, "data after the JSON object"},
		{"oversized", valid(`,"pad":"` + strings.Repeat("x", defaultTrackerBodyBytes) + `"`), 413, "body larger than 65536 bytes"},
		{"short stream ID", `{"stream":"abcd","peer":"` + peer + `","addr":":6000"}`, 400, `stream ID "abcd": want 64 hex digits`},
		{"non-hex stream ID", `{"stream":"` + strings.Repeat("zz", 32) + `","peer":"` + peer + `","addr":":6000"}`, 400, "invalid byte"},
		{"zero stream ID", `{"peer":"` + peer + `","addr":":6000"}`, 400, "stream ID is zero"},
		{"zero peer ID", `{"stream":"` + id + `","addr":":6000"}`, 400, "peer ID is zero"},
		{"bad peer ID", `{"stream":"` + id + `","peer":"12","addr":":6000"}`, 400, `peer ID "12": want 32 hex digits`},
		{"no addr", `{"stream":"` + id + `","peer":"` + peer + `"}`, 400, "want host:port"},
		{"no port", `{"stream":"` + id + `","peer":"` + peer + `","addr":"10.0.0.1"}`, 400, "want host:port"},
		{"port 0", `{"stream":"` + id + `","peer":"` + peer + `","addr":"10.0.0.1:0"}`, 400, "port must be a number from 1 to 65535"},
		{"port too big", `{"stream":"` + id + `","peer":"` + peer + `","addr":"10.0.0.1:65536"}`, 400, "port must be"},
		{"port not a number", `{"stream":"` + id + `","peer":"` + peer + `","addr":"10.0.0.1:http"}`, 400, "port must be"},
		{"unknown event", valid(`,"event":"paused"`), 400, `unknown event "paused"`},
		{"info for another stream", valid(`,"info":{"id":"` + testStreamID(2).String() + `","kind":"live"}`), 400, "is not the announced stream"},
		{"info without kind", valid(`,"info":{"id":"` + id + `"}`), 400, `info.kind ""`},
		{"long name", valid(`,"info":{"id":"` + id + `","kind":"vod","name":"` + strings.Repeat("n", 300) + `"}`), 400, "info.name is 300 bytes"},
		{"wrong type", valid(`,"stats":{"peers":"many"}`), 400, "cannot unmarshal string"},
		{"valid", valid(""), 200, ""},
		{"valid, unknown fields ignored", valid(`,"future":1`), 200, ""},
	}
	url, _ := serveTracker(t, &Tracker{})
	hc := &http.Client{Transport: &http.Transport{}}
	defer hc.CloseIdleConnections()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := hc.Post(url+"/announce", "application/json", strings.NewReader(tt.body))
			require.NoError(t, err)
			defer resp.Body.Close()
			assert.Equal(t, tt.status, resp.StatusCode)
			assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
			if tt.status == http.StatusOK {
				return
			}
			var e errorBody
			require.NoError(t, json.NewDecoder(resp.Body).Decode(&e))
			assert.Contains(t, e.Error, tt.msg)
		})
	}
}

func TestTrackerGetEndpoints(t *testing.T) {
	url, _ := serveTracker(t, &Tracker{})
	c := newTestClient(t, url)
	ctx := context.Background()
	news, sport := testStreamID(1), testStreamID(2)
	announce(t, c, sport, 0, liveInfo(sport, "sport"))
	announce(t, c, news, 1, liveInfo(news, "news"))
	_, err := c.Announce(ctx, Announce{Stream: news, Peer: testPeerID(2), Addr: ":6002",
		Stats: Stats{Continuity: 0.5, BytesFromPeers: 300, BytesFromSource: 100, Lag: 2 * time.Second, Bans: 1}})
	require.NoError(t, err)
	orphan := testStreamID(3) // announced by a viewer only
	announce(t, c, orphan, 3, nil)

	list, err := c.Streams(ctx)
	require.NoError(t, err)
	require.Len(t, list, 3)
	assert.Equal(t, []string{"news", "sport", ""}, []string{list[0].Info.Name, list[1].Info.Name, list[2].Info.Name},
		"registered streams by name, then the others")
	assert.Equal(t, orphan, list[2].Info.ID)
	assert.False(t, list[2].Registered())
	assert.Nil(t, list[0].PeerList, "the listing has no peer lists")
	assert.Equal(t, 2, list[0].Peers)
	assert.Equal(t, 1, list[0].Viewers)
	assert.InDelta(t, 0.75, list[0].P2PRatio, 1e-9)

	st, err := c.Stream(ctx, news)
	require.NoError(t, err)
	assert.Equal(t, *liveInfo(news, "news"), st.Info)
	assert.Equal(t, 0.5, st.Continuity)
	assert.Equal(t, int64(400), st.Received)
	assert.Equal(t, 2*time.Second, st.LagP50)
	assert.Equal(t, 1, st.Bans)
	require.Len(t, st.PeerList, 2)
	assert.True(t, st.PeerList[0].Source, "the source comes first")
	assert.Equal(t, "127.0.0.1:6001", st.PeerList[0].Addr)
	assert.Equal(t, testPeerID(2), st.PeerList[1].ID)
	assert.Equal(t, int64(300), st.PeerList[1].Stats.BytesFromPeers)
	assert.WithinDuration(t, time.Now(), st.PeerList[1].LastSeen, time.Minute)

	_, err = c.Stream(ctx, testStreamID(9))
	require.ErrorIs(t, err, ErrStreamNotFound)
	assert.Contains(t, err.Error(), url)
}

func TestTrackerGetErrors(t *testing.T) {
	tests := []struct {
		method, path string
		status       int
		body         string
	}{
		{"GET", "/streams/" + testStreamID(9).String(), 404, `{"error":"p2pstream: stream not found: ` + testStreamID(9).String() + `"}`},
		{"GET", "/streams/xyz", 400, "want 64 hex digits"},
		{"GET", "/announce", 405, "Method Not Allowed"},
		{"POST", "/streams", 405, "Method Not Allowed"},
		{"GET", "/nothing", 404, "not found"},
	}
	url, _ := serveTracker(t, &Tracker{})
	hc := &http.Client{Transport: &http.Transport{}}
	defer hc.CloseIdleConnections()
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, url+tt.path, nil)
			require.NoError(t, err)
			resp, err := hc.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			assert.Equal(t, tt.status, resp.StatusCode)
			assert.Contains(t, string(body), tt.body)
		})
	}
}

func TestTrackerPage(t *testing.T) {
	url, _ := serveTracker(t, &Tracker{})
	c := newTestClient(t, url)
	hc := &http.Client{Transport: &http.Transport{}}
	defer hc.CloseIdleConnections()
	get := func() string {
		resp, err := hc.Get(url + "/")
		require.NoError(t, err)
		defer resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		assert.Equal(t, "text/html; charset=utf-8", resp.Header.Get("Content-Type"))
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return string(b)
	}

	assert.Contains(t, get(), "No streams yet")

	id := testStreamID(1)
	announce(t, c, id, 0, liveInfo(id, `<script>alert("x")</script> & co`))
	_, err := c.Announce(context.Background(), Announce{Stream: id, Peer: testPeerID(1), Addr: ":6001",
		Stats: Stats{Continuity: 0.95, BytesFromPeers: 3 << 20, BytesFromSource: 1 << 20, Lag: 1500 * time.Millisecond}})
	require.NoError(t, err)

	page := get()
	assert.NotContains(t, page, "<script>", "names are escaped")
	assert.Contains(t, page, "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; co")
	assert.Contains(t, page, id.String())
	assert.Contains(t, page, "127.0.0.1:6000")
	assert.Contains(t, page, "127.0.0.1:6001")
	assert.Contains(t, page, "source")
	assert.Contains(t, page, "95.0%", "the viewer's continuity")
	assert.Contains(t, page, "75.0%", "the P2P ratio")
	assert.Contains(t, page, "1.5 s", "the lag")
	assert.Contains(t, page, `<script src="/dashboard.js"`, "the page updates itself")
	assert.NotContains(t, page, `http-equiv="refresh"`, "without reloading")
}

func TestTrackerServeAndClose(t *testing.T) {
	tests := []struct {
		name string
		stop func(*Tracker) error
	}{
		{"Close", (*Tracker).Close},
		{"Shutdown", func(tr *Tracker) error { return tr.Shutdown(context.Background()) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := &Tracker{}
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			require.NoError(t, err)
			done := make(chan error, 1)
			go func() { done <- tr.Serve(ln) }()
			c := newTestClient(t, "http://"+ln.Addr().String())
			_, err = c.Streams(context.Background()) // Serve is up
			require.NoError(t, err)

			require.NoError(t, tt.stop(tr))
			require.ErrorIs(t, <-done, ErrTrackerClosed)
			require.NoError(t, tt.stop(tr), "stopping twice is harmless")

			_, err = c.Streams(context.Background())
			require.Error(t, err, "the listener is closed")
			assert.Contains(t, err.Error(), ln.Addr().String())

			// A closed tracker serves nothing more, and closes the listener.
			ln2, err := net.Listen("tcp", "127.0.0.1:0")
			require.NoError(t, err)
			require.ErrorIs(t, tr.Serve(ln2), ErrTrackerClosed)
			_, err = ln2.Accept()
			require.ErrorIs(t, err, net.ErrClosed)
			require.ErrorIs(t, tr.ListenAndServe("127.0.0.1:0"), ErrTrackerClosed)
		})
	}
}

func TestTrackerCloseBeforeServe(t *testing.T) {
	tr := &Tracker{}
	require.NoError(t, tr.Close())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	require.ErrorIs(t, tr.Serve(ln), ErrTrackerClosed)
	require.NoError(t, tr.Shutdown(context.Background()))
}

func TestTrackerListenAndServe(t *testing.T) {
	tr := &Tracker{}
	done := make(chan error, 1)
	// Port 0 picks a free port; a bad address fails at once.
	require.Error(t, tr.ListenAndServe("127.0.0.1:-1"))
	go func() { done <- tr.ListenAndServe("127.0.0.1:0") }()
	require.NoError(t, tr.Shutdown(context.Background()))
	require.ErrorIs(t, <-done, ErrTrackerClosed)
}

// TestTrackerHandler mounts the handler in a server of one's own.
func TestTrackerHandler(t *testing.T) {
	tr := &Tracker{}
	srv := &http.Server{Handler: tr.Handler(), ReadHeaderTimeout: time.Second}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	defer func() {
		require.NoError(t, srv.Close())
		require.ErrorIs(t, <-done, http.ErrServerClosed)
	}()
	c := newTestClient(t, "http://"+ln.Addr().String())
	id := testStreamID(1)
	announce(t, c, id, 0, liveInfo(id, "mounted"))
	list, err := c.Streams(context.Background())
	require.NoError(t, err)
	require.Len(t, list, 1)
	assert.Equal(t, "mounted", list[0].Info.Name)
}

func TestTrackerFull(t *testing.T) {
	tr := &Tracker{}
	tr.Handler() // makes the store
	ms := tr.store.(*memoryStore)
	url, _ := serveTracker(t, tr)
	c := newTestClient(t, url)
	now := time.Now()
	for i := range maxTrackerStreams {
		id := StreamID{0: byte(i >> 8), 1: byte(i), 2: 1}
		_, err := ms.announce(context.Background(), id, PeerStatus{ID: testPeerID(1), LastSeen: now}, nil, now, 1)
		require.NoError(t, err)
	}
	_, err := c.Announce(context.Background(), Announce{Stream: testStreamID(1), Peer: testPeerID(1), Addr: ":6000"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "503 Service Unavailable")
	assert.Contains(t, err.Error(), "tracker full")
}

// TestTrackerEntryBelongsToItsHost: a peer's entry can be refreshed or
// stopped only from the host that announced it, so nobody can take over or
// remove another peer's entry by copying its ID from an answer.
func TestTrackerEntryBelongsToItsHost(t *testing.T) {
	clk := newFakeClock()
	tr := &Tracker{TTL: 10 * time.Second, now: clk.Now}
	h := tr.Handler()
	id, source := testStreamID(1), testPeerID(0)
	post := func(from string, a Announce) (int, string) {
		body, err := json.Marshal(signedAnnounce(a))
		require.NoError(t, err)
		req := httptest.NewRequest(http.MethodPost, "/announce", bytes.NewReader(body))
		req.RemoteAddr = from
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code, rec.Body.String()
	}
	peers := func() []PeerStatus {
		s, err := tr.store.stream(context.Background(), id, clk.Now())
		require.NoError(t, err)
		return s.peers
	}

	code, _ := post("192.0.2.1:5000", Announce{Stream: id, Peer: source, Addr: ":6000", Info: liveInfo(id, "x")})
	require.Equal(t, http.StatusOK, code)

	code, body := post("198.51.100.7:5000", Announce{Stream: id, Peer: source, Addr: ":6666"})
	assert.Equal(t, http.StatusConflict, code)
	assert.Contains(t, body, "peer ID in use from another address")
	code, _ = post("198.51.100.7:5000", Announce{Stream: id, Peer: source, Event: "stopped"})
	assert.Equal(t, http.StatusOK, code, "a stop from elsewhere is answered")
	assert.Equal(t, []PeerStatus{{ID: source, Addr: "192.0.2.1:6000", Source: true, LastSeen: clk.Now()}}, peers(),
		"but changes nothing")

	code, _ = post("192.0.2.1:5001", Announce{Stream: id, Peer: source, Addr: ":6001", Info: liveInfo(id, "x")})
	assert.Equal(t, http.StatusOK, code, "the same host may change ports")
	assert.Equal(t, "192.0.2.1:6001", peers()[0].Addr)

	clk.Advance(10 * time.Second)
	code, _ = post("198.51.100.7:5000", Announce{Stream: id, Peer: source, Addr: ":6666"})
	assert.Equal(t, http.StatusOK, code, "an expired entry is anybody's")
	assert.Equal(t, "198.51.100.7:6666", peers()[0].Addr)
}
