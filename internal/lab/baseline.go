package lab

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/p2pstream/p2pstream/internal/ts"
	"github.com/p2pstream/p2pstream/transport"
)

// chunkLog is the baseline server's list of chunks, appended by the
// segmenter and read by every client's handler.
type chunkLog struct {
	mu     sync.Mutex
	cond   *sync.Cond
	chunks []logChunk
	done   bool
}

type logChunk struct {
	ts   int64 // cut time, Unix µs
	data []byte
}

func (l *chunkLog) add(c logChunk) {
	l.mu.Lock()
	l.chunks = append(l.chunks, c)
	l.cond.Broadcast()
	l.mu.Unlock()
}

func (l *chunkLog) finish() {
	l.mu.Lock()
	l.done = true
	l.cond.Broadcast()
	l.mu.Unlock()
}

// wait returns chunk i once it exists; ok is false after the end.
func (l *chunkLog) wait(i int) (logChunk, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i >= len(l.chunks) && !l.done {
		l.cond.Wait()
	}
	if i >= len(l.chunks) {
		return logChunk{}, false
	}
	return l.chunks[i], true
}

func (l *chunkLog) newest() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.chunks) - 1
}

// RunClientServer measures the baseline: every viewer fetches the live
// stream from the source over HTTP, under the same source upload cap and
// link shaping as the p2p run. A chunk counts as on time by the same rule
// as p2pstream's playout: due at t0 + (ts - ts0) + the default Peer.Delay.
func RunClientServer(cfg Config) (Result, error) {
	cfg = cfg.withDefaults()
	defer collectAt(gcLimit(cfg))()
	network := transport.NewMem()
	defer network.Close()
	network.SetDefaultLink(transport.Link{Latency: cfg.Latency, Jitter: cfg.Latency / 4, Loss: cfg.Loss})
	srcHost := network.Host("10.254.0.1")
	srcHost.SetUpload(int64(cfg.SourceUpload * float64(cfg.Bitrate/8)))
	ln, err := srcHost.Listen(":80")
	if err != nil {
		return Result{}, err
	}
	cpu0 := cpuTime()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	log := &chunkLog{}
	log.cond = sync.NewCond(&log.mu)
	go func() {
		defer log.finish()
		seg := ts.NewSegmenter(ts.Pace(ctx, bytes.NewReader(ts.Synthetic(cfg.Duration+5*time.Second, cfg.Bitrate, cfg.GOP))), cfg.Chunk)
		for {
			s, err := seg.Next()
			if len(s.Data) > 0 {
				log.add(logChunk{ts: time.Now().UnixMicro(), data: s.Data})
			}
			if err != nil {
				return
			}
		}
	}()
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		for i := max(log.newest(), 0); ; i++ {
			c, ok := log.wait(i)
			if !ok || r.Context().Err() != nil {
				return
			}
			var hdr [12]byte
			binary.BigEndian.PutUint64(hdr[:], uint64(c.ts))
			binary.BigEndian.PutUint32(hdr[8:], uint32(len(c.data)))
			if _, err := w.Write(append(hdr[:], c.data...)); err != nil {
				return
			}
			if rc.Flush() != nil {
				return
			}
		}
	})}
	go srv.Serve(ln)
	defer srv.Close()
	for log.newest() < 0 {
		time.Sleep(10 * time.Millisecond)
	}

	stats := make([]clientStats, cfg.Peers)
	progress := &csProgress{lags: make([]atomic.Int64, cfg.Peers), t0: make([]atomic.Int64, cfg.Peers), got: make([]atomic.Int64, cfg.Peers)}
	var wg sync.WaitGroup
	deadline := time.Now().Add(cfg.Duration)
	for i := range cfg.Peers {
		h := network.Host(fmt.Sprintf("10.253.%d.%d", i>>8&255, i&255))
		wg.Add(1)
		go func() {
			defer wg.Done()
			stats[i] = runClient(ctx, h, deadline, cfg.Chunk, progress, i)
		}()
	}
	var res Result
	// Sample once a second, as the p2p run does.
	tick := time.NewTicker(time.Second)
	prevDue, prevOnTime := int64(0), int64(0)
	for t := time.Second; t <= cfg.Duration; t += time.Second {
		<-tick.C
		due, onTime := progress.dueBy(time.Now(), cfg.Chunk), progress.onTime.Load()
		var now []time.Duration
		for i := range progress.lags {
			if l := progress.lags[i].Load(); l > 0 {
				now = append(now, time.Duration(l))
			}
		}
		sample := Sample{T: t, Continuity: 1, LagP50: percentile(now, 0.5), Viewers: cfg.Peers}
		if d := due - prevDue; d > 0 {
			sample.Continuity = float64(onTime-prevOnTime) / float64(d)
		}
		prevDue, prevOnTime = due, onTime
		// What has left the source's host, as it leaves (HTTP framing
		// included): a chunk half sent counts by half.
		sample.SourceUpload = float64(srcHost.Stats().Sent) / float64(publishedBytes(nil, t, cfg))
		res.Series = append(res.Series, sample)
	}
	tick.Stop()
	wg.Wait()
	cancel()

	res.Mode, res.Peers = "client-server", cfg.Peers
	var due, onTime int64
	var startups, lags []time.Duration
	for _, s := range stats {
		due += s.due
		onTime += s.onTime
		if s.startup > 0 {
			startups = append(startups, s.startup)
		} else {
			res.NeverStarted++
		}
		lags = append(lags, s.lags...)
	}
	res.Continuity = ratio(onTime, due)
	res.StartupP50, res.StartupP95 = percentile(startups, 0.5), percentile(startups, 0.95)
	res.LagP50, res.LagP95 = percentile(lags, 0.5), percentile(lags, 0.95)
	published := int64(cfg.Duration.Seconds() * float64(cfg.Bitrate) / 8)
	res.SourceUpload = float64(srcHost.Stats().Sent) / float64(published)
	res.HeapPerPeer = heapPerPeer(cfg.Peers) // first: its collection is the run's (live.go)
	res.CPUSeconds = cpuTime() - cpu0
	return res, nil
}

