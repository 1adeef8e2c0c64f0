package lab

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/p2pstream/p2pstream"
	"github.com/p2pstream/p2pstream/internal/ts"
	"github.com/p2pstream/p2pstream/transport"
)

// swarm is the p2p side of a run: a tracker, a source and viewers on one
// shaped in-memory network.
type swarm struct {
	cfg     Config
	net     *transport.Mem
	tracker *p2pstream.Tracker
	url     string
	hosts   int
	diag    *diag // nil unless cfg.Diagnose

	mu      sync.Mutex // guards hosts, viewers and gone
	viewers []*viewer
	gone    []p2pstream.Stats // final stats of viewers that left
	// lateGone holds the startup delays of viewers that joined after the
	// initial crowd (churn) and left.
	lateGone []time.Duration
}

type viewer struct {
	peer   *p2pstream.Peer
	stream *p2pstream.Stream
	late   bool // joined after the initial crowd, into a running swarm
}

func newSwarm(cfg Config) (*swarm, error) {
	sw := &swarm{cfg: cfg, net: transport.NewMem()}
	if cfg.Diagnose {
		sw.diag = newDiag()
	}
	sw.net.SetDefaultLink(transport.Link{Latency: cfg.Latency, Jitter: cfg.Latency / 4, Loss: cfg.Loss})
	ln, err := sw.net.Host("10.255.0.1").Listen(":7070")
	if err != nil {
		return nil, err
	}
	sw.url = "http://10.255.0.1:7070"
	sw.tracker = &p2pstream.Tracker{Interval: 2 * time.Second, TTL: 10 * time.Second}
	go sw.tracker.Serve(ln)
	return sw, nil
}

func (sw *swarm) close() {
	sw.mu.Lock()
	vs := sw.viewers
	sw.viewers = nil
	sw.mu.Unlock()
	var wg sync.WaitGroup
	for _, v := range vs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v.peer.Close()
		}()
	}
	wg.Wait()
	sw.tracker.Close()
	sw.net.Close()
}

// host returns a new host with the given upload cap in bytes per second.
// Called with sw.mu held.
func (sw *swarm) host(upload int64) *transport.MemHost {
	sw.hosts++
	h := sw.net.Host(fmt.Sprintf("10.%d.%d.%d", sw.hosts>>16&255, sw.hosts>>8&255, sw.hosts&255))
	h.SetUpload(upload)
	return h
}

