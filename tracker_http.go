package p2pstream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"time"
)

// maxStreamName is the most bytes of StreamInfo.Name the tracker accepts.
const maxStreamName = 256

// eventStopped is the Announce.Event of a peer that leaves the stream.
const eventStopped = "stopped"

// requestError is a client's mistake: the tracker answers with status and
// msg, and logs nothing above debug level.
type requestError struct {
	status int
	msg    string
}

func (e *requestError) Error() string { return e.msg }

func badRequest(format string, args ...any) error {
	return &requestError{status: http.StatusBadRequest, msg: fmt.Sprintf(format, args...)}
}

// errorBody is the JSON body of every error answer.
type errorBody struct {
	Error string `json:"error"`
}

// handleAnnounce serves POST /announce.
func (t *Tracker) handleAnnounce(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rec := &statusRecorder{ResponseWriter: w}
	a := t.serveAnnounce(rec, r)
	t.metrics.observeAnnounce(rec.code, time.Since(start), a)
}

// serveAnnounce answers an announce. It returns the announce if it could be
// decoded.
func (t *Tracker) serveAnnounce(w http.ResponseWriter, r *http.Request) *Announce {
	// Only the port is the peer's to choose: the host is where the announce
	// came from, so nobody can point a swarm at a third party.
	host, err := t.clientHost(r)
	if err != nil {
		t.fail(w, r, err)
		return nil
	}
	if t.limiter != nil && !t.limiter.allow(host, t.clock()) {
		w.Header().Set("Retry-After", "1")
		t.fail(w, r, &requestError{status: http.StatusTooManyRequests,
			msg: fmt.Sprintf("announce: more than %g announces per second from %s", t.announceRate(), host)})
		return nil
	}
	a, err := readAnnounce(w, r, t.maxBodyBytes())
	if err != nil {
		t.fail(w, r, err)
		return nil
	}
	resp := AnnounceResponse{Interval: t.interval(), Peers: []PeerAddr{}}
	if a.Event == eventStopped {
		if err := t.store.remove(r.Context(), a.Stream, a.Peer, host); err != nil {
			t.fail(w, r, err)
			return &a
		}
		t.log().Debug("peer stopped", "stream", a.Stream.Short(), "peer", a.Peer.String())
		writeJSON(w, http.StatusOK, resp)
		return &a
	}
	port, err := announcedPort(a.Addr)
	if err != nil {
		t.fail(w, r, err)
		return &a
	}
	addr := net.JoinHostPort(host, port)
	now := t.clock()
	if err := checkSignedInfo(a, now); err != nil {
		t.fail(w, r, err)
		return &a
	}
	p := PeerStatus{ID: a.Peer, Addr: addr, Source: a.Info != nil, Stats: a.Stats, LastSeen: now}
	res, err := t.store.announce(r.Context(), a.Stream, p, a.Info, now, t.maxPeers())
	if err != nil {
		t.fail(w, r, err)
		return &a
	}
	if res.registered {
		t.log().Info("stream registered", "stream", a.Stream.Short(), "name", res.info.Name, "kind", res.info.Kind, "source", addr)
	}
	t.log().Debug("announce", "stream", a.Stream.Short(), "peer", a.Peer.String(), "addr", addr, "peers", len(res.peers))
	resp.Info = res.info
	resp.Peers = res.peers
	writeJSON(w, http.StatusOK, resp)
	return &a
}

// readAnnounce decodes and checks the announce in r's body.
func readAnnounce(w http.ResponseWriter, r *http.Request, limit int64) (Announce, error) {
	var a Announce
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, limit))
	err := dec.Decode(&a)
	if err == nil {
		// Exactly one JSON value: anything after it is a client bug.
		if _, err = dec.Token(); err == io.EOF {
			return a, validateAnnounce(a)
		} else if err == nil {
			err = errors.New("data after the JSON object")
		}
	}
	var (
		tooBig *http.MaxBytesError
		syntax *json.SyntaxError
	)
	switch {
	case errors.As(err, &tooBig):
		return a, &requestError{status: http.StatusRequestEntityTooLarge,
			msg: fmt.Sprintf("announce: body larger than %d bytes", limit)}
	case err == io.EOF:
		return a, badRequest("announce: empty body; want a JSON object")
	case errors.As(err, &syntax), errors.Is(err, io.ErrUnexpectedEOF):
		return a, badRequest("announce: malformed JSON: %v", err)
	default:
		// A field of the wrong type, or an ID that is not hex; the error
		// names which.
		return a, badRequest("announce: %v", err)
	}
}

