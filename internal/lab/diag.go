package lab

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
)

// diag counts the debug events of every viewer: why chunks missed their
// deadline, how many requests went to the source and to peers, and how many
// were rejected; and how old chunks were when viewers stored them. It is a
// slog.Handler shared by all viewers of a run.
type diag struct {
	mu     sync.Mutex
	counts map[string]int
	waits  map[string]time.Duration
	seens  map[string]time.Duration  // misses: since a neighbour first advertised the chunk
	missed map[int64]int             // misses per chunk seq
	ages   []time.Duration           // "chunk stored": time since the chunk was cut
	pushed []time.Duration           // ages of the chunks all of whose pieces came down the trees
	pulled []time.Duration           // ages of those with some pieces pulled
	bySeq  map[int64][]time.Duration // ages by chunk
	heads  []time.Duration           // "chunk head": time since the chunk was cut
	starts []time.Duration           // "play clock started": the first chunk's age
}

func newDiag() *diag {
	return &diag{counts: make(map[string]int), waits: make(map[string]time.Duration), seens: make(map[string]time.Duration), missed: make(map[int64]int), bySeq: make(map[int64][]time.Duration)}
}

func (d *diag) Enabled(context.Context, slog.Level) bool { return true }
func (d *diag) WithAttrs([]slog.Attr) slog.Handler       { return d }
func (d *diag) WithGroup(string) slog.Handler            { return d }

func (d *diag) Handle(_ context.Context, r slog.Record) error {
	if r.Message == "chunk stored" || r.Message == "chunk head" || r.Message == "play clock started" {
		var age time.Duration
		hasAge, seq, pulled := false, int64(-1), int64(-1)
		r.Attrs(func(a slog.Attr) bool {
			switch a.Key {
			case "age":
				age, hasAge = a.Value.Duration(), true
			case "seq":
				seq = seqValue(a.Value)
			case "pulled":
				pulled = a.Value.Int64()
			}
			return true
		})
		if !hasAge {
			return nil
		}
		d.mu.Lock()
		defer d.mu.Unlock()
		switch r.Message {
		case "chunk head":
			d.heads = append(d.heads, age)
			return nil
		case "play clock started":
			d.starts = append(d.starts, age)
			return nil
		}
		d.ages = append(d.ages, age)
		switch {
		case pulled == 0:
			d.pushed = append(d.pushed, age)
		case pulled > 0:
			d.pulled = append(d.pulled, age)
		}
		if seq >= 0 {
			d.bySeq[seq] = append(d.bySeq[seq], age)
		}
		return nil
	}
	key := r.Message
	var wait, seen time.Duration
	seq := int64(-1)
	r.Attrs(func(a slog.Attr) bool {
		switch a.Key {
		case "reason":
			key += ": " + a.Value.String()
		case "err":
			// Counted by kind: "piece N of chunk N", not each chunk.
			key += ": " + digits.ReplaceAllString(a.Value.String(), "N")
		case "source":
			if a.Value.Bool() {
				key += " (source)"
			}
		case "requested":
			wait = a.Value.Duration()
		case "seen":
			seen = a.Value.Duration()
		case "seq":
			seq = seqValue(a.Value)
		}
		return true
	})
	d.mu.Lock()
	d.counts[key]++
	d.waits[key] += wait
	d.seens[key] += seen
	if strings.HasPrefix(key, "deadline missed") && seq >= 0 {
		d.missed[seq]++
	}
	d.mu.Unlock()
	return nil
}

// sourceTrees counts the source's tree events ("source: tree ...") in a
// diag; its other events would read as the viewers'.
type sourceTrees struct{ d *diag }

func (h sourceTrees) Enabled(context.Context, slog.Level) bool { return true }
func (h sourceTrees) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h sourceTrees) WithGroup(string) slog.Handler            { return h }

func (h sourceTrees) Handle(_ context.Context, r slog.Record) error {
	if strings.HasPrefix(r.Message, "tree ") {
		h.d.mu.Lock()
		h.d.counts["source: "+r.Message]++
		h.d.mu.Unlock()
	}
	return nil
}

// seqValue returns a seq attribute's value, logged signed or unsigned.
func seqValue(v slog.Value) int64 {
	switch v.Kind() {
	case slog.KindUint64:
		return int64(v.Uint64())
	case slog.KindInt64:
		return v.Int64()
	}
	return -1
}

var digits = regexp.MustCompile(`[0-9]+`)

// String lists the counts, most frequent first.
func (d *diag) String() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	keys := slices.SortedFunc(maps.Keys(d.counts), func(a, b string) int { return d.counts[b] - d.counts[a] })
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%8d  %s", d.counts[k], k)
		if w := d.waits[k]; w > 0 {
			fmt.Fprintf(&b, " (mean wait %v)", (w / time.Duration(d.counts[k])).Round(time.Millisecond))
		}
		if w := d.seens[k]; w > 0 {
			fmt.Fprintf(&b, " (advertised %v before)", (w / time.Duration(d.counts[k])).Round(time.Millisecond))
		}
		b.WriteByte('\n')
	}
	if len(d.missed) > 0 {
		// A few chunks missed by many viewers point at a chunk that spread
		// slowly; misses spread thin, at viewers short of peers.
		seqs := slices.SortedFunc(maps.Keys(d.missed), func(a, b int64) int { return d.missed[b] - d.missed[a] })
		b.WriteString("chunks missed by the most viewers (seq: viewers):")
		for _, q := range seqs[:min(8, len(seqs))] {
			fmt.Fprintf(&b, " %d: %d", q, d.missed[q])
		}
		fmt.Fprintf(&b, "; %d chunks missed by any\n", len(seqs))
	}
	writeAges(&b, "first chunks (their first bytes) handed to the sink", d.starts)
	writeAges(&b, "chunk heads received by viewers", d.heads)
	writeAges(&b, "chunks stored by viewers", d.ages)
	if len(d.pulled) > 0 && len(d.pushed) > 0 {
		// The trees: chunks that came down them whole, and those that
		// needed pieces pulled (joins, repairs).
		writeAges(&b, "  of them, all pieces down the trees", d.pushed)
		writeAges(&b, "  of them, some pieces pulled", d.pulled)
	}
	if len(d.bySeq) > 0 {
		// Growing ages: the swarm spreads chunks slower than they come.
		b.WriteString("chunk age at p50 when stored, by seq:")
		for _, seq := range slices.Sorted(maps.Keys(d.bySeq)) {
			fmt.Fprintf(&b, " %d:%.1fs", seq, percentile(d.bySeq[seq], 0.5).Seconds())
		}
		b.WriteString("\n")
	}
	return b.String()
}

// writeAges writes a line of how many ages there are and their
// percentiles, if there are any.
func writeAges(b *strings.Builder, what string, ages []time.Duration) {
	if len(ages) == 0 {
		return
	}
	fmt.Fprintf(b, "%s: %d, age since cut p50 %v, p95 %v, p99 %v\n", what, len(ages),
		percentile(ages, 0.5).Round(time.Millisecond), percentile(ages, 0.95).Round(time.Millisecond), percentile(ages, 0.99).Round(time.Millisecond))
}