// join adds a viewer of id.
func (sw *swarm) join(id p2pstream.StreamID, upload int64, late bool) (*viewer, error) {
	sw.mu.Lock()
	h := sw.host(upload)
	sw.mu.Unlock()
	p := &p2pstream.Peer{Tracker: sw.url, Transport: h, Delay: sw.cfg.Delay, Window: sw.cfg.Window, Pull: sw.cfg.Pull, MaxPeers: sw.cfg.MaxPeers}
	if sw.diag != nil {
		p.Logger = slog.New(sw.diag)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// A crowd of a thousand joining at once can overrun the tracker; like
	// a real client, try again.
	var s *p2pstream.Stream
	var err error
	for attempt := 1; ; attempt++ {
		if s, err = p.Join(ctx, id, nil); err == nil || attempt == 5 || ctx.Err() != nil {
			break
		}
		time.Sleep(time.Duration(attempt) * 500 * time.Millisecond)
	}
	if err != nil {
		p.Close()
		return nil, err
	}
	v := &viewer{peer: p, stream: s, late: late}
	sw.mu.Lock()
	sw.viewers = append(sw.viewers, v)
	sw.mu.Unlock()
	return v, nil
}

// leave closes a random viewer, keeping its final statistics.
func (sw *swarm) leave(r *rand.Rand) {
	sw.mu.Lock()
	if len(sw.viewers) == 0 {
		sw.mu.Unlock()
		return
	}
	i := r.IntN(len(sw.viewers))
	v := sw.viewers[i]
	sw.viewers = append(sw.viewers[:i], sw.viewers[i+1:]...)
	st := v.stream.Stats()
	sw.gone = append(sw.gone, st)
	if v.late && st.StartupDelay > 0 {
		sw.lateGone = append(sw.lateGone, st.StartupDelay)
	}
	sw.mu.Unlock()
	v.peer.Close()
}

// lateStartups returns the startup delays of the viewers that joined after
// the initial crowd and have started, those that left included.
func (sw *swarm) lateStartups() []time.Duration {
	sw.mu.Lock()
	defer sw.mu.Unlock()
	out := append([]time.Duration(nil), sw.lateGone...)
	for _, v := range sw.viewers {
		if st := v.stream.Stats(); v.late && st.StartupDelay > 0 {
			out = append(out, st.StartupDelay)
		}
	}
	return out
}

func (sw *swarm) stats() []p2pstream.Stats {
	sw.mu.Lock()
	defer sw.mu.Unlock()
	out := make([]p2pstream.Stats, 0, len(sw.viewers)+len(sw.gone))
	for _, v := range sw.viewers {
		out = append(out, v.stream.Stats())
	}
	return out
}

// RunLive runs a live p2p swarm and returns what it measured.
func RunLive(cfg Config) (Result, error) {
	cfg = cfg.withDefaults()
	sw, err := newSwarm(cfg)
	if err != nil {
		return Result{}, err
	}
	defer sw.close()
	defer collectAt(gcLimit(cfg))()
	if n := prefaultSize(cfg); n > 0 {
		t := time.Now()
		prefault(n)
		cfg.Logf("p2p: touched %d MiB of heap before the run in %v (-prefault)", n>>20, time.Since(t).Round(time.Millisecond))
	}
	cpu0 := cpuTime()
	bytesPerSec := cfg.Bitrate / 8

	// Enough stream for the run and for the crowd to join first (a
	// thousand viewers take tens of seconds on two cores).
	joining := max(30*time.Second, time.Duration(cfg.Peers)*100*time.Millisecond)
	src := ts.Synthetic(cfg.Duration+5*time.Second+joining, cfg.Bitrate, cfg.GOP)
	sw.mu.Lock()
	srcHost := sw.host(int64(cfg.SourceUpload * float64(bytesPerSec)))
	sw.mu.Unlock()
	srcPeer := &p2pstream.Peer{Tracker: sw.url, Transport: srcHost, Pull: cfg.Pull}
	if sw.diag != nil {
		srcPeer.Logger = slog.New(sourceTrees{sw.diag})
	}
	defer srcPeer.Close()
	live, err := srcPeer.Publish(context.Background(), bytes.NewReader(src), p2pstream.PublishOptions{Name: "lab", ChunkDuration: cfg.Chunk, Fanout: cfg.Fanout, ServeLimit: cfg.ServeLimit})
	if err != nil {
		return Result{}, err
	}
	pubStart := time.Now()
	// Let the first chunk exist, then the crowd arrives at once.
	time.Sleep(cfg.Chunk + 100*time.Millisecond)
	sched := newSchedLatency() // the crowd's join included
	start := time.Now()
	upload := int64(cfg.Upload * float64(bytesPerSec))
	var wg sync.WaitGroup
	errs := make(chan error, cfg.Peers)
	for range cfg.Peers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := sw.join(live.ID(), upload, false); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		return Result{}, fmt.Errorf("joining: %w", err)
	}
	cfg.Logf("p2p: %d viewers joined in %v", cfg.Peers, time.Since(start).Round(time.Millisecond))

	r := rand.New(rand.NewPCG(1, 2))
	var res Result
	var lags []time.Duration
	var churnDebt float64
	prevDue, prevOnTime := int64(0), int64(0)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for t := time.Second; t <= cfg.Duration; t += time.Second {
		<-tick.C
		churnDebt += cfg.Churn * float64(cfg.Peers) / 60
		// Not as the run ends: a viewer joining then could not start, and
		// would count as one that never did.
		for ; churnDebt >= 1 && t < cfg.Duration; churnDebt-- {
			sw.leave(r)
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := sw.join(live.ID(), upload, true); err != nil {
					cfg.Logf("churn: join failed: %v", err)
				}
			}()
		}
		all := sw.stats()
		var due, onTime int64
		var now []time.Duration
		for _, st := range all {
			due += st.ChunksDue
			onTime += st.ChunksOnTime
			if st.StartupDelay > 0 {
				now = append(now, st.Lag)
			}
		}
		sw.mu.Lock()
		for _, st := range sw.gone { // so that viewers leaving do not lower the sums
			due += st.ChunksDue
			onTime += st.ChunksOnTime
		}
		sw.mu.Unlock()
		lags = append(lags, now...)
		if cfg.Diagnose && t <= formationWatch {
			p50, p99 := sched.next()
			waits := fmt.Sprintf("goroutines waited for a CPU p50 <= %v, p99 <= %v", p50.Round(time.Microsecond), p99.Round(time.Microsecond))
			if cfg.Pull {
				cfg.Logf("t=%v: %s", t, waits)
			} else {
				cfg.Logf("trees t=%v: %s; %s", t, treeFormation(all), waits)
			}
		}
		sample := Sample{T: t, Continuity: 1, LagP50: percentile(now, 0.5), Viewers: len(all)}
		if d := due - prevDue; d > 0 {
			sample.Continuity = float64(onTime-prevOnTime) / float64(d)
		}
		prevDue, prevOnTime = due, onTime
		published := live.Stats()
		// The stream so far: a large crowd takes a while to join.
		if sent := publishedBytes(nil, time.Since(pubStart)-cfg.Chunk, cfg); sent > 0 {
			sample.SourceUpload = float64(published.BytesUp) / float64(sent)
		}
		res.Series = append(res.Series, sample)
		if t%(10*time.Second) == 0 {
			cfg.Logf("p2p: t=%v viewers=%d continuity(1s)=%.3f lag50=%v source-up=%.2fx",
				t, len(all), sample.Continuity, sample.LagP50.Round(10*time.Millisecond), sample.SourceUpload)
		}
	}
	wg.Wait()

	all := sw.stats()
	sw.mu.Lock()
	all = append(all, sw.gone...)
	sw.mu.Unlock()
	var due, onTime, fromPeers, fromSource int64
	var startups []time.Duration
	for _, st := range all {
		due += st.ChunksDue
		onTime += st.ChunksOnTime
		fromPeers += st.BytesFromPeers
		fromSource += st.BytesFromSource
		if st.StartupDelay > 0 {
			startups = append(startups, st.StartupDelay)
		} else {
			res.NeverStarted++
		}
	}
	res.Mode, res.Peers = "p2p", cfg.Peers
	res.Continuity = ratio(onTime, due)
	res.StartupP50, res.StartupP95 = percentile(startups, 0.5), percentile(startups, 0.95)
	if late := sw.lateStartups(); len(late) > 0 {
		res.LateJoiners = len(late)
		res.LateStartupP50, res.LateStartupP95 = percentile(late, 0.5), percentile(late, 0.95)
		cfg.Logf("p2p: %d viewers joined the running swarm later: startup p50 %v, p95 %v",
			len(late), res.LateStartupP50.Round(10*time.Millisecond), res.LateStartupP95.Round(10*time.Millisecond))
	}
	res.LagP50, res.LagP95 = percentile(lags, 0.5), percentile(lags, 0.95)
	res.P2PRatio = ratio(fromPeers, fromPeers+fromSource)
	if n := len(res.Series); n > 0 {
		res.SourceUpload = res.Series[n-1].SourceUpload
	}
	// After heapPerPeer's collection: with the collector off (gc.go) the
	// run's one collection of what it allocated is counted too.
	res.HeapPerPeer = heapPerPeer(cfg.Peers)
	res.CPUSeconds = cpuTime() - cpu0
	if cfg.HeapProfile != "" {
		if err := writeHeapProfile(cfg.HeapProfile); err != nil {
			return res, err
		}
	}
	if sw.diag != nil {
		var up, got, wasted int64
		for _, st := range all {
			up += st.BytesUp
			got += st.BytesFromPeers + st.BytesFromSource
			wasted += st.BytesWasted
		}
		capacity := float64(upload) * (cfg.Duration + time.Since(start) - cfg.Duration).Seconds() * float64(cfg.Peers)
		var hist [11]int
		var peers []string
		for _, st := range all {
			hist[int(st.Continuity*10)]++
			if st.Continuity < 0.8 {
				peers = append(peers, fmt.Sprintf("%d/%.2f/%v", st.Peers, st.Continuity, st.StartupDelay.Round(100*time.Millisecond)))
			}
		}
		res.Diagnosis = fmt.Sprintf("viewers' upload used: %.0f%% of their caps; chunk bytes received not needed (duplicates): %.1f%% of those needed\nviewers by continuity (tenths): %v\nworst (peers/continuity/startup): %v\n", 100*float64(up)/capacity, 100*ratio(wasted, got), hist, peers) + treeDiagnosis(cfg, all) + sw.diag.String()
	}
	return res, nil
}

