package p2pstream

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// postAnnounce posts a, with a test stream's info signed, to h as if from
// remote, with the given headers, and returns the answer.
func postAnnounce(t *testing.T, h http.Handler, remote string, a Announce, header ...string) *httptest.ResponseRecorder {
	t.Helper()
	return postAnnounceAsIs(t, h, remote, signedAnnounce(a), header...)
}

// postAnnounceAsIs is postAnnounce without signing.
func postAnnounceAsIs(t testing.TB, h http.Handler, remote string, a Announce, header ...string) *httptest.ResponseRecorder {
	t.Helper()
	body, err := json.Marshal(a)
	require.NoError(t, err)
	req := httptest.NewRequest(http.MethodPost, "/announce", bytes.NewReader(body))
	req.RemoteAddr = remote
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Add(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestTrackerAnnounceRate(t *testing.T) {
	tests := []struct {
		name    string
		rate    float64
		burst   int // announces accepted at once
		perSec  int // and then per second
		limited bool
	}{
		{"default", 0, 2 * defaultTrackerAnnounceRate, defaultTrackerAnnounceRate, true},
		{"five per second", 5, 10, 5, true},
		{"half per second", 0.5, 1, 0, true},
		{"unlimited", -1, 500, 500, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newFakeClock()
			tr := &Tracker{AnnounceRate: tt.rate, now: clk.Now}
			h := tr.Handler()
			id := testStreamID(1)
			send := func(remote string, n int) int {
				return postAnnounce(t, h, remote, Announce{Stream: id, Peer: testPeerID(n), Addr: ":6000"}).Code
			}
			for n := range tt.burst {
				require.Equal(t, http.StatusOK, send("192.0.2.1:1000", n), "announce %d of the burst", n)
			}
			if !tt.limited {
				return
			}
			rec := postAnnounce(t, h, "192.0.2.1:1001", Announce{Stream: id, Peer: testPeerID(999), Addr: ":6000"})
			assert.Equal(t, http.StatusTooManyRequests, rec.Code)
			assert.Equal(t, "1", rec.Header().Get("Retry-After"))
			assert.Contains(t, rec.Body.String(), "announces per second from 192.0.2.1")
			assert.Equal(t, http.StatusOK, send("192.0.2.2:1000", 1000), "another address has its own budget")

			clk.Advance(time.Second)
			for n := range tt.perSec {
				require.Equal(t, http.StatusOK, send("192.0.2.1:1000", n), "announce %d a second later", n)
			}
			assert.Equal(t, http.StatusTooManyRequests, send("192.0.2.1:1000", 0))
			assert.Equal(t, 2.0, testutil.ToFloat64(tr.metrics.announces.WithLabelValues("429")), "refusals are counted")
			assert.Equal(t, float64(tt.burst+1+tt.perSec), testutil.ToFloat64(tr.metrics.announces.WithLabelValues("200")))
		})
	}
}

func TestIPLimiterBounded(t *testing.T) {
	l := newIPLimiter(1, 2)
	now := time.Now()
	for i := range maxLimiterIPs {
		require.True(t, l.allow("10."+strconv.Itoa(i>>16)+"."+strconv.Itoa(i>>8&255)+"."+strconv.Itoa(i&255), now))
	}
	require.Equal(t, maxLimiterIPs, l.len())
	// Two seconds on, every bucket is full again and may go.
	require.True(t, l.allow("192.0.2.1", now.Add(2*time.Second)))
	assert.Equal(t, 1, l.len())

	// Busy addresses are kept, unless they fill half the table.
	l = newIPLimiter(1, 2)
	for i := range maxLimiterIPs {
		require.True(t, l.allow("10."+strconv.Itoa(i>>16)+"."+strconv.Itoa(i>>8&255)+"."+strconv.Itoa(i&255), now))
	}
	require.True(t, l.allow("192.0.2.2", now.Add(time.Second/2)))
	assert.Equal(t, 1, l.len(), "fails open rather than grow")
}

func TestTrackerBodyLimit(t *testing.T) {
	tests := []struct {
		name  string
		limit int64
		pad   int
		want  int
	}{
		{"default, small", 0, 100, http.StatusOK},
		{"default, too big", 0, defaultTrackerBodyBytes, http.StatusRequestEntityTooLarge},
		{"1 KiB, small", 1 << 10, 100, http.StatusOK},
		{"1 KiB, too big", 1 << 10, 1 << 10, http.StatusRequestEntityTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := (&Tracker{MaxBodyBytes: tt.limit}).Handler()
			body := `{"stream":"` + testStreamID(1).String() + `","peer":"` + testPeerID(1).String() +
				`","addr":":6000","info":null` + strings.Repeat(" ", tt.pad) + `}`
			req := httptest.NewRequest(http.MethodPost, "/announce", strings.NewReader(body))
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			assert.Equal(t, tt.want, rec.Code, rec.Body.String())
		})
	}
}

