package p2pstream

import (
	"context"
	"mime"
	"net/http"
	"path"
	"time"
)

// ServeHTTP serves an on-demand stream's file over HTTP (GET and HEAD),
// with range requests, so a player that opens the URL (VLC, mpv, ffplay, a
// browser) can seek: each request reads through its own Reader, the most
// recent read steers the scheduler, and bytes go out as they arrive and
// are verified. A request whose client goes away stops at once; one whose
// bytes no peer has waits for them (http.Server.Shutdown waits for it too;
// Close does not). It serves whatever path it is given: mount it where the
// player should find it. A live stream answers 404: serve it with an
// HTTPSink given to Peer.Join.
func (s *Stream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "p2pstream: only GET and HEAD", http.StatusMethodNotAllowed)
		return
	}
	info := s.Info()
	if info.Kind != KindVOD {
		http.Error(w, "p2pstream: a live stream is served by an HTTPSink, not by its Stream", http.StatusNotFound)
		return
	}
	if err := s.Err(); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
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
	// A type is always set, so that ServeContent never reads the file's
	// start to guess one (which would wait for its first chunk).
	ctype := mime.TypeByExtension(path.Ext(info.Name))
	switch {
	case path.Ext(info.Name) == ".ts" || path.Ext(info.Name) == ".m2ts":
		ctype = "video/mp2t" // not in every system's MIME table, or another type's
	case ctype == "":
		ctype = "application/octet-stream"
	}
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("ETag", `"`+info.ID.String()+`"`) // the content never changes
	http.ServeContent(w, r, info.Name, time.Time{}, rd)
}