// csProgress is what the baseline's clients have measured so far, for the
// per-second samples.
type csProgress struct {
	onTime atomic.Int64
	lags   []atomic.Int64 // each client's lag at its last chunk
	t0     []atomic.Int64 // each client's play clock start, Unix ns (0 before its first chunk)
	got    []atomic.Int64 // chunks each client received
}

// dueBy counts the chunks due by now over the clients that have started:
// those received, or, if more, those whose deadline has passed (chunks that
// did not come are due too). A client without a chunk yet has none due in
// the per-second samples; at the end, RunClientServer counts every chunk
// of the run as due for a client that never started.
func (p *csProgress) dueBy(now time.Time, chunk time.Duration) int64 {
	var n int64
	for i := range p.t0 {
		t0 := p.t0[i].Load()
		if t0 == 0 {
			continue
		}
		got := p.got[i].Load()
		n += max(got, int64((now.Sub(time.Unix(0, t0))-playDelay(chunk))/chunk)+1)
	}
	return n
}

type clientStats struct {
	startup     time.Duration
	due, onTime int64
	lags        []time.Duration
}

// runClient reads the baseline stream until the deadline.
func runClient(ctx context.Context, h *transport.MemHost, until time.Time, chunk time.Duration, progress *csProgress, i int) (st clientStats) {
	ctx, cancel := context.WithDeadline(ctx, until)
	defer cancel()
	client := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
		return h.Dial(ctx, addr)
	}}}
	defer client.CloseIdleConnections()
	start := time.Now()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://10.254.0.1:80/", nil)
	resp, err := client.Do(req)
	if err != nil {
		return st
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	var t0 time.Time
	var ts0 int64
	lastSample := time.Time{}
	defer func() {
		// Chunks that never arrived were due too: every chunk whose deadline
		// passed before the end.
		if !t0.IsZero() {
			if expected := int64((until.Sub(t0)-playDelay(chunk))/chunk) + 1; expected > st.due {
				st.due = expected
			}
		} else {
			// Never started: every chunk of the run was missed, not none.
			st.due = int64(until.Sub(start) / chunk)
		}
	}()
	for {
		var hdr [12]byte
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			return st
		}
		ts := int64(binary.BigEndian.Uint64(hdr[:]))
		n := binary.BigEndian.Uint32(hdr[8:])
		if _, err := io.CopyN(io.Discard, br, int64(n)); err != nil {
			return st
		}
		now := time.Now()
		st.due++
		progress.got[i].Add(1)
		if t0.IsZero() {
			t0, ts0 = now, ts
			progress.t0[i].Store(now.UnixNano())
			st.startup = now.Sub(start)
			st.onTime++
			progress.onTime.Add(1)
		} else if due := t0.Add(time.Duration(ts-ts0)*time.Microsecond + playDelay(chunk)); !now.After(due) {
			st.onTime++
			progress.onTime.Add(1)
		}
		lag := playLag(now, t0, ts0, ts, playDelay(chunk))
		progress.lags[i].Store(int64(lag))
		if now.Sub(lastSample) >= time.Second {
			st.lags = append(st.lags, lag)
			lastSample = now
		}
	}
}

// playLag is how far behind the live edge a client plays at now, when a
// chunk stamped last arrives, by the rule of p2pstream's Stats.Lag: each
// chunk plays at its deadline, so the client plays its first chunk's age at
// t0 plus delay behind the edge, or, if it waited at the end of the chunk
// before (which ends where this one starts), this chunk's age.
func playLag(now, t0 time.Time, ts0, last int64, delay time.Duration) time.Duration {
	return max(t0.Sub(time.UnixMicro(ts0))+delay, now.Sub(time.UnixMicro(last)))
}

// playDelay is the play-out delay the baseline's clients get: p2pstream's
// default Peer.Delay for pulling viewers (Peer.Pull), three chunk
// durations, at least 2 s (twice the trees' default at 1 s chunks).
func playDelay(chunk time.Duration) time.Duration { return max(3*chunk, 2*time.Second) }
