package lab

import (
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The lab runs every viewer in one process, so the memory a thousand
// viewers fill in their first seconds is all touched for the first time
// at once: each new page is a page fault, about 13 us on the lab's VM,
// some 8 CPU seconds for the 1,000-viewer swarm, spent while the crowd
// joins (docs/BENCHMARKS.md, "Seventeenth session"). Viewers on machines
// of their own each touch a megabyte or two. So, as a server warms its
// heap before it takes traffic (the JVM's AlwaysPreTouch), the lab
// touches the heap the run will need before the stream starts
// (Config.Prefault), and measures the run's CPU from there.

// prefaultBlock is the size of the blocks prefault allocates.
const prefaultBlock = 1 << 20

// prefaultSize is how much heap to touch before a run of cfg:
// Config.Prefault, or heapEstimate, at most a quarter of the machine's
// memory.
func prefaultSize(cfg Config) int64 {
	if cfg.Prefault != 0 {
		return max(0, cfg.Prefault)
	}
	return min(heapEstimate(cfg), totalRAM()/4)
}

// heapEstimate is the heap a live run of cfg fills: per viewer, three
// windows of the stream (the window, and what the collector lets pile up
// before it frees chunks gone out of it) and 512 KiB for its connections.
func heapEstimate(cfg Config) int64 {
	window := cfg.Window
	if window <= 0 {
		window = 8 * time.Second // Peer.Window's default
		if cfg.Pull {
			window = 20 * time.Second
		}
	}
	perViewer := 3*int64(window.Seconds()*float64(cfg.Bitrate/8)) + 512<<10
	return int64(cfg.Peers) * perViewer
}

// totalRAM is the memory the process may use in bytes: the machine's, or
// its cgroup's limit if lower (cgroup v2 memory.max), or a gibibyte if
// unknown.
func totalRAM() int64 {
	var si syscall.Sysinfo_t
	if err := syscall.Sysinfo(&si); err != nil {
		return 1 << 30
	}
	n := int64(si.Totalram) * int64(si.Unit)
	if b, err := os.ReadFile("/sys/fs/cgroup/memory.max"); err == nil {
		if limit, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); err == nil && limit > 0 {
			n = min(n, limit) // "max" (no limit) does not parse
		}
	}
	return n
}

// prefault touches n bytes of fresh heap, one byte a page, and frees
// them: the pages stay with the process for the allocations that follow.
func prefault(n int64) {
	page := os.Getpagesize()
	blocks := make([][]byte, 0, n/prefaultBlock+1)
	for left := n; left > 0; left -= prefaultBlock {
		b := make([]byte, prefaultBlock)
		for i := 0; i < len(b); i += page {
			b[i] = 1
		}
		blocks = append(blocks, b)
	}
	clear(blocks)
	runtime.GC()
}
