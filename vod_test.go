package p2pstream_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/p2pstream/p2pstream"
	"github.com/p2pstream/p2pstream/internal/ts"
	"github.com/p2pstream/p2pstream/transport"
)

// randomFile writes n deterministic pseudo-random bytes to a temp file.
func randomFile(t testing.TB, n int) (string, []byte) {
	t.Helper()
	data := make([]byte, n)
	r := rand.NewChaCha8([32]byte{7})
	_, _ = r.Read(data)
	path := filepath.Join(t.TempDir(), "movie.ts")
	require.NoError(t, os.WriteFile(path, data, 0o644))
	return path, data
}

func TestVODSwarm(t *testing.T) {
	sw := newSwarm(t)
	path, data := randomFile(t, 32<<20)
	seeder, err := sw.peer().PublishFile(context.Background(), path, p2pstream.PublishOptions{})
	require.NoError(t, err)
	info := seeder.Info()
	assert.Equal(t, p2pstream.KindVOD, info.Kind)
	assert.Equal(t, int64(len(data)), info.Size)

	const peers = 5
	want := sha256.Sum256(data)
	results := make(chan error, peers)
	streams := make([]*p2pstream.Stream, peers)
	for i := range peers {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		s, err := sw.peer().Join(ctx, seeder.ID(), nil)
		cancel()
		require.NoError(t, err)
		streams[i] = s
		go func() {
			r, err := s.Reader()
			if err != nil {
				results <- err
				return
			}
			h := sha256.New()
			if _, err := io.Copy(h, r); err != nil {
				results <- err
				return
			}
			if got := [32]byte(h.Sum(nil)); got != want {
				results <- assert.AnError
				return
			}
			results <- nil
		}()
	}
	for range peers {
		select {
		case err := <-results:
			require.NoError(t, err)
		case <-time.After(60 * time.Second):
			t.Fatal("on-demand download did not finish in 60 s")
		}
	}
	var fromPeers int64
	for _, s := range streams {
		waitDone(t, s, 10*time.Second)
		st := s.Stats()
		assert.Equal(t, st.Chunks, st.Have)
		fromPeers += st.BytesFromPeers
	}
	t.Logf("seeder uploaded %.2f copies for %d peers; peers traded %.1f MiB",
		float64(seeder.Stats().BytesUp)/float64(len(data)), peers, float64(fromPeers)/(1<<20))
}

func TestVODSeek(t *testing.T) {
	sw := newSwarm(t)
	path, data := randomFile(t, 8<<20)
	seeder, err := sw.peer().PublishFile(context.Background(), path, p2pstream.PublishOptions{ChunkSize: 64 << 10})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := sw.peer().Join(ctx, seeder.ID(), nil)
	require.NoError(t, err)
	r, err := s.Reader()
	require.NoError(t, err)
	defer r.Close()

	for _, off := range []int64{5<<20 + 12345, 100, int64(len(data)) - 10, 3 << 20} {
		pos, err := r.Seek(off, io.SeekStart)
		require.NoError(t, err)
		require.Equal(t, off, pos)
		buf := make([]byte, 200_000)
		n, err := io.ReadFull(r, buf)
		if off+int64(len(buf)) > int64(len(data)) {
			require.ErrorIs(t, err, io.ErrUnexpectedEOF)
		} else {
			require.NoError(t, err)
		}
		require.Equal(t, data[off:off+int64(n)], buf[:n], "bytes at offset %d", off)
	}
	end, err := r.Seek(0, io.SeekEnd)
	require.NoError(t, err)
	require.Equal(t, int64(len(data)), end)
	_, err = r.Read(make([]byte, 1))
	require.ErrorIs(t, err, io.EOF)
}

func TestLiveReaderIsNotVOD(t *testing.T) {
	sw := newSwarm(t)
	pr, pw := io.Pipe()
	defer pw.Close()
	s, err := sw.peer().Publish(context.Background(), pr, p2pstream.PublishOptions{})
	require.NoError(t, err)
	_, err = s.Reader()
	require.ErrorIs(t, err, p2pstream.ErrNotVOD)
}

// TestUploadLimit checks a seeder's UploadLimit: bytes sent can only be
// fewer on a slow machine, so an upper bound on bytes per elapsed time is
// safe to assert.
func TestUploadLimit(t *testing.T) {
	sw := newSwarm(t)
	path, _ := randomFile(t, 4<<20)
	seederPeer := sw.peer()
	seederPeer.UploadLimit = 1 << 20 // 1 MiB/s
	seeder, err := seederPeer.PublishFile(context.Background(), path, p2pstream.PublishOptions{ChunkSize: 64 << 10})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	s, err := sw.peer().Join(ctx, seeder.ID(), nil)
	require.NoError(t, err)
	r, err := s.Reader()
	require.NoError(t, err)
	_, err = io.CopyN(io.Discard, r, 2<<20)
	require.NoError(t, err)
	elapsed := time.Since(start)
	up := seeder.Stats().BytesUp
	t.Logf("seeder sent %d bytes in %v (%.2f MiB/s, limit 1 MiB/s)", up, elapsed, float64(up)/elapsed.Seconds()/(1<<20))
	// The limiter allows a 64 KiB burst, and a chunk in flight may finish.
	assert.LessOrEqual(t, float64(up), elapsed.Seconds()*(1<<20)+2*64<<10)
	assert.GreaterOrEqual(t, elapsed, 1500*time.Millisecond, "2 MiB at 1 MiB/s takes at least ~2 s")
}