// validateAnnounce checks the fields of a decoded announce.
func validateAnnounce(a Announce) error {
	switch {
	case a.Stream == StreamID{}:
		return badRequest("announce: stream ID is zero")
	case a.Peer == PeerID{}:
		return badRequest("announce: peer ID is zero")
	case a.Event != "" && a.Event != eventStopped:
		return badRequest("announce: unknown event %q; want \"\" or %q", a.Event, eventStopped)
	case a.Event == eventStopped:
		return nil // a leaving peer's address and info do not matter
	}
	if _, err := announcedPort(a.Addr); err != nil {
		return err
	}
	if a.Info == nil {
		return nil
	}
	switch {
	case a.Info.ID != a.Stream:
		return badRequest("announce: info.id %s is not the announced stream %s", a.Info.ID, a.Stream)
	case a.Info.Kind != KindLive && a.Info.Kind != KindVOD:
		return badRequest("announce: info.kind %q; want %q or %q", a.Info.Kind, KindLive, KindVOD)
	case len(a.Info.Name) > maxStreamName:
		return badRequest("announce: info.name is %d bytes; at most %d", len(a.Info.Name), maxStreamName)
	case a.Info.Kind == KindLive && (a.Info.Size != 0 || a.Info.ChunkSize != 0 || a.Info.Chunks != 0):
		return badRequest("announce: info of a live stream with size, chunk_size or chunks")
	}
	return nil
}

// checkSignedInfo refuses the info of a live stream that its key did not
// sign within maxSigAge of now.
func checkSignedInfo(a Announce, now time.Time) error {
	if a.Info == nil || a.Info.Kind != KindLive || a.infoSigned(now) {
		return nil
	}
	return &requestError{status: http.StatusForbidden,
		msg: "announce: the info of a live stream must be signed with the stream key (sig), within 5 minutes of the tracker's clock (sig_time); only its publisher sends info"}
}

// announcedPort returns the port of an announced "host:port" address.
func announcedPort(addr string) (string, error) {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", badRequest("announce: addr %q: want host:port", addr)
	}
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil || n == 0 {
		return "", badRequest("announce: addr %q: port must be a number from 1 to 65535", addr)
	}
	return strconv.FormatUint(n, 10), nil
}

// handleStreams serves GET /streams.
func (t *Tracker) handleStreams(w http.ResponseWriter, r *http.Request) {
	list, err := t.statusList(r.Context(), false)
	if err != nil {
		t.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, list)
}

// statuses returns every stream, registered ones first, then by name, with
// their peer lists if withPeers.
func (t *Tracker) statusList(ctx context.Context, withPeers bool) ([]StreamStatus, error) {
	stored, err := t.store.streams(ctx, t.clock())
	if err != nil {
		return nil, err
	}
	list := make([]StreamStatus, 0, len(stored))
	for _, s := range stored {
		list = append(list, newStreamStatus(s, withPeers))
	}
	slices.SortFunc(list, compareStreams)
	return list, nil
}

// handleStream serves GET /streams/{id}.
func (t *Tracker) handleStream(w http.ResponseWriter, r *http.Request) {
	id, err := ParseStreamID(r.PathValue("id"))
	if err != nil {
		t.fail(w, r, badRequest("%v", err))
		return
	}
	s, err := t.store.stream(r.Context(), id, t.clock())
	if errors.Is(err, ErrStreamNotFound) {
		t.fail(w, r, &requestError{status: http.StatusNotFound, msg: fmt.Sprintf("%v: %s", err, id)})
		return
	}
	if err != nil {
		t.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, newStreamStatus(s, true))
}

// fail answers a request with err as a JSON error.
func (t *Tracker) fail(w http.ResponseWriter, r *http.Request, err error) {
	var re *requestError
	switch {
	case errors.As(err, &re):
		t.log().Debug("bad request", "method", r.Method, "path", r.URL.Path, "remote", r.RemoteAddr, "status", re.status, "err", re.msg)
		writeJSON(w, re.status, errorBody{Error: re.msg})
	case errors.Is(err, errTrackerFull):
		t.log().Warn("tracker full", "remote", r.RemoteAddr)
		writeJSON(w, http.StatusServiceUnavailable, errorBody{Error: err.Error()})
	case errors.Is(err, errLiveStream):
		t.log().Debug("on-demand info for a live stream refused", "remote", r.RemoteAddr)
		writeJSON(w, http.StatusConflict, errorBody{Error: err.Error()})
	case errors.Is(err, errPeerElsewhere):
		t.log().Debug("peer ID conflict", "remote", r.RemoteAddr)
		writeJSON(w, http.StatusConflict, errorBody{Error: err.Error() + "; use another peer ID, or wait for the entry to expire"})
	default:
		t.log().Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		writeJSON(w, http.StatusInternalServerError, errorBody{Error: "internal error"})
	}
}

// writeJSON answers with v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		// Only a bug can get here: every answer is plain data.
		http.Error(w, "internal error: "+err.Error(), http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}
