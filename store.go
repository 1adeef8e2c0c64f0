package p2pstream

import (
	"errors"
	"fmt"
	"io"
	"os"
)

// store holds a stream's verified chunks. A live store keeps a sliding window
// of the newest chunks in memory. An on-demand store keeps every chunk in a
// file: the published file at a seeder, a download file at a viewer
// (Peer.DownloadDir), so a viewer of a long film holds it on disk, not in
// its heap. Guarded by Stream.mu, except that file may be read (ReadAt) and
// a verified chunk written to it (write) without the lock.
type store struct {
	window uint64 // live: chunks kept; 0 for on demand
	chunks map[uint64]Chunk
	newest uint64 // live: highest seq stored, valid if len(chunks) > 0
	oldest uint64 // live: lowest seq that may be stored

	manifest *Manifest   // on demand
	file     io.ReaderAt // on demand: the chunks are read from here
	out      io.WriterAt // on demand at a viewer: verified chunks are written here (the same file)
	held     []bool      // on demand at a viewer: the chunks written to file; nil at a seeder (all)
	nheld    int
}

func newLiveStore(window int) *store {
	return &store{window: uint64(window), chunks: make(map[uint64]Chunk)}
}

// newVODStore returns the store of a seeder, whose file holds every chunk.
func newVODStore(m *Manifest, file io.ReaderAt) *store {
	return &store{manifest: m, file: file}
}

// newDownloadStore returns the store of an on-demand viewer, which writes
// the chunks it verifies into f.
func newDownloadStore(m *Manifest, f interface {
	io.ReaderAt
	io.WriterAt
}) *store {
	return &store{manifest: m, file: f, out: f, held: make([]bool, m.Chunks())}
}

func (st *store) live() bool { return st.manifest == nil }

// len returns how many chunks are held.
func (st *store) len() int {
	switch {
	case st.live():
		return len(st.chunks)
	case st.held != nil:
		return st.nheld
	}
	return st.manifest.Chunks()
}

// complete reports whether an on-demand store holds every chunk.
func (st *store) complete() bool { return !st.live() && st.len() == st.manifest.Chunks() }

func (st *store) has(seq uint64) bool {
	if st.live() {
		_, ok := st.chunks[seq]
		return ok
	}
	return seq < uint64(st.manifest.Chunks()) && (st.held == nil || st.held[seq])
}

// get returns live chunk seq. An on-demand store's chunks lie in its file
// (readOnDemandChunk, or section for the writers).
func (st *store) get(seq uint64) (Chunk, bool) {
	c, ok := st.chunks[seq] // nil map on demand: not found
	return c, ok
}

// readOnDemandChunk reads held on-demand chunk seq from the file into a
// new buffer (a sink may keep it). It needs no lock: a held chunk's bytes
// never change.
func (st *store) readOnDemandChunk(seq uint64) (Chunk, error) {
	off, n, _ := st.section(seq)
	data := make([]byte, n)
	if _, err := st.file.ReadAt(data, off); err != nil {
		return Chunk{}, fmt.Errorf("p2pstream: chunk %d could not be read back from the download file: %w", seq, err)
	}
	return Chunk{Seq: seq, Data: data}, nil
}

// write writes a verified on-demand chunk into a viewer's file, before put
// records it. It needs no lock: chunks lie apart, and two copies of one
// chunk are the same bytes. A live store (or a seeder's) writes nothing.
func (st *store) write(c Chunk) error {
	if st.out == nil {
		return nil
	}
	off, n, ok := st.section(c.Seq)
	if !ok || n != len(c.Data) {
		return fmt.Errorf("p2pstream: chunk %d of %d bytes does not fit the manifest", c.Seq, len(c.Data))
	}
	if _, err := st.out.WriteAt(c.Data, off); err != nil {
		return fmt.Errorf("p2pstream: keeping chunk %d: %w", c.Seq, err)
	}
	return nil
}

// section returns where chunk seq lies in an on-demand file, held or not.
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
// On demand the chunk is in the file already (write); put records it.
func (st *store) put(c Chunk) {
	if !st.live() {
		if st.held != nil && !st.held[c.Seq] {
			st.held[c.Seq] = true
			st.nheld++
		}
		return
	}
	st.chunks[c.Seq] = c
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

// download is a viewer's download file (see createDownload).
type download struct {
	*os.File
	named bool // its name could not be removed while it is open
}

// createDownload makes a viewer's download file for on-demand stream id in
// dir, and removes its name at once where the system allows it (not on
// Windows): the open file keeps its data, and the system frees it when the
// file is closed, even if the process dies first, so no stale download is
// ever left behind. Elsewhere Close removes it.
func createDownload(dir string, id StreamID) (*download, error) {
	f, err := os.CreateTemp(dir, "p2pstream-"+id.Short()+"-*.part")
	if err != nil {
		return nil, err
	}
	return &download{File: f, named: os.Remove(f.Name()) != nil}, nil
}

// Close closes the download file, and removes it if it still has a name.
func (d *download) Close() error {
	err := d.File.Close()
	if d.named {
		err = errors.Join(err, os.Remove(d.Name()))
	}
	return err
}