// An on-demand viewer keeps what it fetches in one file in
// Peer.DownloadDir, not in its heap; the file holds the published bytes once
// complete, and Close removes it.
func TestVODDownloadDir(t *testing.T) {
	sw := newSwarm(t)
	path, data := randomFile(t, 3<<20+1234)
	seeder, err := sw.peer().PublishFile(context.Background(), path, p2pstream.PublishOptions{ChunkSize: 256 << 10})
	require.NoError(t, err)

	dir := t.TempDir()
	viewer := sw.peer()
	viewer.DownloadDir = dir
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := viewer.Join(ctx, seeder.ID(), nil)
	require.NoError(t, err)
	r, err := s.Reader()
	require.NoError(t, err)
	got, err := io.ReadAll(r)
	require.NoError(t, err)
	require.Equal(t, sha256.Sum256(data), sha256.Sum256(got))

	// The download file has no name (but on Windows): nothing is left
	// behind even if the process dies.
	named := 0
	if runtime.GOOS == "windows" {
		named = 1
	}
	files, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, files, named)

	_, err = viewer.Join(ctx, seeder.ID(), nil)
	require.ErrorContains(t, err, "already open")
	files, err = os.ReadDir(dir)
	require.NoError(t, err)
	assert.Len(t, files, named, "a join that failed leaves no file")

	require.NoError(t, s.Close())
	files, err = os.ReadDir(dir)
	require.NoError(t, err)
	assert.Empty(t, files, "Close removes the download file")
}

// A download directory the viewer cannot write to fails the join at once.
func TestVODDownloadDirMissing(t *testing.T) {
	sw := newSwarm(t)
	path, _ := randomFile(t, 1<<20)
	seeder, err := sw.peer().PublishFile(context.Background(), path, p2pstream.PublishOptions{})
	require.NoError(t, err)
	viewer := sw.peer()
	viewer.DownloadDir = filepath.Join(t.TempDir(), "missing")
	_, err = viewer.Join(context.Background(), seeder.ID(), nil)
	require.ErrorContains(t, err, "download file")
	require.ErrorIs(t, err, os.ErrNotExist)
}

// TestServeHTTP: a viewer serves an on-demand stream over HTTP, whole and
// in ranges (a player seeking); a live stream is not served so.
func TestServeHTTP(t *testing.T) {
	sw := newSwarm(t)
	path, data := randomFile(t, 4<<20+1000)
	seeder, err := sw.peer().PublishFile(context.Background(), path, p2pstream.PublishOptions{ChunkSize: 256 << 10})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s, err := sw.peer().Join(ctx, seeder.ID(), nil)
	require.NoError(t, err)
	srv := httptest.NewServer(s)
	defer srv.Close()

	for _, tc := range []struct {
		rng    string
		status int
		want   []byte
	}{
		{"", http.StatusOK, data},
		{"bytes=-100", http.StatusPartialContent, data[len(data)-100:]},
		{"bytes=1000000-1300000", http.StatusPartialContent, data[1000000:1300001]},
	} {
		resp, body, err := httpGet(ctx, srv, tc.rng)
		require.NoError(t, err, tc.rng)
		assert.Equal(t, tc.status, resp.StatusCode, tc.rng)
		assert.Equal(t, "video/mp2t", resp.Header.Get("Content-Type"))
		assert.True(t, bytes.Equal(tc.want, body), "range %q: %d bytes, want %d", tc.rng, len(body), len(tc.want))
	}

	live, err := sw.peer().Publish(context.Background(), bytes.NewReader(ts.Synthetic(2*time.Second, 100_000, 250*time.Millisecond)), p2pstream.PublishOptions{ChunkDuration: 250 * time.Millisecond})
	require.NoError(t, err)
	lsrv := httptest.NewServer(live)
	defer lsrv.Close()
	resp, _, err := httpGet(ctx, lsrv, "")
	require.NoError(t, err)
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
}

// TestServeHTTPClientGone: a request for bytes that do not come (the only
// seeder left) ends when its client gives up, instead of holding a
// goroutine until the stream closes.
func TestServeHTTPClientGone(t *testing.T) {
	sw := newSwarm(t)
	path, _ := randomFile(t, 4<<20)
	host := sw.peer()
	// 256 KiB chunks at 64 KiB/s: the last chunk cannot have come before
	// the seeder leaves.
	host.Transport.(*transport.MemHost).SetUpload(64 << 10)
	// A name without an extension: the type is not guessed from the
	// file's first bytes, which will not come.
	seeder, err := host.PublishFile(context.Background(), path, p2pstream.PublishOptions{ChunkSize: 256 << 10, Name: "film"})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s, err := sw.peer().Join(ctx, seeder.ID(), nil)
	require.NoError(t, err)
	require.NoError(t, host.Close())
	srv := httptest.NewServer(s)
	defer srv.Close()

	// HEAD reads nothing, so it is answered without the bytes.
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, srv.URL+"/", nil)
	require.NoError(t, err)
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, int64(4<<20), resp.ContentLength)
	assert.Equal(t, "application/octet-stream", resp.Header.Get("Content-Type"))
	resp, err = srv.Client().Post(srv.URL+"/", "text/plain", nil)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)

	short, stop := context.WithTimeout(ctx, 300*time.Millisecond)
	defer stop()
	_, _, err = httpGet(short, srv, "bytes=-100")
	require.ErrorIs(t, err, context.DeadlineExceeded)
	done := make(chan struct{})
	go func() {
		srv.Close() // waits for the handler to return
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		s.Close() // lets the handler, and the test, end
		t.Fatal("the handler still waits for bytes its client gave up on")
	}
}

// httpGet fetches srv's root, with a Range header unless rng is empty.
func httpGet(ctx context.Context, srv *httptest.Server, rng string) (*http.Response, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/", nil)
	if err != nil {
		return nil, nil, err
	}
	if rng != "" {
		req.Header.Set("Range", rng)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp, body, err
}
