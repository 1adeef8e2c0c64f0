package p2pstream

import (
	"bytes"
	_ "embed"
	"fmt"
	"html/template"
	"net/http"
	"strconv"
	"time"
)

// The dashboard: every stream, its health and its peers. The page is
// rendered here, by html/template, which escapes everything peers announce
// (names, addresses); tracker_page.js then fetches the live part of it again
// (GET /?fragment=live) every few seconds, swaps it in and draws each
// stream's history. No front-end build, no third-party script.

//go:embed tracker_page.html
var trackerPageHTML string

//go:embed tracker_page.js
var trackerPageJS []byte

var trackerPage = template.Must(template.New("tracker").Funcs(template.FuncMap{
	"pct":    func(v float64) string { return fmt.Sprintf("%.1f%%", 100*v) },
	"dur":    formatDuration,
	"bytes":  formatBytes,
	"rate":   formatRate,
	"short":  func(id PeerID) string { return id.String()[:8] },
	"age":    func(now, t time.Time) string { return formatDuration(max(0, now.Sub(t))) + " ago" },
	"num":    func(v float64) string { return strconv.FormatFloat(v, 'f', 4, 64) },
	"health": health,
	"trees":  formatTrees,
}).Parse(trackerPageHTML))

// formatTrees describes where a peer stands in the stripe trees
// (tree.go), from its announced Stats: the stripes it gets, the
// deepest, and the feeds it gives; "–" outside the trees.
func formatTrees(st Stats) string {
	clamp := func(n, hi int) int { return min(max(n, 0), hi) }
	switch {
	case st.TreeStripes <= 0 && st.TreeFeeds <= 0:
		return "–"
	case st.Source || st.TreeStripes <= 0:
		return fmt.Sprintf("%d feeds", clamp(st.TreeFeeds, 999))
	}
	return fmt.Sprintf("%d/4 · depth %d · %d feeds", clamp(st.TreeStripes, 4), clamp(st.TreeDepth, 255), clamp(st.TreeFeeds, 999))
}

// Page settings.
const (
	pageRefresh = 2  // seconds between updates
	maxPageRows = 50 // peers shown per stream; the JSON API has them all
)

// pageCSP lets the page run only its own script.
const pageCSP = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; base-uri 'none'; frame-ancestors 'none'"

// pageData is what the status page template shows.
type pageData struct {
	Now     time.Time
	Refresh int
	Peers   int // over all streams
	Viewers int // over all streams
	Streams []pageStream
}

// pageStream is one stream on the status page.
type pageStream struct {
	StreamStatus
	Rows []PeerStatus // the first maxPageRows peers
	More int          // peers not shown
}

// handlePage serves GET /, the HTML status page.
func (t *Tracker) handlePage(w http.ResponseWriter, r *http.Request) {
	list, err := t.statusList(r.Context(), true)
	if err != nil {
		t.fail(w, r, err)
		return
	}
	data := pageData{Now: t.clock(), Refresh: pageRefresh, Streams: make([]pageStream, 0, len(list))}
	for _, st := range list {
		rows := st.PeerList
		st.PeerList = nil
		data.Streams = append(data.Streams, pageStream{
			StreamStatus: st,
			Rows:         rows[:min(len(rows), maxPageRows)],
			More:         max(0, len(rows)-maxPageRows),
		})
		data.Peers += st.Peers
		data.Viewers += st.Viewers
	}

	// The whole page, or only its live part for the page's script.
	name := "page"
	if r.URL.Query().Get("fragment") == "live" {
		name = "live"
	}
	// Render to memory first so that a template error is a clean 500, not
	// half a page.
	var buf bytes.Buffer
	if err := trackerPage.ExecuteTemplate(&buf, name, data); err != nil {
		t.fail(w, r, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", pageCSP)
	_, _ = buf.WriteTo(w)
}

// handlePageJS serves GET /dashboard.js, the page's script.
func (t *Tracker) handlePageJS(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "text/javascript; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(trackerPageJS)
}

// health names the CSS class for a continuity: good, warn or bad.
func health(continuity float64) string {
	switch {
	case continuity >= 0.99:
		return "good"
	case continuity >= 0.9:
		return "warn"
	default:
		return "bad"
	}
}

// formatDuration prints d short: "350 ms", "4.2 s", "3 min".
func formatDuration(d time.Duration) string {
	switch {
	case d < time.Second:
		return fmt.Sprintf("%d ms", d.Milliseconds())
	case d < time.Minute:
		return fmt.Sprintf("%.1f s", d.Seconds())
	default:
		return fmt.Sprintf("%d min", int(d.Minutes()))
	}
}

// formatBytes prints n in binary units: "512 B", "3.4 MiB".
func formatBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTP"[exp])
}

// formatRate prints a bit rate: "800 kbit/s", "2.5 Mbit/s".
func formatRate(bps int64) string {
	if bps < 1_000_000 {
		return fmt.Sprintf("%d kbit/s", bps/1000)
	}
	return fmt.Sprintf("%.1f Mbit/s", float64(bps)/1e6)
}
