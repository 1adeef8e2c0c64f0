// Package lab runs a whole swarm in one process over transport.Mem with
// shaped links, and measures what viewers and broadcasters care about:
// startup delay, continuity, lag, the source's upload, the P2P ratio, CPU and
// memory. It also measures a client-server baseline (every viewer fetching
// from the source over HTTP under the same upload cap) in the same run.
// examples/swarm is its command line; BenchmarkSwarm wraps it.
package lab

import (
	"cmp"
	"fmt"
	"slices"
	"time"
)

// Config describes one lab run. Zero fields mean the documented defaults.
type Config struct {
	// Peers is the number of viewers; if zero, 100.
	Peers int
	// Bitrate of the live stream in bits per second; if zero, 2 Mbit/s.
	Bitrate int64
	// Chunk is the live chunk duration; if zero, 1 s.
	Chunk time.Duration
	// GOP is the synthetic source's keyframe interval; if zero, Chunk (a
	// keyframe starts every chunk). Longer, chunks are cut without
	// keyframes too (at twice Chunk at most, as by ts.Segmenter), as with
	// a real encoder's GOP and short chunks.
	GOP time.Duration
	// Upload is each viewer's upload cap as a multiple of the bitrate; if zero, 1.5.
	Upload float64
	// SourceUpload is the broadcaster's upload cap as a multiple of the bitrate; if zero, 4.
	SourceUpload float64
	// Fanout is PublishOptions.Fanout of the live source; if zero, the
	// library's default.
	Fanout int
	// ServeLimit is PublishOptions.ServeLimit of the live source; if zero,
	// the library's default.
	ServeLimit float64
	// Window is each viewer's live window (Peer.Window); if zero, the
	// library's default.
	Window time.Duration
	// Delay is each viewer's playout delay (Peer.Delay); if zero, the
	// library's default.
	Delay time.Duration
	// MaxPeers is how many peers each viewer dials (Peer.MaxPeers); if
	// zero, the library's default.
	MaxPeers int
	// Pull runs every peer with Peer.Pull: viewers pull every chunk, where
	// by default fresh chunks are pushed down stripe trees.
	Pull bool
	// Prefault is how many bytes of heap a live run touches before the
	// stream starts (prefault.go); if zero, an estimate of what the run
	// will use; negative, none.
	Prefault int64
	// GCLimit is the memory a live run may grow to before the collector
	// runs (gc.go: GOGC=off with this GOMEMLIMIT); the collector is off
	// below it. If zero, three times the heap the run is estimated to
	// fill, at least 1 GiB, at most half the machine's memory; negative,
	// the collector runs as GOGC and GOMEMLIMIT say.
	GCLimit int64
	// Latency is the one-way latency of every link (with 25% jitter); if zero, 20 ms.
	Latency time.Duration
	// Loss is the probability a write is lost and retransmitted.
	Loss float64
	// Churn is the fraction of viewers that leave (and are replaced) per minute.
	Churn float64
	// Duration of the measured run; if zero, 60 s.
	Duration time.Duration
	// VODSize, if set, runs an on-demand swarm of that many bytes instead.
	VODSize int64
	// SeederRate is the on-demand seeder's upload cap in bytes per second;
	// if zero, 20 MiB/s. Viewers get Upload times as much.
	SeederRate int64
	// SkipBaseline skips the client-server run.
	SkipBaseline bool
	// Diagnose counts the viewers' debug events (why chunks missed their
	// deadline, requests, rejects) into Result.Diagnosis, and logs, each
	// second for the first 30 s, how long goroutines waited for a CPU and,
	// without Pull, how the trees form (treeFormation).
	Diagnose bool
	// HeapProfile, if set, is a file to write a heap profile to at the end
	// of the live run, while the swarm is still up.
	HeapProfile string
	// Logf receives progress lines; nil discards them.
	Logf func(format string, args ...any)
}

func (c Config) withDefaults() Config {
	if c.Peers == 0 {
		c.Peers = 100
	}
	if c.Bitrate == 0 {
		c.Bitrate = 2_000_000
	}
	if c.Chunk == 0 {
		c.Chunk = time.Second
	}
	if c.GOP == 0 {
		c.GOP = c.Chunk
	}
	if c.Upload == 0 {
		c.Upload = 1.5
	}
	if c.SourceUpload == 0 {
		c.SourceUpload = 4
	}
	if c.Latency == 0 {
		c.Latency = 20 * time.Millisecond
	}
	if c.Duration == 0 {
		c.Duration = 60 * time.Second
	}
	if c.Logf == nil {
		c.Logf = func(string, ...any) {}
	}
	return c
}

