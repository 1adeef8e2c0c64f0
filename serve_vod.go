package p2pstream

import (
	"context"
	"net/http"
	"path"
	"time"
)

// ServeHTTP serves an on-demand stream's file over HTTP, with range
// requests, so a player that opens the URL (VLC, mpv, ffplay, a browser)
// can seek: each request reads through its own Reader, whose position the
// scheduler fetches first, and its bytes go out as they arrive and are
// verified. A request whose client goes away stops at once. A live stream
// answers 404: serve it with an HTTPSink given to Peer.Join.
func (s *Stream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	info := s.Info()
	if info.Kind != KindVOD {
		http.Error(w, "p2pstream: a live stream is served by an HTTPSink, not by its Stream", http.StatusNotFound)
		return
	}
	rd, err := s.Reader()
	if err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	defer rd.Close()
	stop := context.AfterFunc(r.Context(), func() { rd.Close() }) // unblocks a waiting Read
	defer stop()
	if ext := path.Ext(info.Name); ext == ".ts" || ext == ".m2ts" {
		w.Header().Set("Content-Type", "video/mp2t") // not in every system's MIME table
	}
	http.ServeContent(w, r, info.Name, time.Time{}, rd)
}
