package lab

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/p2pstream/p2pstream"
)

// RunVOD runs an on-demand swarm: one seeder with an upload cap of
// SeederRate, Peers viewers that each download the whole file and verify it.
// CompletionTime is when the last viewer finished; compare it with the time
// the seeder alone would need, Peers * size / SeederRate.
func RunVOD(cfg Config) (Result, error) {
	cfg = cfg.withDefaults()
	if cfg.SeederRate == 0 {
		cfg.SeederRate = 20 << 20
	}
	sw, err := newSwarm(cfg)
	if err != nil {
		return Result{}, err
	}
	defer sw.close()
	dir, err := os.MkdirTemp("", "p2pstream-lab")
	if err != nil {
		return Result{}, err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "film.bin")
	want, err := writeRandom(path, cfg.VODSize)
	if err != nil {
		return Result{}, err
	}
	cpu0 := cpuTime()
	sw.mu.Lock()
	seederHost := sw.host(cfg.SeederRate)
	sw.mu.Unlock()
	seederPeer := &p2pstream.Peer{Tracker: sw.url, Transport: seederHost}
	defer seederPeer.Close()
	seeder, err := seederPeer.PublishFile(context.Background(), path, p2pstream.PublishOptions{ChunkSize: 1 << 20})
	if err != nil {
		return Result{}, err
	}
	start := time.Now()
	viewerUpload := int64(cfg.Upload * float64(cfg.SeederRate)) // peers are as well connected as the seeder
	var wg sync.WaitGroup
	var mu sync.Mutex
	var res Result
	var times []time.Duration
	var firstErr error
	for range cfg.Peers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d, err := sw.download(seeder.ID(), viewerUpload, want)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				firstErr = cmpErr(firstErr, err)
				return
			}
			times = append(times, d)
			res.Completed++
			cfg.Logf("vod: viewer %d/%d complete after %v", res.Completed, cfg.Peers, d.Round(time.Millisecond))
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return Result{}, firstErr
	}
	res.Mode, res.Peers = "p2p-vod", cfg.Peers
	res.CompletionTime = time.Since(start)
	res.StartupP50, res.StartupP95 = percentile(times, 0.5), percentile(times, 0.95)
	res.Continuity = 1
	res.SourceUpload = float64(seeder.Stats().BytesUp) / float64(cfg.VODSize)
	var fromPeers, all int64
	for _, st := range sw.stats() {
		fromPeers += st.BytesFromPeers
		all += st.BytesFromPeers + st.BytesFromSource
	}
	res.P2PRatio = ratio(fromPeers, all)
	res.CPUSeconds = cpuTime() - cpu0
	res.HeapPerPeer = heapPerPeer(cfg.Peers)
	return res, nil
}

func cmpErr(old, err error) error {
	if old != nil {
		return old
	}
	return err
}

// download joins id, reads the whole file and checks its hash.
func (sw *swarm) download(id p2pstream.StreamID, upload int64, want [32]byte) (time.Duration, error) {
	start := time.Now()
	v, err := sw.join(id, upload, false)
	if err != nil {
		return 0, err
	}
	r, err := v.stream.Reader()
	if err != nil {
		return 0, err
	}
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		return 0, err
	}
	if [32]byte(h.Sum(nil)) != want {
		return 0, fmt.Errorf("viewer %s: SHA-256 mismatch", v.peer.ID())
	}
	return time.Since(start), nil
}

// writeRandom writes n pseudo-random bytes to path and returns their SHA-256.
func writeRandom(path string, n int64) ([32]byte, error) {
	f, err := os.Create(path)
	if err != nil {
		return [32]byte{}, err
	}
	defer f.Close()
	h := sha256.New()
	src := rand.NewChaCha8([32]byte{42})
	if _, err := io.CopyN(io.MultiWriter(f, h), src, n); err != nil {
		return [32]byte{}, err
	}
	return [32]byte(h.Sum(nil)), f.Close()
}