// Result is what one mode of a run measured.
type Result struct {
	Mode  string `json:"mode"` // "p2p" or "client-server"
	Peers int    `json:"peers"`
	// StartupP50 and StartupP95: join -> the first chunk handed to the sink:
	// its first part, as the viewers have no sink and take parts (PartSink);
	// the baseline client, its first whole chunk.
	StartupP50 time.Duration `json:"startup_p50"`
	StartupP95 time.Duration `json:"startup_p95"`
	// LateJoiners counts the viewers that joined the running swarm after the
	// initial crowd (churn) and started; LateStartupP50 and LateStartupP95
	// are their startup delays, what a viewer joining an established stream
	// sees.
	LateJoiners    int           `json:"late_joiners,omitempty"`
	LateStartupP50 time.Duration `json:"late_startup_p50,omitempty"`
	LateStartupP95 time.Duration `json:"late_startup_p95,omitempty"`
	// Continuity: chunks delivered by their deadline / chunks due, over all viewers.
	// In the client-server baseline, a viewer that got no chunk at all had a
	// chunk due for each chunk duration of the run.
	Continuity float64 `json:"continuity"`
	// NeverStarted counts the viewers that got no chunk by the end of the
	// run (startup and lag figures leave them out).
	NeverStarted int `json:"never_started,omitempty"`
	// LagP50 and LagP95: how far behind the live edge viewers play, sampled each second.
	LagP50 time.Duration `json:"lag_p50"`
	LagP95 time.Duration `json:"lag_p95"`
	// SourceUpload is the bytes the source sent divided by the bytes of the stream.
	SourceUpload float64 `json:"source_upload_multiple"`
	// P2PRatio is bytes from peers / all bytes received.
	P2PRatio float64 `json:"p2p_ratio"`
	// CPUSeconds is user+system CPU time of the run.
	CPUSeconds float64 `json:"cpu_seconds"`
	// HeapPerPeer is the live heap at the end of the run divided by the viewers.
	HeapPerPeer int64 `json:"heap_per_peer"`
	// Completed and CompletionTime are for on-demand runs: viewers that have
	// the whole file, and when the last finished.
	Completed      int           `json:"completed,omitempty"`
	CompletionTime time.Duration `json:"completion_time,omitempty"`
	// Diagnosis counts debug events by kind, if Config.Diagnose is set.
	Diagnosis string `json:"diagnosis,omitempty"`
	// Series is sampled once a second.
	Series []Sample `json:"series"`
}

// Sample is the state of a run at one moment.
type Sample struct {
	T            time.Duration `json:"t"`
	Continuity   float64       `json:"continuity"` // over the last second
	LagP50       time.Duration `json:"lag_p50"`
	SourceUpload float64       `json:"source_upload_multiple"` // so far
	Viewers      int           `json:"viewers"`
}

// String formats the result as one table row.
func (r Result) String() string {
	return fmt.Sprintf("%-13s %6d  %7.3f%%  %6.2fs %6.2fs  %6.2fs %6.2fs  %7.2f  %5.1f%%  %7.1f  %8s",
		r.Mode, r.Peers, 100*r.Continuity, r.StartupP50.Seconds(), r.StartupP95.Seconds(),
		r.LagP50.Seconds(), r.LagP95.Seconds(), r.SourceUpload, 100*r.P2PRatio, r.CPUSeconds, bytesString(r.HeapPerPeer))
}

// Note returns a line to print under the table for r, or "".
func (r Result) Note() string {
	if r.NeverStarted == 0 {
		return ""
	}
	return fmt.Sprintf("%s: %d of %d viewers got no chunk by the end of the run", r.Mode, r.NeverStarted, r.Peers)
}

// Header is the table header matching Result.String.
const Header = "mode           peers  continuity  start50 start95   lag50  lag95   src-up    p2p    cpu-s  heap/peer"

func bytesString(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.2fMiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.0fKiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%dB", n)
}

// percentile returns the p-th percentile (0..1) of ds.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.SortFunc(s, cmp.Compare)
	i := int(p * float64(len(s)-1))
	return s[i]
}
