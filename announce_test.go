package p2pstream

import (
	"crypto/ed25519"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testStreamKey returns the signing key of test stream n.
func testStreamKey(n byte) ed25519.PrivateKey {
	seed := make([]byte, ed25519.SeedSize)
	seed[0], seed[1] = 0xab, n
	return ed25519.NewKeyFromSeed(seed)
}

// testStreamKeys maps the IDs testStreamID made to their keys.
var testStreamKeys sync.Map

// signedAnnounce returns a with its info signed, if it is a test stream's.
func signedAnnounce(a Announce) Announce {
	if k, ok := testStreamKeys.Load(a.Stream); ok && a.Info != nil {
		a.SignInfo(k.(ed25519.PrivateKey))
	}
	return a
}

// TestTrackerSignedLiveInfo: only the holder of a live stream's key may
// describe it (and be listed as its source), and nobody may turn it into an
// on-demand stream while its publisher is there.
func TestTrackerSignedLiveInfo(t *testing.T) {
	id := testStreamID(7)
	other := testStreamKey(8)
	tests := []struct {
		name string
		a    Announce
		sign ed25519.PrivateKey
		peer PeerID // if set, replaces a.Peer after signing
		want int
	}{
		{"unsigned", Announce{Stream: id, Peer: testPeerID(1), Addr: ":6001", Info: liveInfo(id, "x")}, nil, PeerID{}, http.StatusForbidden},
		{"signed with another key", Announce{Stream: id, Peer: testPeerID(1), Addr: ":6001", Info: liveInfo(id, "x")}, other, PeerID{}, http.StatusForbidden},
		{"signed for another peer", Announce{Stream: id, Peer: testPeerID(2), Addr: ":6002", Info: liveInfo(id, "x")}, testStreamKey(7), testPeerID(9), http.StatusForbidden},
		{"signed", Announce{Stream: id, Peer: testPeerID(1), Addr: ":6001", Info: liveInfo(id, "live")}, testStreamKey(7), PeerID{}, http.StatusOK},
		{"on-demand info for the live stream", Announce{Stream: id, Peer: testPeerID(3), Addr: ":6003", Info: &StreamInfo{ID: id, Kind: KindVOD, Name: "fake"}}, nil, PeerID{}, http.StatusConflict},
		{"live info with on-demand fields", Announce{Stream: id, Peer: testPeerID(1), Addr: ":6001", Info: &StreamInfo{ID: id, Kind: KindLive, Name: "live", Chunks: 3}}, testStreamKey(7), PeerID{}, http.StatusBadRequest},
	}
	h := (&Tracker{}).Handler()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := tt.a
			if tt.sign != nil {
				a.SignInfo(tt.sign)
			}
			if tt.peer != (PeerID{}) {
				a.Peer = tt.peer
			}
			rec := postAnnounceAsIs(t, h, "192.0.2.1:5000", a)
			assert.Equal(t, tt.want, rec.Code, rec.Body.String())
		})
	}
	rec := postAnnounce(t, h, "192.0.2.9:5000", Announce{Stream: id, Peer: testPeerID(4), Addr: ":6004"})
	require.Equal(t, http.StatusOK, rec.Code)
	var resp AnnounceResponse
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &resp))
	require.NotNil(t, resp.Info)
	assert.Equal(t, "live", resp.Info.Name, "the signed info stands")
	require.Len(t, resp.Peers, 1)
	assert.Equal(t, PeerAddr{ID: testPeerID(1), Addr: "192.0.2.1:6001", Source: true}, resp.Peers[0], "only the signer is a source")

	// Tampering with what was signed, or signing long ago, is refused.
	signed := Announce{Stream: id, Peer: testPeerID(1), Addr: ":6001", Info: liveInfo(id, "live")}
	signed.SignInfo(testStreamKey(7))
	tampered := []struct {
		name   string
		change func(a *Announce)
		want   int
	}{
		{"as signed", func(*Announce) {}, http.StatusOK},
		{"bitrate (not signed)", func(a *Announce) { a.Info.Bitrate++ }, http.StatusOK},
		{"name", func(a *Announce) { a.Info.Name = "renamed" }, http.StatusForbidden},
		{"chunk duration", func(a *Announce) { a.Info.ChunkDuration++ }, http.StatusForbidden},
		{"signature", func(a *Announce) { a.Sig = a.Sig[:10] }, http.StatusForbidden},
		{"time", func(a *Announce) { a.SigTime++ }, http.StatusForbidden},
		{"signed 10 minutes ago", func(a *Announce) {
			a.SigTime = time.Now().Add(-10 * time.Minute).Unix()
			a.Sig = ed25519.Sign(testStreamKey(7), a.SignedInfo())
		}, http.StatusForbidden},
	}
	for _, tt := range tampered {
		t.Run("tampered "+tt.name, func(t *testing.T) {
			a := signed
			info := *signed.Info
			a.Info = &info
			tt.change(&a)
			rec := postAnnounceAsIs(t, h, "192.0.2.1:5000", a)
			assert.Equal(t, tt.want, rec.Code, rec.Body.String())
		})
	}
}

// TestSignedInfoBytes pins the bytes a live stream's publisher signs, as
// docs/TRACKER-API.md describes them.
func TestSignedInfoBytes(t *testing.T) {
	a := Announce{Stream: StreamID{0: 1}, Peer: PeerID{0: 2}, SigTime: 3,
		Info: &StreamInfo{Kind: KindLive, Name: "ab", ChunkDuration: 4, Bitrate: 99}}
	want := "p2pstream announce v1\x00" + "\x01" + strings.Repeat("\x00", 31) + "\x02" + strings.Repeat("\x00", 15) +
		"\x00\x00\x00\x00\x00\x00\x00\x03" + "\x00\x04live" + "\x00\x02ab" + "\x00\x00\x00\x00\x00\x00\x00\x04"
	assert.Equal(t, []byte(want), a.SignedInfo())
	assert.Nil(t, Announce{}.SignedInfo(), "nothing to sign without info")
}
