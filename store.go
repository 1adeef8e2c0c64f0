package p2pstream

import (
	"fmt"
	"io"
)

// store holds a stream's verified chunks. A live store keeps a sliding window
// of the newest chunks; an on-demand store keeps every chunk, and a seeder's
// store reads its chunks from the published file. Guarded by Stream.mu.
type store struct {
	window uint64 // live: chunks kept; 0 for on demand
	chunks map[uint64]Chunk
	newest uint64 // live: highest seq stored, valid if len(chunks) > 0
	oldest uint64 // live: lowest seq that may be stored

	manifest *Manifest   // on demand
	file     io.ReaderAt // on demand at the seeder: chunks come from here
}

func newLiveStore(window int) *store {
	return &store{window: uint64(window), chunks: make(map[uint64]Chunk)}
}

func newVODStore(m *Manifest, file io.ReaderAt) *store {
	return &store{manifest: m, file: file, chunks: make(map[uint64]Chunk)}
}

func (st *store) live() bool { return st.manifest == nil }

// len returns how many chunks are held.
func (st *store) len() int {
	if st.file != nil {
		return st.manifest.Chunks()
	}
	return len(st.chunks)
}

// complete reports whether an on-demand store holds every chunk.
func (st *store) complete() bool { return !st.live() && st.len() == st.manifest.Chunks() }

func (st *store) has(seq uint64) bool {
	if st.file != nil {
		return seq < uint64(st.manifest.Chunks())
	}
	_, ok := st.chunks[seq]
	return ok
}

// get returns chunk seq. A seeder reads it from its file; ReadAt is safe for
// concurrent use, so callers may call get on a seeder's store without the lock.
func (st *store) get(seq uint64) (Chunk, bool) {
	if st.file != nil {
		off, n, ok := st.section(seq)
		if !ok {
			return Chunk{}, false
		}
		data := make([]byte, n)
		if _, err := st.file.ReadAt(data, off); err != nil {
			return Chunk{}, false
		}
		return Chunk{Seq: seq, Data: data}, true
	}
	c, ok := st.chunks[seq]
	return c, ok
}

// section returns where chunk seq lies in a seeder's file.
func (st *store) section(seq uint64) (off int64, n int, ok bool) {
	if seq >= uint64(st.manifest.Chunks()) {
		return 0, 0, false
	}
	return int64(seq) * int64(st.manifest.ChunkSize), st.manifest.chunkLen(seq), true
}

// inWindow reports whether a live chunk seq is new enough to keep.
func (st *store) inWindow(seq uint64) bool {
	if !st.live() {
		return seq < uint64(st.manifest.Chunks())
	}
	return seq >= st.oldest && (len(st.chunks) == 0 || seq+st.window > st.newest)
}

// put stores c and, for a live stream, drops chunks that fell out of the window.
func (st *store) put(c Chunk) {
	st.chunks[c.Seq] = c
	if !st.live() {
		return
	}
	if len(st.chunks) == 1 || c.Seq > st.newest {
		st.newest = c.Seq
	}
	if st.newest >= st.window && st.oldest <= st.newest-st.window {
		st.oldest = st.newest - st.window + 1
		for seq := range st.chunks { // at most window+1 entries
			if seq < st.oldest {
				delete(st.chunks, seq)
			}
		}
	}
}

// bounds returns the range [lo, hi) of seqs a buffer map should cover.
func (st *store) bounds() (lo, hi uint64) {
	if !st.live() {
		return 0, uint64(st.manifest.Chunks())
	}
	if len(st.chunks) == 0 {
		return 0, 0
	}
	lo = st.oldest
	if st.newest+1-lo > st.window {
		lo = st.newest + 1 - st.window
	}
	return lo, st.newest + 1
}

func (st *store) String() string {
	lo, hi := st.bounds()
	return fmt.Sprintf("store[%d..%d) holds %d", lo, hi, st.len())
}
