package p2pstream

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/p2pstream/p2pstream/internal/wire"
)

// fullDisk is a download file that can be read but no longer written.
type fullDisk struct{ io.ReaderAt }

func (fullDisk) WriteAt([]byte, int64) (int, error) { return 0, syscall.ENOSPC }

// TestDownloadWriteFails: an on-demand viewer whose download file cannot be
// written stops (Err, Done), its readers return the error instead of
// waiting forever, and it asks for nothing more; the peer that sent the
// chunk is not blamed.
func TestDownloadWriteFails(t *testing.T) {
	data := bytes.Repeat([]byte("p2pstream"), 1000)
	m, err := NewManifest("film", bytes.NewReader(data), 4096)
	require.NoError(t, err)
	p := &Peer{ctx: context.Background()}
	s := newStream(p, m.Info(), nil, false)
	s.st = newDownloadStore(m, fullDisk{bytes.NewReader(nil)})
	c := testConn(1)
	c.s = s
	c.has[0], c.has[1] = struct{}{}, struct{}{}
	s.conns[c.id] = c
	c.inflight[0] = time.Now()
	s.pending[0] = c

	r, err := s.Reader()
	require.NoError(t, err)
	read := make(chan error, 1)
	go func() {
		_, err := r.Read(make([]byte, 10))
		read <- err
	}()

	require.NoError(t, s.receive(c, &wire.Chunk{Seq: 0, Data: data[:4096]}), "the sender is not at fault")
	require.ErrorIs(t, s.Err(), syscall.ENOSPC)
	select {
	case <-s.Done():
	default:
		t.Fatal("Done not closed")
	}
	select {
	case err := <-read:
		assert.ErrorIs(t, err, syscall.ENOSPC)
	case <-time.After(5 * time.Second):
		t.Fatal("the reader still waits")
	}
	assert.False(t, s.st.has(0))
	assert.False(t, c.closed(), "not banned")
	drain(c)
	s.mu.Lock()
	s.scheduleLocked(time.Now())
	s.mu.Unlock()
	assert.Empty(t, drain(c), "no more requests")
}

// brokenDisk is a download file that can no longer be read.
type brokenDisk struct{}

func (brokenDisk) ReadAt([]byte, int64) (int, error)      { return 0, syscall.EIO }
func (brokenDisk) WriteAt(p []byte, _ int64) (int, error) { return len(p), nil }

// TestDownloadReadFails: a chunk the download file cannot give back stops
// the stream (Err) instead of leaving its sink waiting without a word.
func TestDownloadReadFails(t *testing.T) {
	data := bytes.Repeat([]byte("p2pstream"), 1000)
	m, err := NewManifest("film", bytes.NewReader(data), 4096)
	require.NoError(t, err)
	s := newStream(&Peer{ctx: context.Background()}, m.Info(), SinkFunc(func(Chunk) error { return nil }), false)
	s.st = newDownloadStore(m, brokenDisk{})
	assert.False(t, s.deliverNext())
	assert.NoError(t, s.Err(), "nothing held yet: nothing to read")
	s.st.put(Chunk{Seq: 0})
	assert.False(t, s.deliverNext())
	assert.ErrorContains(t, s.Err(), "download file")
}

// TestDownloadFile: a viewer's download file keeps what is written to it,
// and leaves nothing in its directory once closed, whether its name was
// removed at once (Unix) or only on Close (Windows).
func TestDownloadFile(t *testing.T) {
	for _, keepName := range []bool{false, true} {
		t.Run(fmt.Sprintf("named=%v", keepName), func(t *testing.T) {
			dir := t.TempDir()
			d, err := createDownload(dir, StreamID{1})
			require.NoError(t, err)
			if keepName { // as on Windows, where an open file cannot be removed
				require.NoError(t, d.File.Close())
				f, err := os.CreateTemp(dir, "p2pstream-*.part")
				require.NoError(t, err)
				d = &download{File: f, named: true}
			}
			named := 0 // the name is gone at once where the system allows it
			if d.named {
				named = 1 // Windows, or the case made above
			}
			files, err := os.ReadDir(dir)
			require.NoError(t, err)
			assert.Len(t, files, named)

			_, err = d.WriteAt([]byte("chunk"), 1<<20)
			require.NoError(t, err)
			got := make([]byte, 5)
			_, err = d.ReadAt(got, 1<<20)
			require.NoError(t, err)
			assert.Equal(t, "chunk", string(got))

			require.NoError(t, d.Close())
			files, err = os.ReadDir(dir)
			require.NoError(t, err)
			assert.Empty(t, files)
		})
	}
}

// TestVODReaderBeforeSink: an on-demand viewer with a sink (a file being
// written) fetches the chunks after a reader's position first while the
// reader reads (a player seeking), and the sink's next ones otherwise.
func TestVODReaderBeforeSink(t *testing.T) {
	data := bytes.Repeat([]byte("p2pstream"), 10000)
	m, err := NewManifest("film", bytes.NewReader(data), 4096)
	require.NoError(t, err)
	for _, tc := range []struct {
		name   string
		readAt time.Time
		first  uint64
	}{
		{"reader active", time.Now(), 10},
		{"reader idle", time.Now().Add(-time.Minute), 0},
		{"no reader", time.Time{}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStream(&Peer{ctx: context.Background()}, m.Info(), WriterSink(nopWriteCloser{io.Discard}), false)
			s.st = newDownloadStore(m, brokenDisk{})
			s.readPos, s.readAt = 10, tc.readAt
			s.mu.Lock()
			wanted := s.wantedVODLocked()
			s.mu.Unlock()
			require.NotEmpty(t, wanted)
			assert.Equal(t, tc.first, wanted[0])
		})
	}
}

type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }
