package p2pstream

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTrackerClientErrors(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
		want   []string // substrings of the error
	}{
		{"JSON error", 400, `{"error":"announce: stream ID is zero"}`,
			[]string{"POST", "/announce", "400 Bad Request", `"announce: stream ID is zero"`}},
		{"proxy page", 502, "<html>\n<body>upstream\n\tdown</body></html>",
			[]string{"502 Bad Gateway", `"<html> <body>upstream down</body></html>"`}},
		{"empty", 503, "", []string{"503 Service Unavailable: empty body"}},
		{"long body", 500, strings.Repeat("x", 1000), []string{strings.Repeat("x", maxErrorSnippet) + `…"`}},
		{"not JSON", 200, "<html>", []string{"bad JSON answer", `"<html>"`}},
		{"too big", 200, `{"peers":[` + strings.Repeat(" ", maxAnnounceResponse) + `]}`,
			[]string{"answer larger than 1048576 bytes"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tt.status)
				_, _ = w.Write([]byte(tt.body))
			}))
			defer srv.Close()
			c := newTestClient(t, srv.URL)
			_, err := c.Announce(context.Background(), Announce{})
			require.Error(t, err)
			assert.Contains(t, err.Error(), srv.URL)
			for _, s := range tt.want {
				assert.Contains(t, err.Error(), s)
			}
			assert.NotContains(t, err.Error(), "\n")
		})
	}
}

func TestTrackerClientUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	url := "http://" + ln.Addr().String()
	require.NoError(t, ln.Close())

	c := newTestClient(t, url)
	_, err = c.Streams(context.Background())
	require.Error(t, err)
	assert.Contains(t, err.Error(), url+"/streams")
	assert.Contains(t, err.Error(), "connection refused")

	_, err = (&TrackerClient{}).Streams(context.Background())
	require.ErrorContains(t, err, "URL is empty")
}

// TestTrackerClientContext: the caller's context bounds a request to a
// tracker that does not answer.
func TestTrackerClientContext(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	defer srv.Close()
	c := newTestClient(t, srv.URL)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := c.Stream(ctx, testStreamID(1))
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.NotErrorIs(t, err, ErrStreamNotFound)
}

// countingTransport dials TCP and records where to.
type countingTransport struct {
	mu    sync.Mutex
	dials []string
}

func (tr *countingTransport) Dial(ctx context.Context, addr string) (net.Conn, error) {
	tr.mu.Lock()
	tr.dials = append(tr.dials, addr)
	tr.mu.Unlock()
	var d net.Dialer
	return d.DialContext(ctx, "tcp", addr)
}

func (tr *countingTransport) Listen(addr string) (net.Listener, error) {
	return net.Listen("tcp", addr)
}

func TestTrackerClientTransport(t *testing.T) {
	url, _ := serveTracker(t, &Tracker{})
	tr := &countingTransport{}
	c := &TrackerClient{URL: url + "/", Transport: tr} // a trailing slash is fine
	defer c.Close()
	id := testStreamID(1)
	announce(t, c, id, 0, liveInfo(id, "via transport"))
	st, err := c.Stream(context.Background(), id)
	require.NoError(t, err)
	assert.Equal(t, "via transport", st.Info.Name)

	tr.mu.Lock()
	defer tr.mu.Unlock()
	require.NotEmpty(t, tr.dials)
	assert.Equal(t, strings.TrimPrefix(url, "http://"), tr.dials[0])
}

// TestTrackerClientConcurrent: one client, many goroutines (run with -race).
func TestTrackerClientConcurrent(t *testing.T) {
	url, _ := serveTracker(t, &Tracker{})
	c := &TrackerClient{URL: url}
	defer c.Close()
	id := testStreamID(1)
	var wg sync.WaitGroup
	for n := range 8 {
		wg.Go(func() {
			_, err := c.Announce(context.Background(), Announce{Stream: id, Peer: testPeerID(n), Addr: ":6000"})
			assert.NoError(t, err)
		})
	}
	wg.Wait()
	st, err := c.Stream(context.Background(), id)
	require.NoError(t, err)
	assert.Equal(t, 8, st.Peers)
}

// TestTrackerErrorRefused: an answer the tracker would give again is a
// refusal; one that may change (not found yet, rate limited, full, down)
// is not.
func TestTrackerErrorRefused(t *testing.T) {
	for status, want := range map[int]bool{400: true, 403: true, 409: true, 413: true, 404: false, 429: false, 500: false, 503: false} {
		assert.Equal(t, want, (&TrackerError{Status: status}).Refused(), "%d", status)
	}
	tr := &Tracker{}
	srv := httptest.NewServer(tr.Handler())
	defer srv.Close()
	c := &TrackerClient{URL: srv.URL}
	defer c.Close()
	id := testStreamID(3)
	_, err := c.Announce(context.Background(), Announce{Stream: id, Peer: testPeerID(1), Addr: ":1", Info: liveInfo(id, "unsigned")})
	var te *TrackerError
	require.ErrorAs(t, err, &te)
	assert.Equal(t, http.StatusForbidden, te.Status)
	assert.True(t, refused(err))
	assert.Contains(t, err.Error(), `403 Forbidden: "announce: the info of a live stream must be signed`)
}