func TestTrackerStoreLimits(t *testing.T) {
	tr := &Tracker{MaxStreamPeers: 3, MaxStreams: 2, MaxPeers: 10}
	h := tr.Handler()
	send := func(stream byte, peer int) int {
		return postAnnounce(t, h, "192.0.2.1:1000", Announce{Stream: testStreamID(stream), Peer: testPeerID(peer), Addr: ":6000"}).Code
	}
	for n := range 3 {
		require.Equal(t, http.StatusOK, send(1, n))
	}
	assert.Equal(t, http.StatusServiceUnavailable, send(1, 3), "a fourth peer of one stream")
	assert.Equal(t, http.StatusOK, send(1, 2), "a known peer may re-announce")
	require.Equal(t, http.StatusOK, send(2, 0))
	assert.Equal(t, http.StatusServiceUnavailable, send(3, 0), "a third stream")
}

func TestTrackerTrustProxyHeader(t *testing.T) {
	tests := []struct {
		name   string
		trust  string
		header []string
		want   string // the entry's address, or "" for a refusal
	}{
		{"header ignored by default", "", []string{"X-Forwarded-For", "203.0.113.5"}, "192.0.2.1:6000"},
		{"proxy's address", "X-Forwarded-For", []string{"X-Forwarded-For", "203.0.113.5"}, "203.0.113.5:6000"},
		{"client's claim before it ignored", "X-Forwarded-For", []string{"X-Forwarded-For", "198.51.100.66, 203.0.113.5"}, "203.0.113.5:6000"},
		{"several lines", "X-Forwarded-For", []string{"X-Forwarded-For", "198.51.100.66", "X-Forwarded-For", "203.0.113.6"}, "203.0.113.6:6000"},
		{"IPv6", "X-Forwarded-For", []string{"X-Forwarded-For", "2001:db8::7"}, "[2001:db8::7]:6000"},
		{"with a port", "X-Forwarded-For", []string{"X-Forwarded-For", "203.0.113.8:4711"}, "203.0.113.8:6000"},
		{"other header", "X-Real-IP", []string{"X-Real-IP", "203.0.113.9"}, "203.0.113.9:6000"},
		{"missing", "X-Forwarded-For", nil, ""},
		{"not an address", "X-Forwarded-For", []string{"X-Forwarded-For", "victim.example"}, ""},
		{"empty last", "X-Forwarded-For", []string{"X-Forwarded-For", "203.0.113.5,"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := &Tracker{TrustProxyHeader: tt.trust}
			h := tr.Handler()
			id := testStreamID(1)
			rec := postAnnounce(t, h, "192.0.2.1:1000", Announce{Stream: id, Peer: testPeerID(1), Addr: "10.9.9.9:6000"}, tt.header...)
			if tt.want == "" {
				assert.Equal(t, http.StatusBadRequest, rec.Code, rec.Body.String())
				return
			}
			require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
			s, err := tr.store.stream(context.Background(), id, time.Now())
			require.NoError(t, err)
			require.Len(t, s.peers, 1)
			assert.Equal(t, tt.want, s.peers[0].Addr)
		})
	}
}
