package p2pstream

import (
	"encoding/json"
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
	// Signed live info (signed now: a stored seed would go stale) and
	// on-demand info, so that the fuzzer reaches the store with info.
	signed, err := json.Marshal(signedAnnounce(Announce{Stream: testStreamID(1), Peer: testPeerID(2), Addr: ":2", Info: liveInfo(testStreamID(1), "x")}))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(string(signed))
	f.Add(`{"stream":"` + testStreamID(2).String() + `","peer":"` + peer + `","addr":":1","info":{"id":"` + testStreamID(2).String() + `","kind":"vod","name":"y","size":10,"chunk_size":4,"chunks":3}}`)
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