// publishedBytes estimates the bytes of stream published by time t.
func publishedBytes(_ *p2pstream.Stream, t time.Duration, cfg Config) int64 {
	return int64((t + cfg.Chunk).Seconds() * float64(cfg.Bitrate) / 8)
}

func ratio(a, b int64) float64 {
	if b == 0 {
		return 1
	}
	return float64(a) / float64(b)
}

// cpuTime returns the process's user+system CPU seconds.
func cpuTime() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// writeHeapProfile writes the live heap's profile to file.
func writeHeapProfile(file string) error {
	// A heap profile shows the heap as of the last completed collection
	// but one: collect twice so it shows the heap now.
	runtime.GC()
	runtime.GC()
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	if err := pprof.WriteHeapProfile(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// heapPerPeer returns the live heap after a GC divided by n.
func heapPerPeer(n int) int64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc) / int64(max(n, 1))
}

// formationWatch is how long -diagnose follows the trees forming, once a
// second (treeFormation).
const formationWatch = 30 * time.Second

// treeFormation describes the stripe trees now: how many viewers get all
// four stripes down them, and how deep their deepest stripe is (p50, p95,
// of those fed any).
func treeFormation(all []p2pstream.Stats) string {
	full := 0
	var depths []int
	for _, st := range all {
		if st.TreeStripes >= 4 {
			full++
		}
		if st.TreeStripes > 0 {
			depths = append(depths, st.TreeDepth)
		}
	}
	if len(depths) == 0 {
		return fmt.Sprintf("%d of %d viewers fed all four stripes", full, len(all))
	}
	slices.Sort(depths)
	return fmt.Sprintf("%d of %d viewers fed all four stripes, deepest stripe at depth p50 %d, p95 %d",
		full, len(all), depths[len(depths)/2], depths[min(len(depths)-1, len(depths)*95/100)])
}

// treeDiagnosis describes the stripe trees at the end of a run: how many
// viewers get how many stripes down the trees, how deep, and how many feeds
// they give.
func treeDiagnosis(cfg Config, all []p2pstream.Stats) string {
	if cfg.Pull {
		return ""
	}
	var fed [5]int
	var feeds [6]int
	depth := map[int]int{}
	continuity := map[int]float64{}
	for _, st := range all {
		fed[min(st.TreeStripes, 4)]++
		feeds[min(st.TreeFeeds, 5)]++
		depth[st.TreeDepth]++
		continuity[st.TreeDepth] += st.Continuity
	}
	var ds []string
	for d := range 17 {
		if n := depth[d]; n > 0 {
			ds = append(ds, fmt.Sprintf("%d:%d/%.1f%%", d, n, 100*continuity[d]/float64(n)))
		}
	}
	return fmt.Sprintf("trees at the end: viewers by stripes fed (0-4): %v; by feeds given (0-5): %v; by depth of their deepest stripe (depth:viewers/their mean continuity): %s\n",
		fed, feeds, strings.Join(ds, " "))
}
