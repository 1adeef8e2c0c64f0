package lab

import "runtime/debug"

// The lab runs every viewer in one process, so one collector marks all
// their heaps: a thousand viewers joining at once grow the heap from a few
// megabytes to a gigabyte in their first seconds, and with Go's default
// (GOGC=100: collect when the heap has doubled) the collector marked it
// nine times in 12 s while the crowd joined, with the viewers' goroutines
// drafted to help. On two cores that delayed every write and timer by up
// to 0.3 s (p99, "goroutines waited for a CPU" in -diagnose), and five
// 1,000-viewer runs of nine lost a tenth of their chunks or more
// (docs/BENCHMARKS.md, "Twenty-first session"). Viewers on machines of
// their own each collect a heap of a megabyte or two. So, as a server sized
// for its load does (GOGC=off with GOMEMLIMIT), the lab lets the heap grow
// to a limit before it collects (Config.GCLimit), in the client-server run
// as in the p2p one, and restores the collector's settings after. The
// limit is the runtime's memory (GOMEMLIMIT), not the heap alone; a run
// that outgrows it (1,000 viewers at 500 kbit/s for about a minute)
// collects at the limit from then on.

// gcLimit is the heap limit for a run of cfg: Config.GCLimit, or three
// times heapEstimate (at least 1 GiB), at most half the machine's memory;
// 0 for none.
func gcLimit(cfg Config) int64 {
	if cfg.GCLimit != 0 {
		return max(0, cfg.GCLimit)
	}
	return min(max(3*heapEstimate(cfg), 1<<30), totalRAM()/2)
}

// collectAt turns the collector off up to a heap of limit bytes
// (debug.SetGCPercent(-1) with debug.SetMemoryLimit), if limit is
// positive, and returns what restores the settings it found.
func collectAt(limit int64) (restore func()) {
	if limit <= 0 {
		return func() {}
	}
	percent := debug.SetGCPercent(-1)
	old := debug.SetMemoryLimit(limit)
	return func() {
		debug.SetMemoryLimit(old)
		debug.SetGCPercent(percent)
	}
}
