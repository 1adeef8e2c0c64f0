package p2pstream

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// FuzzTrackerAnnounce: whatever the body, the tracker answers with a status
// it documents and never panics.
func FuzzTrackerAnnounce(f *testing.F) {
	id, peer := testStreamID(1).String(), testPeerID(1).String()
	f.Add(`{"stream":"` + id + `","peer":"` + peer + `","addr":"127.0.0.1:6000"}`)
	f.Add(`{"stream":"` + id + `","peer":"` + peer + `","addr":":1","info":{"id":"` + id + `","kind":"live","name":"x"}}`)
	f.Add(`{"stream":"` + id + `","peer":"` + peer + `","event":"stopped"}`)
	f.Add(`{"stream":"` + id + `","peer":"` + peer + `","addr":"[::1]:65535","stats":{"continuity":2,"lag":-1}}`)
	f.Add(`{"stream":`)
	f.Add(``)
	tr := &Tracker{MaxPeers: 3, AnnounceRate: -1} // the fuzzer announces from one address, fast
	h := tr.Handler()
	f.Fuzz(func(t *testing.T, body string) {
		req := httptest.NewRequest(http.MethodPost, "/announce", strings.NewReader(body))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		assert.Contains(t, []int{200, 400, 403, 409, 413, 429, 503}, rec.Code, rec.Body.String())
		assert.Equal(t, "application/json", rec.Header().Get("Content-Type"))
	})
}
