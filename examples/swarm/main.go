// Command swarm is the swarm lab: it runs a tracker, a broadcaster and N
// viewers in one process over an in-memory network with shaped links, then
// the client-server baseline under the same source upload cap, and prints
// both side by side.
//
//	go run ./examples/swarm                         # 100 viewers, 60 s
//	go run ./examples/swarm -peers 1000 -bitrate 500k
//	go run ./examples/swarm -vod 256M -peers 8      # on-demand swarm
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/p2pstream/p2pstream/internal/lab"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "swarm:", err)
		os.Exit(1)
	}
}

func run() error {
	fs := flag.NewFlagSet("swarm", flag.ExitOnError)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: go run ./examples/swarm [flags]

Runs a whole p2pstream swarm in one process (tracker, broadcaster, viewers)
over transport.Mem with link shaping, measures startup delay, continuity,
lag, the source's upload, the P2P ratio, CPU and memory, then measures a
client-server baseline (every viewer fetching from the source over HTTP
under the same upload cap), and prints both.

Flags:
`)
		fs.PrintDefaults()
	}
	var cfg lab.Config
	fs.IntVar(&cfg.Peers, "peers", 100, "number of viewers")
	bitrate := fs.String("bitrate", "2M", "live stream `bitrate` in bits/s (k, M suffixes)")
	fs.DurationVar(&cfg.Chunk, "chunk", time.Second, "live chunk `duration`")
	fs.DurationVar(&cfg.GOP, "gop", 0, "live: the source's keyframe interval `D`; 0 means one keyframe per chunk (longer: chunks are also cut without keyframes, as with a real encoder)")
	fs.Float64Var(&cfg.Upload, "upload", 1.5, "each viewer's upload cap as a `multiple` of the bitrate (on demand: of -seeder-rate)")
	fs.Float64Var(&cfg.SourceUpload, "source-upload", 4, "the broadcaster's upload cap as a `multiple` of the bitrate")
	fs.IntVar(&cfg.Fanout, "fanout", 0, "peers the source pushes each fresh chunk to; 0 means the library default")
	fs.Float64Var(&cfg.ServeLimit, "serve-limit", 0, "the source's upload for requests, as a `multiple` of the stream; 0 means the library default, negative no limit")
	fs.DurationVar(&cfg.Window, "window", 0, "viewers' live `window` (Peer.Window); 0 means the library default")
	fs.BoolVar(&cfg.Pull, "pull", false, "viewers pull every chunk (Peer.Pull) instead of fresh chunks being pushed down stripe trees")
	fs.DurationVar(&cfg.Delay, "delay", 0, "viewers' playout `delay` (Peer.Delay); 0 means the library default")
	fs.IntVar(&cfg.MaxPeers, "max-peers", 0, "peers each viewer dials (Peer.MaxPeers; it accepts up to four times as many); 0 means the library default")
	gcLimit := fs.String("gc-limit", "auto", "live: let the process's memory grow to this `SIZE` (powers of 1024: k, M, G) before the collector runs (GOGC=off with this GOMEMLIMIT), as every viewer's heap is in one process; a small SIZE makes the collector run all the time; auto is three times what the run is estimated to use, at least 1 GiB, at most half the machine's memory; 0 leaves the collector to GOGC and GOMEMLIMIT")
	prefault := fs.String("prefault", "auto", "live: touch this `SIZE` of heap (powers of 1024: k, M, G) before the stream starts, so the first touch of the viewers' memory, all in one process, does not cost the run's first seconds; auto estimates what the run will use, 0 touches none")
	fs.DurationVar(&cfg.Latency, "latency", 20*time.Millisecond, "one-way link `latency` (with 25% jitter)")
	fs.Float64Var(&cfg.Loss, "loss", 0, "`probability` a write is lost and retransmitted")
	fs.Float64Var(&cfg.Churn, "churn", 0, "`fraction` of viewers leaving (and new ones joining) per minute")
	fs.DurationVar(&cfg.Duration, "duration", 60*time.Second, "measured `duration` of the live run")
	vod := fs.String("vod", "", "run an on-demand swarm of this `SIZE` (e.g. 256M) instead of a live one")
	seeder := fs.String("seeder-rate", "20M", "on demand: the seeder's upload cap in `bytes/s` (powers of 1024: k, M, G)")
	fs.BoolVar(&cfg.Diagnose, "diagnose", false, "count why chunks missed their deadline, requests and rejects, and how old chunks are (since cut) when their heads reach viewers and when viewers store them, and print it; without -pull, also how many viewers the trees feed and how deep; and how long goroutines waited for a CPU; each second for the first 30 s")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the run to `FILE`")
	fs.StringVar(&cfg.HeapProfile, "memprofile", "", "live: write a heap profile at the end of the run, swarm still up, to `FILE`")
	noBaseline := fs.Bool("no-baseline", false, "skip the client-server baseline")
	jsonOut := fs.Bool("json", false, "print the results as JSON instead of a table")
	plotOut := fs.String("plot", "", "write a PNG plot of continuity, lag and source upload over time to `FILE`")
	fs.Parse(os.Args[1:])

	var err error
	if cfg.Bitrate, err = parseSize(*bitrate, 1000); err != nil {
		return fmt.Errorf("-bitrate: %w", err)
	}
	if cfg.SeederRate, err = parseSize(*seeder, 1024); err != nil {
		return fmt.Errorf("-seeder-rate: %w", err)
	}
	if cfg.GCLimit, err = parseAutoSize(*gcLimit); err != nil {
		return fmt.Errorf("-gc-limit: %w", err)
	}
	if cfg.Prefault, err = parseAutoSize(*prefault); err != nil {
		return fmt.Errorf("-prefault: %w", err)
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	cfg.Logf = func(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) }
	fmt.Fprintf(os.Stderr, "machine: %d CPUs, %s/%s, %s\n", runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, runtime.Version())

	var results []lab.Result
	if *vod != "" {
		if cfg.VODSize, err = parseSize(*vod, 1024); err != nil {
			return fmt.Errorf("-vod: %w", err)
		}
		r, err := lab.RunVOD(cfg)
		if err != nil {
			return err
		}
		bound := time.Duration(float64(cfg.Peers) * float64(cfg.VODSize) / float64(cfg.SeederRate) * float64(time.Second))
		fmt.Fprintf(os.Stderr, "on demand: %d viewers x %d MiB complete in %v; the seeder alone would need %v (ratio %.2f)\n",
			cfg.Peers, cfg.VODSize>>20, r.CompletionTime.Round(time.Millisecond), bound, r.CompletionTime.Seconds()/bound.Seconds())
		results = append(results, r)
	} else {
		gop := ""
		if cfg.GOP != 0 && cfg.GOP != cfg.Chunk {
			gop = fmt.Sprintf(" (keyframes every %v)", cfg.GOP)
		}
		fmt.Fprintf(os.Stderr, "live: %d viewers, %s bit/s, %v chunks%s, upload %.1fx, source %.1fx, latency %v, loss %g, churn %g/min, %v\n",
			cfg.Peers, *bitrate, cfg.Chunk, gop, cfg.Upload, cfg.SourceUpload, cfg.Latency, cfg.Loss, cfg.Churn, cfg.Duration)
		r, err := lab.RunLive(cfg)
		if err != nil {
			return err
		}
		results = append(results, r)
		if !*noBaseline {
			b, err := lab.RunClientServer(cfg)
			if err != nil {
				return err
			}
			results = append(results, b)
		}
	}
	if *jsonOut {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(results)
	}
	fmt.Println(lab.Header)
	for _, r := range results {
		fmt.Println(r)
	}
	for _, r := range results {
		if n := r.Note(); n != "" {
			fmt.Println(n)
		}
	}
	for _, r := range results {
		if r.Diagnosis != "" {
			fmt.Printf("\n%s events:\n%s", r.Mode, r.Diagnosis)
		}
	}
	if *plotOut != "" {
		title := fmt.Sprintf("%d viewers, %s bit/s", cfg.Peers, *bitrate)
		if err := lab.Plot(*plotOut, title, results...); err != nil {
			return err
		}
		fmt.Fprintln(os.Stderr, "wrote", *plotOut)
	}
	return nil
}

// parseAutoSize parses a size in powers of 1024 as the lab's Config takes
// it: "auto" is 0 (the lab's estimate), "0" is -1 (none).
func parseAutoSize(s string) (int64, error) {
	switch s {
	case "auto":
		return 0, nil
	case "0":
		return -1, nil
	}
	return parseSize(s, 1024)
}

// parseSize parses "500k", "2M", "1.5G" with the given unit base.
func parseSize(s string, base float64) (int64, error) {
	if s == "" {
		return 0, fmt.Errorf("empty size")
	}
	mult := 1.0
	switch strings.ToLower(s[len(s)-1:]) {
	case "k":
		mult = base
	case "m":
		mult = base * base
	case "g":
		mult = base * base * base
	}
	if mult != 1 {
		s = s[:len(s)-1]
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || v <= 0 {
		return 0, fmt.Errorf("bad size %q", s)
	}
	return int64(v * mult), nil
}
